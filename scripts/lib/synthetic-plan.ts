/**
 * The shape of a synthetic registry (issue 5 §5): which repositories exist, which tags each has and
 * which manifests those tags lead to. Pure and deterministic in the parameters; the byte content is
 * built from this plan by synthetic-content.ts.
 */
import { createRng } from './prng.js';

export interface CorpusParams {
  readonly repositories: number;
  readonly tags: number;
  /** Layer descriptors across all imported image manifests (tagged ones and children of tagged lists). */
  readonly layerRefs: number;
  /** Distinct layer blobs the layer descriptors are drawn from. */
  readonly sharedLayers: number;
  readonly seed: number;
  /**
   * Share (0-1) of the repositories put in one top-level namespace, `group-big` (issue 13 §2: a large
   * group that a namespace shard key would put on one worker). Absent or 0: groups of about 20.
   */
  readonly bigNamespace?: number;
}

export const DEFAULT_PARAMS: CorpusParams = {
  repositories: 2000,
  tags: 20000,
  layerRefs: 100000,
  sharedLayers: 20000,
  seed: 1,
};

/** Multiplies every count by `scale` (the "ten times larger" corpus is scale 10). */
export function scaleParams(p: CorpusParams, scale: number): CorpusParams {
  return {
    repositories: p.repositories * scale,
    tags: p.tags * scale,
    layerRefs: p.layerRefs * scale,
    sharedLayers: p.sharedLayers * scale,
    seed: p.seed,
    ...(p.bigNamespace !== undefined ? { bigNamespace: p.bigNamespace } : {}),
  };
}

export type ImageFlavor = 'docker' | 'oci';

export type PlannedManifest =
  | {
      readonly kind: 'image';
      readonly flavor: ImageFlavor;
      /** An untagged cosign-style signature whose `subject` is this manifest (an OCI 1.1 referrer). */
      readonly referrer: boolean;
      /** An older, now untagged build of the same image, kept in the tag's index history. */
      readonly oldRevision: boolean;
    }
  | {
      readonly kind: 'list';
      readonly flavor: ImageFlavor;
      /** Platforms of the children, one image manifest each (imported as children of a tagged list). */
      readonly platforms: readonly Platform[];
    };

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface PlannedTag {
  readonly name: string;
  /** Index into the repository's `manifests`. */
  readonly manifest: number;
}

export interface RepositoryPlan {
  readonly index: number;
  /** Full repository path, e.g. `group-007/team-2/app-0123`. */
  readonly path: string;
  /** False for the few repositories with an empty `_manifests` (no `tags` directory at all). */
  readonly hasTags: boolean;
  readonly manifests: readonly PlannedManifest[];
  readonly tags: readonly PlannedTag[];
}

export interface CorpusPlan {
  readonly params: CorpusParams;
  readonly repositories: readonly RepositoryPlan[];
  /** Image manifests whose layers count towards `layerRefs`, in generation order. */
  readonly countedImages: number;
}

// Stream labels keep the random sequences of different purposes independent of each other.
export const STREAM = { name: 1, weight: 2, structure: 3, layerPick: 4, layerBytes: 5, perturb: 6 } as const;

const PLATFORMS: readonly Platform[] = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm64', os: 'linux', variant: 'v8' },
  { architecture: 'arm', os: 'linux', variant: 'v7' },
  { architecture: 'ppc64le', os: 'linux' },
  { architecture: 's390x', os: 'linux' },
];

/** Share of new tags that point at a manifest another tag of the repository already points at. */
const ALIAS_TAG_SHARE = 0.2;
const LIST_SHARE = 0.06;
const DOCKER_SHARE = 0.55;
const REFERRER_SHARE = 0.03;
const OLD_REVISION_SHARE = 0.05;
const NESTED_REPO_SHARE = 0.03;
const EMPTY_REPO_SHARE = 0.005;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Tag names of one repository: `latest`, then semantic versions, a few branch-like names. */
export function tagName(t: number): string {
  if (t === 0) return 'latest';
  if (t % 17 === 5) return `main-${t}`;
  if (t % 11 === 3) return `v1.${Math.floor(t / 10)}.${t % 10}-alpine`;
  return `v1.${Math.floor(t / 10)}.${t % 10}`;
}

function repositoryPaths(params: CorpusParams): string[] {
  const groups = Math.max(1, Math.round(params.repositories / 20));
  const width = Math.max(4, String(params.repositories).length);
  const paths: string[] = [];
  for (let i = 0; i < params.repositories; i++) {
    const rng = createRng(params.seed, STREAM.name, i);
    const g = i % groups;
    const big = params.bigNamespace ?? 0;
    // Every repository whose index falls in the first `big` of each hundred goes to group-big.
    const group = i % 100 < big * 100 ? 'group-big' : `group-${pad(g, 3)}`;
    const below = i - groups;
    const nested = below >= 0 ? paths[below] : undefined;
    if (nested !== undefined && rng.chance(NESTED_REPO_SHARE)) {
      // A repository below another repository (`a/b` and `a/b/cache`), as spec §1.3 describes.
      paths.push(`${nested}/cache-${pad(i, width)}`);
      continue;
    }
    const u = rng.next();
    const app = `app-${pad(i, width)}`;
    if (u < 0.4) paths.push(`${group}/${app}`);
    else if (u < 0.8) paths.push(`${group}/team-${rng.int(5)}/${app}`);
    else paths.push(`${group}/team-${rng.int(5)}/svc-${rng.int(3)}/${app}`);
  }
  return paths;
}

/** Splits `total` into integer parts proportional to `weights` (largest remainder, ties by index). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let rest = total - parts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, i) => ({ i, frac: e - Math.floor(e) }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let k = 0; rest > 0; k++, rest--) {
    const o = order[k % order.length]!;
    parts[o.i]! += 1;
  }
  return parts;
}

function planRepository(params: CorpusParams, index: number, path: string, tagCount: number): RepositoryPlan {
  const rng = createRng(params.seed, STREAM.structure, index);
  const manifests: PlannedManifest[] = [];
  const tags: PlannedTag[] = [];
  for (let t = 0; t < tagCount; t++) {
    if (manifests.length > 0 && rng.chance(ALIAS_TAG_SHARE)) {
      // Several tags per manifest: mostly the newest one (`latest` and its version tag).
      const m = rng.chance(0.7) ? manifests.length - 1 : rng.int(manifests.length);
      tags.push({ name: tagName(t), manifest: m });
      continue;
    }
    const flavor: ImageFlavor = rng.chance(DOCKER_SHARE) ? 'docker' : 'oci';
    if (rng.chance(LIST_SHARE)) {
      const n = 2 + rng.int(3);
      manifests.push({ kind: 'list', flavor, platforms: PLATFORMS.slice(0, n) });
    } else {
      manifests.push({
        kind: 'image',
        flavor,
        referrer: rng.chance(REFERRER_SHARE),
        oldRevision: rng.chance(OLD_REVISION_SHARE),
      });
    }
    tags.push({ name: tagName(t), manifest: manifests.length - 1 });
  }
  return { index, path, hasTags: tagCount > 0, manifests, tags };
}

export function planCorpus(params: CorpusParams): CorpusPlan {
  const paths = repositoryPaths(params);
  const weights = paths.map((_, i) => {
    const rng = createRng(params.seed, STREAM.weight, i);
    if (rng.chance(EMPTY_REPO_SHARE)) return 0;
    // A long tail: most repositories have a handful of tags, a few have many.
    return 1 + 60 * rng.next() ** 8;
  });
  const tagCounts = apportion(params.tags, weights);
  const repositories = paths.map((p, i) => planRepository(params, i, p, tagCounts[i]!));
  let countedImages = 0;
  for (const r of repositories) {
    for (const m of r.manifests) countedImages += m.kind === 'image' ? 1 : m.platforms.length;
  }
  return { params, repositories, countedImages };
}

/**
 * Layer count of the j-th counted image manifest: an even split of `layerRefs` plus a telescoping
 * perturbation, so counts vary between manifests while their sum is exactly `layerRefs`.
 */
export function layerCount(params: CorpusParams, countedImages: number, j: number): number {
  const L = params.layerRefs;
  const M = countedImages;
  const base = Math.floor(((j + 1) * L) / M) - Math.floor((j * L) / M);
  const amplitude = Math.floor(Math.floor(L / M) / 2) + 1;
  const p = (k: number): number =>
    k < 0 || k >= M - 1 ? 0 : createRng(params.seed, STREAM.perturb, k).int(amplitude);
  return base + p(j) - p(j - 1);
}
