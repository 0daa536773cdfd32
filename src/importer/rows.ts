/**
 * Row building for one repository (pure): storage facts in, typed rows and skip records out,
 * following spec §2.2 (step one), §2.3 (step two) and the §1.9 quirk matrix, with regdb's
 * deliberate improvements (issue 5 §2): nothing fatal about one bad item, and referrers survive.
 */
import { formatDigest, parseDigest, type Digest } from '../registry/digest.js';
import { checkRepositoryName, topLevelNamespace } from '../registry/names.js';
import { repositoryPath, tagCurrentLinkPath } from '../registry/paths.js';
import { importDangling } from './dangling.js';
import { RepositoryRowBuilder, type BuilderOptions } from './manifest-rows.js';
import { digestFaultReason, SKIP_REASONS } from './skips.js';
import { Step, type RepositoryStep, type TagRow } from '../db/import-rows.js';
import type { RepositoryFacts, RepositoryResult, SkipRecord } from './types.js';

export interface BuildOptions extends BuilderOptions {
  readonly step: RepositoryStep;
  /** Client clock for `last_published_at` (spec §2.2 step 7). */
  readonly now: Date;
  /** `--dangling-manifests` (issue 14 §4). */
  readonly danglingManifests?: boolean;
}

/** Tags longer than this violate `tags.name`'s CHECK (spec §1.9). */
const TAG_NAME_MAX = 255;

export function buildRepositoryRows(facts: RepositoryFacts, opts: BuildOptions): RepositoryResult {
  const name = checkRepositoryName(facts.path);
  if (!name.ok) {
    const skip: SkipRecord = {
      reason: 'repository-name-invalid',
      path: repositoryPath(facts.path),
      repository: facts.path,
      message: `parsing repository name: ${name.message}`,
      gitlabFatal: SKIP_REASONS['repository-name-invalid'].fatal,
    };
    return { ok: false, skips: [skip], countsAsRepository: opts.step === Step.allRepositories };
  }

  const b = new RepositoryRowBuilder(facts, opts);
  const tags: TagRow[] = [];
  const outcome = new Map<string, SkipRecord | null>();
  const countedManifests = new Set<string>();
  let tagCount = 0;

  for (const tag of facts.tags) {
    const digest = resolveTag(b, facts, tag);
    if (digest === null) continue;
    const key = formatDigest(digest);
    if (opts.step === Step.allRepositories) {
      if (!b.has(digest)) {
        const first = !outcome.has(key);
        const skipped = memo(outcome, key, () => b.importTop(digest));
        if (skipped !== null) {
          noteTag(b, skipped, tag.name, first);
          continue;
        }
      }
      if ([...tag.name].length > TAG_NAME_MAX) {
        b.skip('tag-name-too-long', tagCurrentLinkPath(facts.path, tag.name), 'creating tag: name too long', {
          tag: tag.name.slice(0, 300),
          digest: key,
        });
        continue;
      }
      tags.push({
        name: tag.name,
        manifestDigest: digest,
        ...(tag.pushedAt ? { pushedAt: tag.pushedAt } : {}),
      });
      tagCount++;
      countedManifests.add(key);
    } else {
      // Step one: each manifest once per repository; a skipped one is retried by the next tag (§2.2).
      if (countedManifests.has(key)) continue;
      const first = !outcome.has(key);
      const skipped = memo(outcome, key, () => b.importTop(digest));
      if (skipped !== null) {
        noteTag(b, skipped, tag.name, first);
        continue;
      }
      countedManifests.add(key);
      tagCount++;
    }
  }

  if (opts.danglingManifests) importDangling(b, facts);
  else if (opts.referrers) importReferrers(b, facts);

  const rows = {
    namespace: topLevelNamespace(facts.path),
    path: facts.path,
    name: facts.path.slice(facts.path.lastIndexOf('/') + 1),
    lastPublishedAt: opts.step === Step.preImport ? opts.now : null,
    blobs: b.blobs,
    repositoryBlobs: b.repositoryBlobs,
    manifests: b.finish(),
    layers: b.layers,
    references: b.references,
    tags: opts.step === Step.allRepositories ? tags : null,
    counts: { repositories: 1, tags: tagCount, manifests: countedManifests.size },
  };
  return { ok: true, rows, skips: b.skips };
}

/** The tag's manifest digest, or null after recording why the tag is skipped (§1.4, §1.9). */
function resolveTag(
  b: RepositoryRowBuilder,
  facts: RepositoryFacts,
  tag: RepositoryFacts['tags'][number],
): Digest | null {
  const path = tagCurrentLinkPath(facts.path, tag.name);
  if (tag.link === null) {
    b.skip('tag-link-missing', path, 'missing tag link, skipping', { tag: tag.name });
    return null;
  }
  if (!tag.link.ok) {
    b.skip(
      digestFaultReason(tag.link.reason, 'tag-link'),
      path,
      `broken tag link, skipping: ${tag.link.message}`,
      {
        tag: tag.name,
      },
    );
    return null;
  }
  return tag.link.digest;
}

/** Import once per digest; later tags reuse the outcome (the rows would be identical). */
function memo(
  outcome: Map<string, SkipRecord | null>,
  key: string,
  run: () => SkipRecord | null,
): SkipRecord | null {
  const known = outcome.get(key);
  if (known !== undefined) return known;
  const result = run();
  outcome.set(key, result);
  return result;
}

/** Name the tag on the manifest's skip record; a later tag to the same manifest gets its own record. */
function noteTag(b: RepositoryRowBuilder, skipped: SkipRecord, tag: string, first: boolean): void {
  const at = b.skips.lastIndexOf(skipped);
  if (first && at >= 0) b.skips[at] = { ...skipped, tag };
  else b.skips.push({ ...skipped, tag });
}

/**
 * Untagged manifests whose `subject` is imported in this repository are imported too (regdb; GitLab
 * drops them). Repeats until nothing changes, so a signature of an SBOM of an image survives.
 */
function importReferrers(b: RepositoryRowBuilder, facts: RepositoryFacts): void {
  const pending = new Set(facts.untagged);
  let progress = true;
  while (progress && pending.size > 0) {
    progress = false;
    for (const key of pending) {
      const f = facts.manifests.get(key);
      if (f === undefined || f.kind !== 'payload' || !f.parsed.ok) {
        pending.delete(key);
        continue;
      }
      const subject = f.parsed.manifest.subject;
      if (subject === null) {
        pending.delete(key);
        continue;
      }
      if (!hasDigest(b, subject.digest)) continue;
      pending.delete(key);
      progress = true;
      const digest = digestOf(key);
      if (digest !== null && !b.has(digest)) b.importTop(digest);
    }
  }
}

function hasDigest(b: RepositoryRowBuilder, value: string): boolean {
  const d = digestOf(value);
  return d !== null && b.has(d);
}

function digestOf(value: string): Digest | null {
  const parsed = parseDigest(value);
  return parsed.ok ? parsed.digest : null;
}
