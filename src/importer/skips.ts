/**
 * Skip reasons: every condition spec §1.9 lists, named once. `gitlabFatal` marks the ones GitLab's
 * importer fails the whole run on; regdb skips and counts them (issue 5 §2) unless `--strict`.
 */
import type { DigestFault } from '../registry/digest.js';
import type { ManifestSkipReason } from '../registry/manifest.js';
import { repositoryOfPath } from '../registry/repositories.js';
import type { SkipRecord } from './types.js';

export const SKIP_REASONS = {
  'repository-name-invalid': { fatal: true, text: 'repository name fails the reference grammar' },
  'tag-link-missing': { fatal: false, text: 'missing tag link' },
  'tag-link-broken': { fatal: false, text: 'broken tag link' },
  'tag-link-invalid-length': { fatal: true, text: 'tag link digest has a wrong length' },
  'tag-name-too-long': { fatal: true, text: 'tag name longer than 255 characters' },
  'sha384-digest': { fatal: true, text: 'sha384 digests cannot be stored' },
  'manifest-unknown-revision': { fatal: false, text: 'unknown manifest revision' },
  'manifest-link-broken': { fatal: false, text: 'broken manifest link' },
  'manifest-link-invalid-length': { fatal: true, text: 'manifest link digest has a wrong length' },
  'manifest-too-large': { fatal: true, text: 'manifest larger than 4 MiB' },
  'manifest-empty': { fatal: false, text: 'empty manifest payload' },
  'manifest-unparsable': { fatal: true, text: 'manifest payload is not JSON' },
  'manifest-invalid': { fatal: true, text: 'manifest JSON has the wrong shape' },
  schema1: { fatal: false, text: 'schema 1 manifest' },
  'unknown-schema-version': { fatal: false, text: 'unknown manifest schema version' },
  'unknown-media-type': { fatal: true, text: 'unrecognized manifest media type' },
  'buildx-unexpected-manifests': { fatal: true, text: 'buildkit index with manifest references' },
  'nested-index': { fatal: true, text: 'manifest list inside a manifest list' },
  'config-not-linked': { fatal: false, text: 'configuration blob not linked' },
  'config-link-broken': { fatal: false, text: 'broken configuration link' },
  'config-link-invalid-length': { fatal: true, text: 'configuration digest has a wrong length' },
  'config-media-type-unknown': {
    fatal: true,
    text: 'unknown configuration media type (dynamic media types off)',
  },
  'media-type-invalid': { fatal: true, text: 'media type violates the media_types checks' },
  'layer-not-linked': { fatal: false, text: 'layer blob not linked to the repository (layer skipped)' },
  'layer-link-broken': { fatal: false, text: 'broken layer link' },
  'layer-link-invalid-length': { fatal: true, text: 'layer digest has a wrong length' },
  'list-child-skipped': { fatal: false, text: 'a manifest list child was skipped, so the list was' },
  'storage-entry-unreadable': {
    fatal: true,
    text: 'storage entry cannot be read (permission, symlink loop or outside the root, not a regular file, name not UTF-8)',
  },
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;

/** The skip reason for a bad digest or link, by where it was found. */
export function digestFaultReason(
  fault: DigestFault,
  where: 'tag-link' | 'manifest-link' | 'config-link' | 'layer-link',
): SkipReason {
  switch (fault) {
    case 'invalid-length':
      return `${where}-invalid-length`;
    case 'sha384-unstorable':
      return 'sha384-digest';
    case 'empty':
    case 'invalid-format':
    case 'unsupported-algorithm':
      return `${where}-broken`;
  }
}

/** Manifest parse results map one to one onto skip reasons. */
export function parseSkipReason(reason: ManifestSkipReason): SkipReason {
  return reason;
}

/** One storage entry the driver could not read or name: skipped alone, reported with its path. */
export function unreadableSkip(path: string, reason: string): SkipRecord {
  return {
    reason: 'storage-entry-unreadable',
    path,
    repository: repositoryOfPath(path) ?? '',
    message: `${reason}, skipped`,
    gitlabFatal: SKIP_REASONS['storage-entry-unreadable'].fatal,
  };
}
