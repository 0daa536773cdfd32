/**
 * Byte content of the synthetic corpus: layer blobs, image configs, manifests and indexes exactly as
 * a Docker/OCI client pushes them, with real sha256 digests and sizes. Pure functions.
 */
import { createHash } from 'node:crypto';
import { createRng, hashInts } from './prng.js';
import type { ImageFlavor, Platform } from './synthetic-plan.js';
import { STREAM } from './synthetic-plan.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  cosignSig: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
} as const;

export interface Descriptor {
  readonly mediaType: string;
  readonly size: number;
  readonly digest: string;
}

export interface Blob {
  readonly bytes: Buffer;
  /** Lowercase hex sha256 of `bytes`. */
  readonly hex: string;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function toBlob(content: string | Buffer): Blob {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return { bytes, hex: sha256Hex(bytes) };
}

export function descriptorOf(mediaType: string, blob: Blob): Descriptor {
  return { mediaType, size: blob.bytes.length, digest: `sha256:${blob.hex}` };
}

/** The OCI empty JSON blob `{}` (config of artifacts such as signatures). */
export const EMPTY_JSON: Blob = toBlob('{}');

/** Layer blob number `i`: a short header plus 200-2,000 pseudo-random bytes, distinct for every i. */
export function layerBlob(seed: number, i: number): Blob {
  const rng = createRng(seed, STREAM.layerBytes, i);
  const filler = rng.bytes(200 + rng.int(1800));
  return toBlob(Buffer.concat([Buffer.from(`regdb synthetic layer ${i} seed ${seed}\n`), filler]));
}

const EPOCH_2024 = Date.UTC(2024, 0, 1) / 1000;

/** A deterministic RFC 3339 time within 2024, derived from the values given. */
export function createdAt(...key: number[]): string {
  const seconds = EPOCH_2024 + (hashInts(...key) % (366 * 86400));
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export interface ImageConfigInput {
  readonly repository: string;
  /** Distinguishes builds: manifest ordinal in the repository plus a revision counter. */
  readonly build: string;
  readonly created: string;
  readonly platform: Platform;
  readonly layerDigests: readonly string[];
}

/** An image configuration as `docker build` writes it (compact JSON, keys sorted). */
export function imageConfig(input: ImageConfigInput): Blob {
  const diffIds = input.layerDigests.map((d) => `sha256:${sha256Hex(Buffer.from(`diff ${d}`))}`);
  const config = {
    architecture: input.platform.architecture,
    config: {
      Cmd: ['/usr/local/bin/app', '--serve'],
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `APP_NAME=${input.repository}`,
        `APP_BUILD=${input.build}`,
      ],
      Labels: {
        'org.opencontainers.image.source': `https://example.test/${input.repository}`,
        'org.opencontainers.image.revision': sha256Hex(
          Buffer.from(`${input.repository} ${input.build}`),
        ).slice(0, 40),
      },
      WorkingDir: '/srv',
    },
    created: input.created,
    history: input.layerDigests.map((_, k) => ({
      created: input.created,
      created_by: `/bin/sh -c #(nop) step ${k + 1} of ${input.repository} build ${input.build}`,
    })),
    os: input.platform.os,
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(input.platform.variant !== undefined ? { variant: input.platform.variant } : {}),
  };
  return toBlob(JSON.stringify(config));
}

/**
 * An image manifest. Docker clients write schema 2 manifests indented with three spaces; OCI
 * manifests from buildkit are compact. Either way the stored bytes are what the digest covers.
 */
export function imageManifest(
  flavor: ImageFlavor,
  config: Descriptor,
  layers: readonly Descriptor[],
  extra?: { artifactType?: string; subject?: Descriptor; annotations?: Record<string, string> },
): Blob {
  if (flavor === 'docker') {
    return toBlob(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config, layers }, null, 3),
    );
  }
  return toBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      ...(extra?.artifactType !== undefined ? { artifactType: extra.artifactType } : {}),
      config,
      layers,
      ...(extra?.subject !== undefined ? { subject: extra.subject } : {}),
      ...(extra?.annotations !== undefined ? { annotations: extra.annotations } : {}),
    }),
  );
}

export interface IndexChild {
  readonly manifest: Descriptor;
  readonly platform: Platform;
}

/** A Docker manifest list or an OCI image index over platform-specific children. */
export function imageIndex(flavor: ImageFlavor, children: readonly IndexChild[]): Blob {
  const manifests = children.map((c) => ({ ...c.manifest, platform: c.platform }));
  if (flavor === 'docker') {
    return toBlob(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests }, null, 3));
  }
  return toBlob(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
}

/** The payload of a cosign-style signature over `subject` in `repository`. */
export function signaturePayload(repository: string, subject: Descriptor): Blob {
  return toBlob(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': `registry.example.test/${repository}` },
        image: { 'docker-manifest-digest': subject.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

/** Storage paths relative to the tree root (spec §1.1). */
export const layout = {
  blobData: (hex: string): string => `docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`,
  repository: (repo: string): string => `docker/registry/v2/repositories/${repo}`,
  revisionLink: (repo: string, hex: string): string =>
    `docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${hex}/link`,
  tagCurrentLink: (repo: string, tag: string): string =>
    `docker/registry/v2/repositories/${repo}/_manifests/tags/${tag}/current/link`,
  tagIndexLink: (repo: string, tag: string, hex: string): string =>
    `docker/registry/v2/repositories/${repo}/_manifests/tags/${tag}/index/sha256/${hex}/link`,
  layerLink: (repo: string, hex: string): string =>
    `docker/registry/v2/repositories/${repo}/_layers/sha256/${hex}/link`,
  upload: (repo: string, id: string, file: string): string =>
    `docker/registry/v2/repositories/${repo}/_uploads/${id}/${file}`,
};

/** Link file content: the digest with no trailing newline (spec §1.2). */
export function linkContent(hex: string): string {
  return `sha256:${hex}`;
}
