/**
 * `--tag-timestamps storage` (issue 14 §5): a tag's created_at and updated_at from the last-modified
 * time of its `current/link`, which the registry rewrites on every push of the tag. S3 and GCS
 * listings carry that time (no extra request); the filesystem driver reads it with one lstat of the
 * listed file, only when this option asks. GitLab's importer (the default) stamps the import time.
 */
import { tagLinkFile, type TagEntry } from '../registry/repositories.js';

export type TagTimestamps = 'import' | 'storage';

export const TAG_TIMESTAMP_CHOICES: readonly TagTimestamps[] = ['import', 'storage'];

/** `{ pushedAt }` when asked for and the listing knows the time; `{}` otherwise. */
export function tagPushedAt(tag: TagEntry, fromStorage: boolean | undefined): { pushedAt?: Date } {
  if (!fromStorage) return {};
  const t = tagLinkFile(tag)?.modTime;
  return t instanceof Date && !Number.isNaN(t.getTime()) ? { pushedAt: t } : {};
}
