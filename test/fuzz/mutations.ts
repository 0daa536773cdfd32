/**
 * Ways to damage one repository of a fuzz tree (issue 17 §2), each confined to that repository's own
 * files and blobs, so the other repositories must import exactly as from the undamaged tree. A
 * mutation returns what it damaged (paths below the root) so the checker can demand that the damage
 * was imported or reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import type { Rng } from './rng.js';
import { blobDataFile, MT, type BlobFile, type Tree, type TreeRepository } from './tree.js';

export interface MutationContext {
  readonly tree: Tree;
  readonly target: TreeRepository;
  readonly rng: Rng;
  /** A folder beside the root holding canaries: `link`, `data`, `fifo`, `dir/`. */
  readonly outside: string;
  /** A short folder for unix sockets (their paths are limited to 107 bytes). */
  readonly scratch: string;
}

export interface Damage {
  /** The mutation's class and what it did, for the case log. */
  readonly detail: string;
  /** Damaged paths below the root (`docker/...`). */
  readonly paths: readonly string[];
  /** The repository name the damaged repository now has, when renamed (as readdir decodes it). */
  readonly renamedTo?: string;
  /**
   * Manifest blobs (hex) whose bytes were replaced: imported with the damaged bytes, what they used
   * to say (their layers, list references) may be gone without a report.
   */
  readonly manifests?: readonly string[];
  /** Releases what the damage holds open (a listening socket). */
  readonly release?: () => Promise<void>;
}

export interface Mutation {
  readonly name: string;
  /** Whether the run needs privileges this process lacks (EACCES cannot be staged as root). */
  readonly unavailable?: () => boolean;
  apply(ctx: MutationContext): Damage | Promise<Damage>;
}

const abs = (ctx: MutationContext, rel: string): string => join(ctx.tree.root, rel);

function replaceFile(ctx: MutationContext, rel: string, content: string | Buffer): void {
  const file = abs(ctx, rel);
  rmSync(file, { recursive: true, force: true });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** A link file of the target: a tag's current link, a revision link or a `_layers` link. */
function someLink(ctx: MutationContext): string {
  const t = ctx.target;
  switch (ctx.rng.int(3)) {
    case 0:
      return `${t.dir}/_manifests/tags/${ctx.rng.pick([...t.tags.keys()])}/current/link`;
    case 1:
      return `${t.dir}/_manifests/revisions/sha256/${ctx.rng.pick([t.docker, t.oci, t.index]).hex}/link`;
    default:
      return `${t.dir}/_layers/sha256/${ctx.rng.pick([t.config, ...t.layers]).hex}/link`;
  }
}

function someManifest(ctx: MutationContext): BlobFile {
  return ctx.rng.pick([ctx.target.docker, ctx.target.oci, ctx.target.index]);
}

/** A file of the target: a link or a manifest's or config's blob data. */
function someFile(ctx: MutationContext): string {
  return ctx.rng.int(2) === 0
    ? someLink(ctx)
    : blobDataFile(
        ctx.rng.pick([ctx.target.docker, ctx.target.oci, ctx.target.index, ctx.target.config]).hex,
      );
}

function linkDamage(name: string, content: (ctx: MutationContext, old: string) => string | Buffer): Mutation {
  return {
    name,
    apply(ctx) {
      const rel = someLink(ctx);
      const old = `sha256:${rel.split('/').at(-2)}`;
      const body = content(ctx, rel.includes('/tags/') ? old : old);
      replaceFile(ctx, rel, body);
      return { detail: `${name}: ${rel} = ${JSON.stringify(body.toString().slice(0, 60))}`, paths: [rel] };
    },
  };
}

function manifestDamage(
  name: string,
  body: (ctx: MutationContext, m: BlobFile) => string | Buffer,
): Mutation {
  return {
    name,
    apply(ctx) {
      const m = someManifest(ctx);
      const content = body(ctx, m);
      replaceFile(ctx, blobDataFile(m.hex), content);
      const shown = content.length > 80 ? `${content.length} bytes` : JSON.stringify(content.toString());
      return {
        detail: `${name}: ${blobDataFile(m.hex)} = ${shown}`,
        paths: [blobDataFile(m.hex)],
        manifests: [m.hex],
      };
    },
  };
}

const image = (ctx: MutationContext, patch: Record<string, unknown>): string => {
  const t = ctx.target;
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, size: t.config.bytes.length, digest: `sha256:${t.config.hex}` },
    layers: t.layers.map((l) => ({
      mediaType: MT.ociLayer,
      size: l.bytes.length,
      digest: `sha256:${l.hex}`,
    })),
    ...patch,
  });
};

const index = (children: readonly string[]): string =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: children.map((d) => ({ mediaType: MT.ociManifest, size: 100, digest: d })),
  });

export const MUTATIONS: readonly Mutation[] = [
  linkDamage('link-truncated', (ctx, old) => old.slice(0, 1 + ctx.rng.int(old.length - 1))),
  linkDamage('link-empty', () => ''),
  linkDamage('link-garbage', (ctx) => ctx.rng.bytes(1 + ctx.rng.int(80))),
  linkDamage('link-missing-blob', (ctx) => `sha256:${ctx.rng.hex(64)}`),
  linkDamage('link-other-algorithm', (ctx) =>
    ctx.rng.pick([
      `sha512:${ctx.rng.hex(128)}`,
      `sha384:${ctx.rng.hex(96)}`,
      `md5:${ctx.rng.hex(32)}`,
      `SHA256:${ctx.rng.hex(64)}`,
      `sha256:${ctx.rng.hex(63)}`,
    ]),
  ),
  linkDamage('link-oversized', (ctx, old) => old + ' '.repeat(5000 + ctx.rng.int(5000))),
  linkDamage('link-trailing-newline', (_ctx, old) => `${old}\n`),
  manifestDamage('manifest-not-json', (ctx) =>
    ctx.rng.pick(['{', 'not json', '{"schemaVersion":2,', ctx.rng.bytes(40)]),
  ),
  manifestDamage('manifest-empty', () => ''),
  manifestDamage('manifest-wrong-types', (ctx) =>
    ctx.rng.pick([
      '[]',
      '"manifest"',
      '42',
      'null',
      '{"schemaVersion":"2"}',
      image(ctx, { layers: {} }),
      image(ctx, { config: 5 }),
      image(ctx, { mediaType: 7 }),
      image(ctx, { layers: [{ size: 'big', digest: 1 }] }),
      image(ctx, { layers: [null, 3] }),
      image(ctx, { schemaVersion: 2.5 }),
      image(ctx, { subject: 'x' }),
      image(ctx, { artifactType: { a: 1 } }),
      image(ctx, { annotations: { a: 5 } }),
      image(ctx, { config: { size: -1, digest: 'sha256:zz' } }),
      index(['not-a-digest', '']),
    ]),
  ),
  manifestDamage('manifest-deeply-nested', (ctx) => {
    const depth = ctx.rng.pick([1000, 20_000, 200_000]);
    return ctx.rng.int(2) === 0
      ? '['.repeat(depth) + ']'.repeat(depth)
      : image(ctx, { annotations: JSON.parse('{"a":'.repeat(500) + '1' + '}'.repeat(500)) as unknown });
  }),
  manifestDamage('manifest-oversized', (ctx) =>
    image(ctx, { annotations: { pad: 'x'.repeat(4 * 1024 * 1024 + ctx.rng.int(1000)) } }),
  ),
  manifestDamage('manifest-schema1', () =>
    JSON.stringify({
      schemaVersion: 1,
      name: 'fz/x',
      tag: 'latest',
      fsLayers: [],
      history: [],
      signatures: [],
    }),
  ),
  manifestDamage('manifest-unknown-schema-version', (ctx) =>
    image(ctx, { schemaVersion: ctx.rng.pick([0, 3, -1]) }),
  ),
  manifestDamage('manifest-unknown-media-type', (ctx) =>
    image(ctx, { mediaType: ctx.rng.pick(['application/x-unknown', 'text/plain', '']) }),
  ),
  manifestDamage('manifest-nul-media-type', (ctx) => {
    const t = ctx.target;
    const nul = `application/vnd.oci.image.layer.v1\u0000tar`;
    switch (ctx.rng.int(4)) {
      case 0:
        return image(ctx, { mediaType: `${MT.ociManifest}\u0000` });
      case 1:
        return image(ctx, {
          config: { mediaType: nul, size: t.config.bytes.length, digest: `sha256:${t.config.hex}` },
        });
      case 2:
        return image(ctx, { artifactType: nul });
      default:
        return image(ctx, {
          layers: [{ mediaType: nul, size: t.layers[0]!.bytes.length, digest: `sha256:${t.layers[0]!.hex}` }],
        });
    }
  }),
  manifestDamage('manifest-size-overflow', (ctx) => {
    const l = ctx.target.layers[0]!;
    const layer = { mediaType: MT.ociLayer, size: Number.MAX_SAFE_INTEGER, digest: `sha256:${l.hex}` };
    return image(ctx, { layers: Array.from({ length: 1025 + ctx.rng.int(100) }, () => layer) });
  }),
  {
    name: 'index-self-referencing',
    apply(ctx) {
      // The index names a child whose revision link leads back to the index's own blob.
      const t = ctx.target;
      const child = `sha256:${ctx.rng.hex(64)}`;
      replaceFile(ctx, blobDataFile(t.index.hex), index([child, `sha256:${t.docker.hex}`]));
      const link = `${t.dir}/_manifests/revisions/sha256/${child.slice(7)}/link`;
      replaceFile(ctx, link, `sha256:${t.index.hex}`);
      return {
        detail: `index-self-referencing: ${link}`,
        paths: [blobDataFile(t.index.hex), link],
        manifests: [t.index.hex],
      };
    },
  },
  manifestDamage('index-dangling', (ctx, m) =>
    index([`sha256:${ctx.rng.hex(64)}`, ...(m === ctx.target.index ? [`sha256:${ctx.target.oci.hex}`] : [])]),
  ),
  manifestDamage('index-nested', (ctx) =>
    index([`sha256:${ctx.target.index.hex}`, `sha256:${ctx.target.oci.hex}`]),
  ),
  {
    name: 'config-missing',
    apply(ctx) {
      const rel = blobDataFile(ctx.target.config.hex);
      rmSync(abs(ctx, rel), { force: true });
      return { detail: `config-missing: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'config-not-json',
    apply(ctx) {
      const rel = blobDataFile(ctx.target.config.hex);
      replaceFile(ctx, rel, ctx.rng.pick(['', '{', ctx.rng.bytes(30), '[1,2']));
      return { detail: `config-not-json: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'config-link-missing',
    apply(ctx) {
      const rel = `${ctx.target.dir}/_layers/sha256/${ctx.target.config.hex}/link`;
      rmSync(abs(ctx, rel), { force: true });
      return { detail: `config-link-missing: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'dir-where-file',
    apply(ctx) {
      const rel = someFile(ctx);
      rmSync(abs(ctx, rel), { force: true });
      mkdirSync(abs(ctx, rel), { recursive: true });
      if (ctx.rng.int(2) === 0) writeFileSync(join(abs(ctx, rel), 'link'), `sha256:${ctx.target.docker.hex}`);
      return { detail: `dir-where-file: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'file-where-dir',
    apply(ctx) {
      const t = ctx.target;
      const tag = ctx.rng.pick([...t.tags.keys()]);
      const rel = ctx.rng.pick([
        `${t.dir}/_manifests/tags`,
        `${t.dir}/_manifests/tags/${tag}`,
        `${t.dir}/_manifests/tags/${tag}/current`,
        `${t.dir}/_manifests/revisions`,
        `${t.dir}/_manifests/revisions/sha256/${someManifest(ctx).hex}`,
        `${t.dir}/_layers`,
        `${t.dir}/_manifests`,
        dirname(blobDataFile(someManifest(ctx).hex)),
      ]);
      replaceFile(ctx, rel, `sha256:${t.docker.hex}`);
      return { detail: `file-where-dir: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'repository-name-invalid',
    apply(ctx) {
      const name = `fz/${ctx.rng.pick(['Upper', 'a..b', '-lead', 'trail-', 'sp ace', 'é', 'a__b', '.dot', 'x'.repeat(250)])}`;
      return renameRepository(ctx, name);
    },
  },
  {
    name: 'repository-name-long',
    apply(ctx) {
      const seg = 'n'.repeat(60 + ctx.rng.int(100));
      return renameRepository(ctx, `fz/${[seg, seg, seg, seg].join('/')}`);
    },
  },
  {
    name: 'repository-name-not-utf8',
    apply(ctx) {
      const from = abs(ctx, ctx.target.dir);
      const to = Buffer.concat([
        Buffer.from(`${dirname(from)}/bad`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('x'),
      ]);
      renameSync(from, to);
      return {
        detail: 'repository-name-not-utf8',
        paths: [ctx.target.dir],
        renamedTo: 'fz/bad\uFFFD\uFFFDx',
      };
    },
  },
  {
    name: 'tag-name-invalid',
    apply(ctx) {
      const t = ctx.target;
      const tag = ctx.rng.pick([...t.tags.keys()]);
      const bad = ctx.rng.pick(['Bad Tag', '.hidden', '-dash', 'x'.repeat(200), 'tab\there', 'ü', 'a:b']);
      const from = abs(ctx, `${t.dir}/_manifests/tags/${tag}`);
      renameSync(from, join(dirname(from), bad));
      return {
        detail: `tag-name-invalid: ${tag} -> ${JSON.stringify(bad)}`,
        paths: [`${t.dir}/_manifests/tags/${bad}`],
      };
    },
  },
  {
    name: 'tag-name-not-utf8',
    apply(ctx) {
      const t = ctx.target;
      const tag = ctx.rng.pick([...t.tags.keys()]);
      const from = abs(ctx, `${t.dir}/_manifests/tags/${tag}`);
      renameSync(from, Buffer.concat([Buffer.from(`${dirname(from)}/t`), Buffer.from([0xc3, 0x28])]));
      return { detail: `tag-name-not-utf8: ${tag}`, paths: [`${t.dir}/_manifests/tags/${tag}`] };
    },
  },
  {
    name: 'empty-tag-dirs',
    apply(ctx) {
      const n = 1 + ctx.rng.int(300);
      for (let i = 0; i < n; i++) mkdirSync(abs(ctx, `${ctx.target.dir}/_manifests/tags/empty-${i}`));
      return { detail: `empty-tag-dirs: ${n}`, paths: [`${ctx.target.dir}/_manifests/tags/empty-0`] };
    },
  },
  {
    name: 'symlink-loop',
    apply(ctx) {
      const rel = ctx.rng.int(3) === 0 ? `${ctx.target.dir}/_manifests/tags/loop` : someFile(ctx);
      const file = abs(ctx, rel);
      rmSync(file, { recursive: true, force: true });
      mkdirSync(dirname(file), { recursive: true });
      if (ctx.rng.int(2) === 0) symlinkSync(file, file);
      else {
        symlinkSync(`${file}.b`, file);
        symlinkSync(file, `${file}.b`);
      }
      return { detail: `symlink-loop: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'symlink-to-ancestor',
    apply(ctx) {
      const rel = `${ctx.target.dir}/_manifests/tags/${ctx.rng.pick(['up', 'zz'])}`;
      symlinkSync(ctx.rng.pick(['..', '../..', '.']), abs(ctx, rel));
      return { detail: `symlink-to-ancestor: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'symlink-outside-file',
    apply(ctx) {
      const rel = someFile(ctx);
      rmSync(abs(ctx, rel), { recursive: true, force: true });
      const target = join(ctx.outside, rel.endsWith('/data') ? 'data' : 'link');
      symlinkSync(ctx.rng.int(2) === 0 ? target : relativeTo(abs(ctx, rel), target), abs(ctx, rel));
      return { detail: `symlink-outside-file: ${rel} -> ${target}`, paths: [rel] };
    },
  },
  {
    name: 'symlink-outside-fifo',
    apply(ctx) {
      const rel = someFile(ctx);
      rmSync(abs(ctx, rel), { recursive: true, force: true });
      symlinkSync(join(ctx.outside, 'fifo'), abs(ctx, rel));
      return { detail: `symlink-outside-fifo: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'symlink-outside-dir',
    apply(ctx) {
      const t = ctx.target;
      const rel = ctx.rng.pick([
        `${t.dir}/_manifests/tags`,
        `${t.dir}/_manifests/tags/latest`,
        `${t.dir}/_manifests/revisions`,
        `${t.dir}/_layers`,
        `${t.dir}/_manifests`,
        t.dir,
        dirname(blobDataFile(someManifest(ctx).hex)),
      ]);
      rmSync(abs(ctx, rel), { recursive: true, force: true });
      symlinkSync(join(ctx.outside, 'dir'), abs(ctx, rel));
      return { detail: `symlink-outside-dir: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'fifo-as-file',
    apply(ctx) {
      const rel = someFile(ctx);
      rmSync(abs(ctx, rel), { recursive: true, force: true });
      execFileSync('mkfifo', [abs(ctx, rel)]);
      return { detail: `fifo-as-file: ${rel}`, paths: [rel] };
    },
  },
  {
    name: 'socket-as-file',
    async apply(ctx) {
      const rel = someFile(ctx);
      rmSync(abs(ctx, rel), { recursive: true, force: true });
      const short = join(ctx.scratch, `s${ctx.rng.hex(8)}`);
      const server: Server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(short, resolve);
      });
      renameSync(short, abs(ctx, rel));
      return {
        detail: `socket-as-file: ${rel}`,
        paths: [rel],
        release: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
  },
  {
    name: 'unreadable',
    unavailable: () => process.getuid?.() === 0,
    apply(ctx) {
      const rel = ctx.rng.pick([
        someFile(ctx),
        `${ctx.target.dir}/_manifests/tags`,
        `${ctx.target.dir}/_layers`,
      ]);
      execFileSync('chmod', ['000', abs(ctx, rel)]);
      return { detail: `unreadable: ${rel}`, paths: [rel] };
    },
  },
];

function renameRepository(ctx: MutationContext, name: string): Damage {
  const to = abs(ctx, `docker/registry/v2/repositories/${name}`);
  mkdirSync(dirname(to), { recursive: true });
  renameSync(abs(ctx, ctx.target.dir), to);
  return {
    detail: `renamed ${ctx.target.name} -> ${name}`,
    paths: [`docker/registry/v2/repositories/${name}`],
    renamedTo: name,
  };
}

/** `target` as a relative symlink value from the folder of `from`. */
function relativeTo(from: string, target: string): string {
  const a = dirname(from).split('/');
  const b = target.split('/');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}
