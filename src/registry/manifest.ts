/**
 * Manifest payload parsing (spec §1.5 steps 5-6, §2.5-2.8): classify a payload, pull out the
 * config, layers, list entries, `subject` and `artifactType`, and compute `total_size`.
 *
 * Pure: bytes in, a tagged result out. Bad input never throws; it yields `{ ok: false, reason }`
 * (GitLab fails the whole import on several of these; regdb skips and counts, issue 5 §2).
 * Digests stay strings here: they are validated where the access checks happen (row building).
 */
import { goJsonIndent, type GoJsonValue } from './go-json.js';
import { compareBytewise } from './paths.js';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  buildxCacheConfig: 'application/vnd.buildkit.cacheconfig.v0',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  octetStream: 'application/octet-stream',
} as const;

/** Media types `compat.References` sorts into "manifests" (spec §2.8); everything else is a blob. */
const KNOWN_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MT.dockerManifest,
  MT.dockerList,
  MT.ociManifest,
  MT.schema1Signed,
  MT.schema1,
]);

/** Config payloads above this size are neither read nor access-checked (spec §2.6 step 2). */
export const CONFIG_SIZE_LIMIT = 256_000;
/** Manifest blobs are read with this cap (spec §1.5 step 3). */
export const MANIFEST_SIZE_LIMIT = 4 << 20;

export interface Descriptor {
  /** '' when absent. */
  readonly mediaType: string;
  /** As written in the JSON ('' when absent); validated later. */
  readonly digest: string;
  readonly size: bigint;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageManifest {
  readonly kind: 'image';
  /** Media type stored in `manifests.media_type_id` (empty OCI mediaType becomes the OCI type). */
  readonly mediaType: string;
  readonly schemaVersion: number;
  readonly config: Descriptor;
  /** Every layer, in order, duplicates kept (they all count in total_size). */
  readonly layers: readonly Descriptor[];
  /** Layers that get rows (§2.6.1): foreign / non-distributable ones removed. */
  readonly distributableLayers: readonly Descriptor[];
  readonly totalSize: bigint;
  /** True only for a buildx cache index imported as an OCI manifest (§2.8). */
  readonly nonConformant: boolean;
  readonly subject: Descriptor | null;
  readonly artifactType: string | null;
}

export interface ManifestList {
  readonly kind: 'list';
  readonly mediaType: string;
  readonly schemaVersion: number;
  readonly manifests: readonly Descriptor[];
  readonly subject: Descriptor | null;
  readonly artifactType: string | null;
}

export type ParsedManifest = ImageManifest | ManifestList;

export type ManifestSkipReason =
  | 'manifest-empty'
  | 'manifest-unparsable'
  | 'manifest-invalid'
  | 'schema1'
  | 'unknown-schema-version'
  | 'unknown-media-type'
  | 'buildx-unexpected-manifests';

export type ParseResult =
  | { readonly ok: true; readonly manifest: ParsedManifest }
  | { readonly ok: false; readonly reason: ManifestSkipReason; readonly detail: string };

class Invalid extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: false });

function skip(reason: ManifestSkipReason, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/** Parse and classify one manifest payload (the raw bytes read from the blob store). */
export function parseManifest(payload: Uint8Array): ParseResult {
  if (payload.length === 0) return skip('manifest-empty', 'empty manifest payload');
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(payload));
  } catch (err) {
    return skip('manifest-unparsable', `failed to unmarshal manifest payload: ${(err as Error).message}`);
  }
  try {
    return classify(doc, payload.length);
  } catch (err) {
    if (err instanceof Invalid) return skip('manifest-invalid', err.message);
    throw err;
  }
}

function classify(doc: unknown, payloadLength: number): ParseResult {
  // Go unmarshals into {schemaVersion int, mediaType string}; a JSON null gives the zero value.
  if (doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new Invalid('manifest payload is not a JSON object');
  }
  const obj = (doc ?? {}) as Record<string, unknown>;
  const schemaVersion = optInt(obj.schemaVersion, 'schemaVersion');
  const mediaType = optString(obj.mediaType, 'mediaType');
  if (schemaVersion === 1) return skip('schema1', 'schema 1 manifests are not supported');
  if (schemaVersion !== 2) {
    return skip('unknown-schema-version', `unrecognized manifest schema version ${schemaVersion}`);
  }
  switch (mediaType) {
    case MT.dockerManifest:
    case MT.ociManifest:
      return { ok: true, manifest: image(obj, mediaType, schemaVersion, payloadLength) };
    case MT.dockerList:
    case MT.ociIndex:
      return listOrBuildx(obj, mediaType, schemaVersion);
    case '':
      // A non-null `manifests` key makes it an index, even an empty array (§1.5 step 6).
      if (obj.manifests !== undefined && obj.manifests !== null) {
        return listOrBuildx(obj, MT.ociIndex, schemaVersion);
      }
      return { ok: true, manifest: image(obj, MT.ociManifest, schemaVersion, payloadLength) };
    default:
      return skip('unknown-media-type', `unrecognized manifest content type ${mediaType}`);
  }
}

function image(
  obj: Record<string, unknown>,
  mediaType: string,
  schemaVersion: number,
  sizeOfPayload: number,
): ImageManifest {
  const config = descriptor(obj.config, 'config') ?? emptyDescriptor();
  const layers = descriptorArray(obj.layers, 'layers');
  const oci = mediaType === MT.ociManifest;
  return {
    kind: 'image',
    mediaType,
    schemaVersion,
    config,
    layers,
    distributableLayers: layers.filter((l) => isDistributable(l.mediaType, oci)),
    totalSize: int64(sumSizes(layers) + config.size + BigInt(sizeOfPayload)),
    nonConformant: false,
    subject: oci ? descriptor(obj.subject, 'subject') : null,
    artifactType: oci ? optString(obj.artifactType, 'artifactType') || null : null,
  };
}

function listOrBuildx(obj: Record<string, unknown>, mediaType: string, schemaVersion: number): ParseResult {
  const manifests = descriptorArray(obj.manifests, 'manifests');
  const blobs = manifests.filter((d) => !KNOWN_MANIFEST_TYPES.has(d.mediaType));
  if (blobs.some((d) => d.mediaType === MT.buildxCacheConfig)) {
    if (blobs.length !== manifests.length) {
      return skip(
        'buildx-unexpected-manifests',
        'converting buildkit index to manifest: buildkit index has unexpected manifest references',
      );
    }
    return { ok: true, manifest: buildx(blobs, schemaVersion) };
  }
  return {
    ok: true,
    manifest: {
      kind: 'list',
      mediaType,
      schemaVersion,
      manifests,
      subject: descriptor(obj.subject, 'subject'),
      artifactType: optString(obj.artifactType, 'artifactType') || null,
    },
  };
}

/**
 * A buildx cache index becomes a synthetic OCI manifest (§2.8): the (last) cacheconfig reference is
 * the config, every other blob reference a layer. Its `total_size` counts the length of the JSON Go
 * would produce for that synthetic manifest, not the stored payload.
 */
function buildx(blobs: readonly Descriptor[], schemaVersion: number): ImageManifest {
  let config: Descriptor = emptyDescriptor();
  const layers: Descriptor[] = [];
  for (const d of blobs) {
    if (d.mediaType === MT.buildxCacheConfig) config = d;
    else layers.push(d);
  }
  const synthetic = syntheticBuildxJson(config, layers);
  return {
    kind: 'image',
    mediaType: MT.ociManifest,
    schemaVersion,
    config,
    layers,
    distributableLayers: layers.filter((l) => isDistributable(l.mediaType, true)),
    totalSize: int64(sumSizes(layers) + config.size + BigInt(Buffer.byteLength(synthetic, 'utf8'))),
    nonConformant: true,
    subject: null,
    artifactType: null,
  };
}

/**
 * The bytes of Go's `json.MarshalIndent(ocischema.Manifest{…}, "", "   ")` for a buildx conversion:
 * fields in struct order (schemaVersion, mediaType, config, layers), omitempty descriptor fields,
 * a nil layer slice as `null`, map keys sorted, Go's string escaping.
 */
export function syntheticBuildxJson(config: Descriptor, layers: readonly Descriptor[]): string {
  const value: GoJsonValue = {
    kind: 'object',
    fields: [
      ['schemaVersion', { kind: 'raw', text: '2' }],
      ['mediaType', MT.ociManifest],
      ['config', descriptorToGo(config)],
      ['layers', layers.length === 0 ? null : { kind: 'array', items: layers.map(descriptorToGo) }],
    ],
  };
  return goJsonIndent(value, '   ');
}

function descriptorToGo(d: Descriptor): GoJsonValue {
  const fields: [string, GoJsonValue][] = [];
  if (d.mediaType !== '') fields.push(['mediaType', d.mediaType]);
  if (d.size !== 0n) fields.push(['size', { kind: 'raw', text: d.size.toString() }]);
  if (d.digest !== '') fields.push(['digest', d.digest]);
  if (d.urls && d.urls.length > 0) fields.push(['urls', { kind: 'array', items: [...d.urls] }]);
  if (d.annotations && Object.keys(d.annotations).length > 0) {
    // Go sorts map keys by their UTF-8 bytes.
    const keys = Object.keys(d.annotations).sort(compareBytewise);
    fields.push([
      'annotations',
      { kind: 'object', fields: keys.map((k): [string, GoJsonValue] => [k, d.annotations![k]!]) },
    ]);
  }
  return { kind: 'object', fields };
}

/** §2.6.1: Docker excludes foreign layers; OCI excludes the two non-distributable types (not +zstd). */
export function isDistributable(mediaType: string, oci: boolean): boolean {
  if (oci) return mediaType !== MT.ociNonDistributable && mediaType !== MT.ociNonDistributableGzip;
  return mediaType !== MT.dockerForeignLayer;
}

function sumSizes(ds: readonly Descriptor[]): bigint {
  let total = 0n;
  for (const d of ds) total += d.size;
  return total;
}

const INT64_MAX = (1n << 63n) - 1n;

/** `total_size` is a PostgreSQL bigint: a sum beyond int64 makes the manifest invalid, not the run fail. */
function int64(total: bigint): bigint {
  if (total > INT64_MAX || total < -INT64_MAX - 1n) {
    throw new Invalid(`manifest sizes sum to ${total}, beyond the 64-bit range of total_size`);
  }
  return total;
}

function emptyDescriptor(): Descriptor {
  return { mediaType: '', digest: '', size: 0n };
}

function descriptorArray(v: unknown, key: string): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new Invalid(`manifest key "${key}" is not an array`);
  return v.map((item, i) => descriptor(item, `${key}[${i}]`) ?? emptyDescriptor());
}

function descriptor(v: unknown, key: string): Descriptor | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Invalid(`manifest key "${key}" is not an object`);
  const o = v as Record<string, unknown>;
  const d: { -readonly [K in keyof Descriptor]: Descriptor[K] } = {
    mediaType: optString(o.mediaType, `${key}.mediaType`),
    digest: optString(o.digest, `${key}.digest`),
    size: optSize(o.size, `${key}.size`),
  };
  if (o.urls !== undefined && o.urls !== null) {
    if (!Array.isArray(o.urls) || o.urls.some((u) => typeof u !== 'string' && u !== null)) {
      throw new Invalid(`manifest key "${key}.urls" is not an array of strings`);
    }
    d.urls = o.urls.map((u) => (u === null ? '' : (u as string)));
  }
  if (o.annotations !== undefined && o.annotations !== null) {
    if (typeof o.annotations !== 'object' || Array.isArray(o.annotations)) {
      throw new Invalid(`manifest key "${key}.annotations" is not an object`);
    }
    const ann: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, val] of Object.entries(o.annotations as Record<string, unknown>)) {
      if (val !== null && typeof val !== 'string') {
        throw new Invalid(`manifest key "${key}.annotations.${k}" is not a string`);
      }
      ann[k] = val ?? '';
    }
    d.annotations = ann;
  }
  return d;
}

function optString(v: unknown, key: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new Invalid(`manifest key "${key}" is not a string`);
  return v;
}

function optInt(v: unknown, key: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Invalid(`manifest key "${key}" is not an integer`);
  return v;
}

/** Sizes are int64 in Go; beyond 2^53 JSON.parse has already lost digits, so refuse them. */
function optSize(v: unknown, key: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new Invalid(`manifest key "${key}" is not an integer size`);
  }
  return BigInt(v);
}
