/**
 * `--dangling-manifests` (issue 14 §4): every revision of the repository that no tag reaches is
 * imported too, with its layers and references, so a pull by digest keeps working after cutover.
 * GitLab's importer has this as an option of its library (spec §2.1: not reachable from its CLI);
 * by default both leave untagged manifests out (spec §1.9). Imported in digest order; a referrer's
 * subject is resolved once every manifest is known (RepositoryRowBuilder.finish), so it needs no
 * ordering of its own. Not counted in the statistics, which count tags and tagged manifests.
 */
import { parseDigest } from '../registry/digest.js';
import type { RepositoryRowBuilder } from './manifest-rows.js';
import type { RepositoryFacts } from './types.js';

export function importDangling(b: RepositoryRowBuilder, facts: RepositoryFacts): void {
  for (const key of facts.untagged) {
    const parsed = parseDigest(key);
    if (parsed.ok && !b.has(parsed.digest)) b.importTop(parsed.digest);
  }
}
