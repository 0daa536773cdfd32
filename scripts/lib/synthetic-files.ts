/**
 * Turns a corpus plan into the files a `distribution` registry would have written (spec §1.1), as a
 * stream of { path, data } values: pure and deterministic, the writer does the I/O.
 */
import { createRng } from './prng.js';
import {
  EMPTY_JSON,
  MEDIA,
  createdAt,
  descriptorOf,
  imageConfig,
  imageIndex,
  imageManifest,
  layerBlob,
  layout,
  linkContent,
  signaturePayload,
  type Blob,
  type Descriptor,
  type IndexChild,
} from './synthetic-content.js';
import {
  STREAM,
  layerCount,
  type CorpusPlan,
  type ImageFlavor,
  type Platform,
  type RepositoryPlan,
} from './synthetic-plan.js';

/**
 * What a file is, so callers can tell the files an import reads (links other than tag history,
 * manifest and config blobs) from those it only stats or never opens (layer blobs, tag history, uploads).
 */
export type FileRole =
  | 'layer-blob'
  | 'config-blob'
  | 'manifest-blob'
  | 'revision-link'
  | 'tag-link'
  | 'tag-history-link'
  | 'layer-link'
  | 'upload';

export interface CorpusFile {
  /** Relative to the tree root, '/'-separated. */
  readonly path: string;
  readonly data: Buffer | string;
  readonly role: FileRole;
}

export interface CorpusCounts {
  repositories: number;
  topLevelNamespaces: number;
  tags: number;
  /** Manifests that tags point at (each counted once per repository). */
  taggedManifests: number;
  imageManifests: number;
  indexes: number;
  indexChildren: number;
  /** Layer descriptors of imported image manifests: equals params.layerRefs. */
  layerRefs: number;
  layerBlobs: number;
  configs: number;
  referrers: number;
  untaggedOldRevisions: number;
}

const PLATFORM_AMD64: Platform = { architecture: 'amd64', os: 'linux' };
const UPLOAD_EVERY = 97;

function shuffledRange(n: number, seed: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const rng = createRng(seed, STREAM.layerPick, -1);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

/** The files of a whole corpus; returns the counts when exhausted. */
export function* corpusFiles(plan: CorpusPlan): Generator<CorpusFile, CorpusCounts> {
  const { params } = plan;
  const S = params.sharedLayers;
  const counts: CorpusCounts = {
    repositories: plan.repositories.length,
    topLevelNamespaces: new Set(plan.repositories.map((r) => r.path.split('/')[0])).size,
    tags: 0,
    taggedManifests: 0,
    imageManifests: 0,
    indexes: 0,
    indexChildren: 0,
    layerRefs: 0,
    layerBlobs: S,
    configs: 0,
    referrers: 0,
    untaggedOldRevisions: 0,
  };

  const layers: Descriptor[] = [];
  for (let i = 0; i < S; i++) {
    const blob = layerBlob(params.seed, i);
    layers.push(descriptorOf(MEDIA.dockerLayer, blob));
    yield { path: layout.blobData(blob.hex), data: blob.bytes, role: 'layer-blob' };
  }
  yield { path: layout.blobData(EMPTY_JSON.hex), data: EMPTY_JSON.bytes, role: 'config-blob' };

  // Every shared layer is referenced once (in a shuffled order) before popular ones repeat.
  const firstUse = S > 0 ? shuffledRange(S, params.seed) : new Uint32Array(0);
  const pickRng = createRng(params.seed, STREAM.layerPick, 0);
  let refNo = 0;
  let countedNo = 0;
  const pickLayers = (n: number): number[] => {
    const chosen: number[] = [];
    for (let k = 0; k < n; k++) {
      let idx = refNo < S ? firstUse[refNo]! : Math.floor(S * pickRng.next() ** 2);
      refNo++;
      // Distinct layers within one manifest whenever the pool allows it.
      for (let probe = 0; probe < S && chosen.includes(idx) && n <= S; probe++) idx = (idx + 1) % S;
      chosen.push(idx);
    }
    return chosen;
  };

  for (const repo of plan.repositories) {
    const gen = repositoryFiles(repo, params.seed, layers, () => {
      const n = layerCount(params, plan.countedImages, countedNo++);
      counts.layerRefs += n;
      return pickLayers(n);
    });
    let step = gen.next();
    while (step.done !== true) {
      yield step.value;
      step = gen.next();
    }
    const c = step.value;
    counts.tags += c.tags;
    counts.taggedManifests += c.taggedManifests;
    counts.imageManifests += c.imageManifests;
    counts.indexes += c.indexes;
    counts.indexChildren += c.indexChildren;
    counts.configs += c.configs;
    counts.referrers += c.referrers;
    counts.untaggedOldRevisions += c.untaggedOldRevisions;
  }
  return counts;
}

type RepoCounts = Omit<CorpusCounts, 'repositories' | 'topLevelNamespaces' | 'layerRefs' | 'layerBlobs'>;

function layerMediaType(flavor: ImageFlavor, idx: number): string {
  if (flavor === 'docker') return MEDIA.dockerLayer;
  return idx % 10 === 7 ? MEDIA.ociLayerZstd : MEDIA.ociLayer;
}

function* repositoryFiles(
  repo: RepositoryPlan,
  seed: number,
  layers: readonly Descriptor[],
  nextLayers: () => number[],
): Generator<CorpusFile, RepoCounts> {
  const c: RepoCounts = {
    tags: 0,
    taggedManifests: 0,
    imageManifests: 0,
    indexes: 0,
    indexChildren: 0,
    configs: 0,
    referrers: 0,
    untaggedOldRevisions: 0,
  };
  const r = repo.path;
  const linked = new Set<string>();
  function* linkBlob(hex: string): Generator<CorpusFile> {
    if (linked.has(hex)) return;
    linked.add(hex);
    yield { path: layout.layerLink(r, hex), data: linkContent(hex), role: 'layer-link' };
  }
  function* putManifest(blob: Blob): Generator<CorpusFile> {
    yield { path: layout.blobData(blob.hex), data: blob.bytes, role: 'manifest-blob' };
    yield { path: layout.revisionLink(r, blob.hex), data: linkContent(blob.hex), role: 'revision-link' };
  }
  // Builds one image (config + manifest), writes its blobs and links, returns the manifest descriptor.
  function* image(
    flavor: ImageFlavor,
    build: string,
    platform: Platform,
    layerIdx: readonly number[],
  ): Generator<CorpusFile, Descriptor> {
    const layerDescs = layerIdx.map((i) => ({ ...layers[i]!, mediaType: layerMediaType(flavor, i) }));
    const config = imageConfig({
      repository: r,
      build,
      created: createdAt(seed, repo.index, build.length, layerIdx[0] ?? -1, layerIdx.length),
      platform,
      layerDigests: layerDescs.map((d) => d.digest),
    });
    c.configs++;
    yield { path: layout.blobData(config.hex), data: config.bytes, role: 'config-blob' };
    yield* linkBlob(config.hex);
    for (const d of layerDescs) yield* linkBlob(d.digest.slice('sha256:'.length));
    const configDesc = descriptorOf(flavor === 'docker' ? MEDIA.dockerConfig : MEDIA.ociConfig, config);
    const manifest = imageManifest(flavor, configDesc, layerDescs);
    yield* putManifest(manifest);
    return descriptorOf(flavor === 'docker' ? MEDIA.dockerManifest : MEDIA.ociManifest, manifest);
  }

  // Manifest digests by plan index, and the older untagged build kept in a tag's history.
  const digests: Descriptor[] = [];
  const oldRevisions = new Map<number, Descriptor>();
  for (const [m, planned] of repo.manifests.entries()) {
    if (planned.kind === 'image') {
      const layerIdx = nextLayers();
      const desc = yield* image(planned.flavor, `${m}`, PLATFORM_AMD64, layerIdx);
      digests.push(desc);
      c.imageManifests++;
      if (planned.oldRevision) {
        // A previous build of the same layers: pushed earlier, then the tag moved on.
        oldRevisions.set(m, yield* image(planned.flavor, `${m}-previous`, PLATFORM_AMD64, layerIdx));
        c.untaggedOldRevisions++;
      }
      if (planned.referrer) {
        const sig = signaturePayload(r, desc);
        yield { path: layout.blobData(sig.hex), data: sig.bytes, role: 'layer-blob' };
        yield* linkBlob(EMPTY_JSON.hex);
        yield* linkBlob(sig.hex);
        const referrer = imageManifest(
          'oci',
          descriptorOf(MEDIA.ociEmpty, EMPTY_JSON),
          [descriptorOf(MEDIA.cosignSimpleSigning, sig)],
          {
            artifactType: MEDIA.cosignSig,
            subject: desc,
            annotations: { 'org.opencontainers.image.created': createdAt(seed, repo.index, m, 1) },
          },
        );
        yield* putManifest(referrer);
        c.referrers++;
      }
    } else {
      const children: IndexChild[] = [];
      for (const platform of planned.platforms) {
        const build = `${m}-${platform.architecture}${platform.variant ?? ''}`;
        children.push({ manifest: yield* image(planned.flavor, build, platform, nextLayers()), platform });
        c.indexChildren++;
      }
      const index = imageIndex(planned.flavor, children);
      yield* putManifest(index);
      digests.push(descriptorOf(planned.flavor === 'docker' ? MEDIA.dockerList : MEDIA.ociIndex, index));
      c.indexes++;
    }
  }
  c.taggedManifests = repo.manifests.length;

  const historyWritten = new Set<number>();
  for (const tag of repo.tags) {
    const hex = digests[tag.manifest]!.digest.slice('sha256:'.length);
    yield { path: layout.tagCurrentLink(r, tag.name), data: linkContent(hex), role: 'tag-link' };
    yield { path: layout.tagIndexLink(r, tag.name, hex), data: linkContent(hex), role: 'tag-history-link' };
    const old = oldRevisions.get(tag.manifest);
    if (old !== undefined && !historyWritten.has(tag.manifest)) {
      historyWritten.add(tag.manifest);
      const oldHex = old.digest.slice('sha256:'.length);
      yield {
        path: layout.tagIndexLink(r, tag.name, oldHex),
        data: linkContent(oldHex),
        role: 'tag-history-link',
      };
    }
    c.tags++;
  }
  if (!repo.hasTags) {
    // Every tag was deleted: `_manifests` keeps an untagged revision, so the walk still finds the
    // repository (spec §1.3) and imports it without tags or manifests.
    yield* image('docker', 'untagged', PLATFORM_AMD64, layers.length > 0 ? [repo.index % layers.length] : []);
    c.untaggedOldRevisions++;
  }
  if (repo.index % UPLOAD_EVERY === 13) {
    const id = createRng(seed, STREAM.name, repo.index, 7).bytes(16).toString('hex');
    yield { path: layout.upload(r, id, 'startedat'), data: '2024-06-01T00:00:00Z', role: 'upload' };
    yield { path: layout.upload(r, id, 'data'), data: Buffer.alloc(512, 1), role: 'upload' };
  }
  return c;
}
