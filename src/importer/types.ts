/**
 * What the import pipeline reads from storage for one repository (facts), what it skipped, and the
 * outcome of building rows. The rows themselves are the database side's input contract
 * (src/db/import-rows.ts).
 */
import type { DigestParseResult } from '../registry/digest.js';
import type { ParseResult } from '../registry/manifest.js';
import type { RepositoryProblem } from '../registry/repositories.js';
import type { RepositoryRows } from '../db/import-rows.js';

/** A link file as read: null when it does not exist, else its parsed content. */
export type LinkFact = DigestParseResult | null;

/** Fetching a manifest by digest in a repository (spec §1.5). */
export type ManifestFetch =
  /** Revision link or blob data missing (ErrManifestUnknownRevision). */
  | { readonly kind: 'missing' }
  /** The revision link content is not a valid digest. */
  | { readonly kind: 'broken-link'; readonly link: Extract<DigestParseResult, { ok: false }> }
  /** The blob is larger than the 4 MiB cap. */
  | { readonly kind: 'too-large' }
  | { readonly kind: 'payload'; readonly payload: Buffer; readonly parsed: ParseResult };

/** Reading a config blob through the repository's `_layers` access check (spec §1.6). */
export type ConfigFetch =
  | { readonly kind: 'missing' }
  | { readonly kind: 'broken-link'; readonly link: Extract<DigestParseResult, { ok: false }> }
  | { readonly kind: 'payload'; readonly payload: Buffer };

/** A layer's access check: its `_layers` link and the existence of the blob data. */
export type LayerAccess =
  | { readonly kind: 'ok' }
  | { readonly kind: 'missing' }
  | { readonly kind: 'broken-link'; readonly link: Extract<DigestParseResult, { ok: false }> };

/** Everything read from storage for one repository, as the row builder needs it. */
export interface RepositoryFacts {
  /** Repository path (name), e.g. `group/sub/image`. */
  readonly path: string;
  /** Tags in bytewise order with their `current/link` (null: missing); empty without `_manifests/tags`. */
  readonly tags: readonly { readonly name: string; readonly link: LinkFact; readonly pushedAt?: Date }[];
  /** Manifests fetched, by `formatDigest` string (tagged ones, list children, referrer candidates). */
  readonly manifests: ReadonlyMap<string, ManifestFetch>;
  /** Config reads, by digest string (only configs <= 256,000 bytes are read). */
  readonly configs: ReadonlyMap<string, ConfigFetch>;
  /** Layer access checks, by digest string. */
  readonly layers: ReadonlyMap<string, LayerAccess>;
  /** Untagged revisions to consider as referrers (digest strings), in bytewise order. */
  readonly untagged: readonly string[];
  /** Manifest digests this repository already has in the database (step two looks them up first). */
  readonly existingManifests: ReadonlySet<string>;
  /** Oddities that did not stop anything (trailing whitespace in a link, a revision link naming another blob). */
  readonly warnings?: readonly SkipRecord[];
  /** Link paths naming no digest, found when `_layers` was listed here and not by the walk (logged). */
  readonly problems?: readonly RepositoryProblem[];
}

/** Why an item was not imported. `gitlabFatal`: GitLab's importer fails the whole run here. */
export interface SkipRecord {
  readonly reason: string;
  /** Storage path of the item (link, blob or repository directory). */
  readonly path: string;
  readonly repository: string;
  readonly digest?: string;
  readonly tag?: string;
  readonly message: string;
  readonly gitlabFatal: boolean;
}

export type RepositoryResult =
  | { readonly ok: true; readonly rows: RepositoryRows; readonly skips: readonly SkipRecord[] }
  /** The repository itself is skipped (invalid name); counts per GitLab step-two rules. */
  | { readonly ok: false; readonly skips: readonly SkipRecord[]; readonly countsAsRepository: boolean };

/** Counters of import_statistics (spec §2.14), per step. */
export interface StepCounts {
  repositories: number;
  tags: number;
  manifests: number;
}
