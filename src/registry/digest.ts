/**
 * Digest and link-file parsing (spec §1.2) and the database digest encoding.
 *
 * The classification follows go-digest v1.0.0 `Digest.Validate` exactly, so the importer can say what
 * GitLab would have done (`goError`), while `reason` carries regdb's own verdict: GitLab makes wrong
 * hex lengths, trailing newlines and sha384 fatal; regdb reports the item and goes on.
 */

/** The algorithms a digest can be stored with (spec §1.2: the bytea prefix exists for these only). */
export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  /** Lowercase hex, 64 (sha256) or 128 (sha512) characters. */
  readonly hex: string;
}

/** Why a string is not a storable digest. */
export type DigestFault =
  /** No content at all (or whitespace only, for links). */
  | 'empty'
  /** go-digest ErrDigestInvalidFormat: no `:`, nothing after it, or hex not lowercase [a-f0-9]. */
  | 'invalid-format'
  /** go-digest ErrDigestUnsupported: a well-formed digest of an algorithm other than sha256/384/512. */
  | 'unsupported-algorithm'
  /** go-digest ErrDigestInvalidLength: hex length is not 64/96/128 for its algorithm. */
  | 'invalid-length'
  /** A valid sha384 digest: go-digest accepts it, but the database encoding has no prefix for it. */
  | 'sha384-unstorable';

/** The go-digest v1.0.0 error GitLab would get; null when go-digest accepts the value (sha384). */
export type GoDigestError = 'ErrDigestInvalidFormat' | 'ErrDigestUnsupported' | 'ErrDigestInvalidLength';

export type DigestParseResult =
  | {
      readonly ok: true;
      readonly digest: Digest;
      /** Set when the value was accepted only after dropping trailing whitespace (links only). */
      readonly warning?: string;
    }
  | {
      readonly ok: false;
      readonly reason: DigestFault;
      readonly goError: GoDigestError | null;
      readonly message: string;
    };

/** Hex length by algorithm, for every algorithm go-digest knows. */
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** go-digest `DigestRegexpAnchored`: decides "unsupported" versus "invalid format" for unknown algorithms. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const LOWER_HEX = /^[a-f0-9]+$/;
/** Trailing whitespace regdb tolerates in a link file (a newline from `echo`, a stray space). */
const TRAILING_WHITESPACE = /[ \t\r\n\v\f]+$/;

const GO_MESSAGES: Readonly<Record<GoDigestError, string>> = {
  ErrDigestInvalidFormat: 'invalid checksum digest format',
  ErrDigestUnsupported: 'unsupported digest algorithm',
  ErrDigestInvalidLength: 'invalid checksum digest length',
};

function fault(reason: DigestFault, goError: GoDigestError | null, value: string): DigestParseResult {
  const what = goError === null ? 'sha384 digests cannot be stored in the database' : GO_MESSAGES[goError];
  return { ok: false, reason, goError, message: `${what}: ${quote(value)}` };
}

/** Quote a value for a one-line message: JSON escapes show newlines, and long values are cut. */
function quote(value: string): string {
  return JSON.stringify(value.length > 150 ? `${value.slice(0, 150)}...` : value);
}

/**
 * Parse a digest string strictly, as go-digest `Parse` does (no trimming). Used for digests that
 * come from manifest JSON and paths.
 */
export function parseDigest(value: string): DigestParseResult {
  if (value.length === 0) return fault('empty', 'ErrDigestInvalidFormat', value);
  const colon = value.indexOf(':');
  if (colon <= 0 || colon + 1 === value.length)
    return fault('invalid-format', 'ErrDigestInvalidFormat', value);
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const expected = HEX_LENGTH[algorithm];
  if (expected === undefined) {
    return DIGEST_GRAMMAR.test(value)
      ? fault('unsupported-algorithm', 'ErrDigestUnsupported', value)
      : fault('invalid-format', 'ErrDigestInvalidFormat', value);
  }
  // go-digest checks the length before the character set, so "sha256:<64 hex>\n" is a length error.
  if (hex.length !== expected) return fault('invalid-length', 'ErrDigestInvalidLength', value);
  if (!LOWER_HEX.test(hex)) return fault('invalid-format', 'ErrDigestInvalidFormat', value);
  if (algorithm === 'sha384') return fault('sha384-unstorable', null, value);
  return { ok: true, digest: { algorithm: algorithm as DigestAlgorithm, hex } };
}

/**
 * Parse the content of a link file (spec §1.2). The bytes are read as latin1 so lengths count bytes,
 * as Go does. When the content is invalid only because of trailing whitespace, the trimmed digest is
 * accepted with a `warning` (GitLab fails on such a link: length error for a newline after a full
 * digest). Any other fault is reported with go-digest's classification of the untrimmed content.
 */
export function parseLink(content: Buffer | string): DigestParseResult {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  const strict = parseDigest(text);
  if (strict.ok) return strict;
  const trimmed = text.replace(TRAILING_WHITESPACE, '');
  if (trimmed.length === 0) {
    const what = text.length === 0 ? 'the link is empty' : `the link holds only whitespace ${quote(text)}`;
    return { ok: false, reason: 'empty', goError: 'ErrDigestInvalidFormat', message: what };
  }
  if (trimmed === text) return strict;
  const relaxed = parseDigest(trimmed);
  if (relaxed.ok) {
    return {
      ok: true,
      digest: relaxed.digest,
      warning: `link has trailing whitespace ${quote(text.slice(trimmed.length))} after the digest (GitLab: ${strict.message})`,
    };
  }
  // sha384 plus a newline: regdb's reason is the algorithm; GitLab's error stays the length one.
  if (relaxed.reason === 'sha384-unstorable') {
    return { ok: false, reason: relaxed.reason, goError: strict.goError, message: relaxed.message };
  }
  return strict;
}

/** `sha256:<hex>` form. */
export function formatDigest(digest: Digest): string {
  return `${digest.algorithm}:${digest.hex}`;
}

/** Database prefix bytes (spec §1.2, GitLab `registry/datastore/digest.go`). */
const BYTEA_PREFIX: Readonly<Record<DigestAlgorithm, number>> = { sha256: 0x01, sha512: 0x02 };

/** Encode a digest as GitLab stores it: one prefix byte, then the raw hash bytes. */
export function digestToBytea(digest: Digest): Buffer {
  const expected = HEX_LENGTH[digest.algorithm];
  if (digest.hex.length !== expected || !LOWER_HEX.test(digest.hex)) {
    throw new Error(`Cannot encode digest ${quote(formatDigest(digest))}: the hex part is not valid.`);
  }
  const out = Buffer.allocUnsafe(1 + expected / 2);
  out[0] = BYTEA_PREFIX[digest.algorithm];
  out.write(digest.hex, 1, 'hex');
  return out;
}

/** Decode a `bytea` digest from the database. Throws on an unknown prefix or wrong length. */
export function byteaToDigest(value: Buffer): Digest {
  const prefix = value[0];
  const algorithm: DigestAlgorithm | undefined =
    prefix === 0x01 ? 'sha256' : prefix === 0x02 ? 'sha512' : undefined;
  if (algorithm === undefined) {
    const shown =
      prefix === undefined ? 'an empty value' : `prefix byte 0x${prefix.toString(16).padStart(2, '0')}`;
    throw new Error(
      `Cannot decode a database digest with ${shown}: only 0x01 (sha256) and 0x02 (sha512) exist.`,
    );
  }
  const hex = value.subarray(1).toString('hex');
  if (hex.length !== HEX_LENGTH[algorithm]) {
    throw new Error(`Cannot decode a database ${algorithm} digest of ${value.length - 1} hash bytes.`);
  }
  return { algorithm, hex };
}
