/**
 * Small registry trees for the fuzzer: a few repositories laid out as the `distribution` registry
 * writes them (spec §1.1-1.6), each with its own blobs (so damage to one repository's files cannot
 * change another's rows): a config, two layers, a Docker schema 2 image, an OCI image and an OCI
 * index of both, tagged `latest`, `oci` and `v1.0`. Contents vary with the seed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Rng } from './rng.js';

export const V2 = 'docker/registry/v2';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const sha256hex = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');

export interface BlobFile {
  readonly hex: string;
  readonly bytes: Buffer;
}

export interface TreeRepository {
  readonly name: string;
  /** Path below the root, e.g. `docker/registry/v2/repositories/fz/a`. */
  readonly dir: string;
  readonly config: BlobFile;
  readonly layers: readonly BlobFile[];
  readonly docker: BlobFile;
  readonly oci: BlobFile;
  readonly index: BlobFile;
  /** Tag name -> manifest hex. */
  readonly tags: ReadonlyMap<string, string>;
}

export interface Tree {
  readonly root: string;
  readonly repositories: readonly TreeRepository[];
}

export function blobDataFile(hex: string): string {
  return `${V2}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

function blob(content: string | Buffer): BlobFile {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { hex: sha256hex(bytes), bytes };
}

function descriptor(mediaType: string, b: BlobFile): { mediaType: string; size: number; digest: string } {
  return { mediaType, size: b.bytes.length, digest: `sha256:${b.hex}` };
}

/** Writes a tree of `names.length` repositories under `root` (which must exist). */
export function writeTree(root: string, rng: Rng, names: readonly string[]): Tree {
  const put = (rel: string, content: string | Buffer): void => {
    const file = join(root, rel);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  const repositories: TreeRepository[] = [];
  for (const name of names) {
    const salt = `${name} ${rng.int(1_000_000)}`;
    const config = blob(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt }),
    );
    const layers = [0, 1].map((i) =>
      blob(Buffer.concat([Buffer.from(`${salt} layer ${i} `), rng.bytes(8 + rng.int(64))])),
    );
    const docker = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.dockerManifest,
        config: descriptor(MT.dockerConfig, config),
        layers: layers.map((l) => descriptor(MT.dockerLayer, l)),
      }),
    );
    const oci = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: descriptor(MT.ociConfig, config),
        layers: [descriptor(MT.ociLayer, layers[1]!)],
        annotations: { salt },
      }),
    );
    const index = blob(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [
          { ...descriptor(MT.dockerManifest, docker), platform: { architecture: 'amd64', os: 'linux' } },
          { ...descriptor(MT.ociManifest, oci), platform: { architecture: 'arm64', os: 'linux' } },
        ],
      }),
    );
    const dir = `${V2}/repositories/${name}`;
    for (const b of [config, ...layers, docker, oci, index]) put(blobDataFile(b.hex), b.bytes);
    for (const b of [config, ...layers]) put(`${dir}/_layers/sha256/${b.hex}/link`, `sha256:${b.hex}`);
    for (const b of [docker, oci, index])
      put(`${dir}/_manifests/revisions/sha256/${b.hex}/link`, `sha256:${b.hex}`);
    const tags = new Map([
      ['latest', docker.hex],
      ['oci', oci.hex],
      ['v1.0', index.hex],
    ]);
    for (const [tag, hex] of tags) {
      put(`${dir}/_manifests/tags/${tag}/current/link`, `sha256:${hex}`);
      put(`${dir}/_manifests/tags/${tag}/index/sha256/${hex}/link`, `sha256:${hex}`);
    }
    repositories.push({ name, dir, config, layers, docker, oci, index, tags });
  }
  return { root, repositories };
}
