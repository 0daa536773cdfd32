/**
 * Link files verified from the listing, without reading them. A well-formed link holds exactly
 * `<alg>:<hex>` (spec §1.2), so when an object store's listing reports the content MD5 of a link
 * (FileInfo.md5) and it equals the MD5 of the digest string the link should hold, the link holds
 * exactly that string (short of an MD5 second preimage of a fixed string): reading it would give that
 * digest, with no warning. Any other MD5, or none, proves nothing: the link is read as before.
 */
import { hash } from 'node:crypto';
import { parseDigest, type Digest } from './digest.js';

/**
 * Link MD5s computed lately, by digest string: the same digests come back (a layer shared by many
 * repositories, a tag's current link and its index entry). Emptied when full, so it stays small.
 */
const recentMd5s = new Map<string, string>();
const RECENT_MD5S = 20_000;

/** MD5 (lowercase hex) of the bytes of a well-formed link to `digest` (a `<alg>:<hex>` string). */
export function linkContentMd5(digest: string): string {
  let md5 = recentMd5s.get(digest);
  if (md5 === undefined) {
    // A digest string is ASCII: its UTF-8 bytes are the link's bytes.
    md5 = hash('md5', digest, 'hex');
    if (recentMd5s.size >= RECENT_MD5S) recentMd5s.clear();
    recentMd5s.set(digest, md5);
  }
  return md5;
}

/** Does the listing's MD5 prove that the link holds exactly `digest` (a `<alg>:<hex>` string)? */
export function listingProvesLink(md5: string | undefined, digest: string): boolean {
  return md5 !== undefined && md5 === linkContentMd5(digest);
}

/**
 * The digest a tag's `current/link` provably holds: the one candidate from the tag's history whose
 * link MD5 equals the listed MD5 of `current/link`; undefined when none (or, impossibly short of an
 * MD5 collision, several) match, and the link must be read.
 */
export function tagDigestFromListing(listing: {
  readonly md5: string;
  readonly history: readonly string[];
}): Digest | undefined {
  let found: string | undefined;
  for (const candidate of listing.history) {
    if (!listingProvesLink(listing.md5, candidate)) continue;
    if (found !== undefined && found !== candidate) return undefined;
    found = candidate;
  }
  if (found === undefined) return undefined;
  const parsed = parseDigest(found);
  return parsed.ok ? parsed.digest : undefined;
}
