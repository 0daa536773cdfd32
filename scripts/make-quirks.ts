/**
 * Derives fixtures/registries/quirks/ from a copy of fixtures/registries/real/ by planting every
 * condition of spec §1.9 that a real registry's storage can end up with, and writes quirks.json: each
 * planted case with GitLab's outcome (spec §1.9) and regdb's (regdb skips and reports what GitLab makes
 * fatal). Deterministic: same input tree, same output bytes.
 *
 * Usage: npx tsx scripts/make-quirks.ts [real-dir] [out-dir]
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Digest } from '../src/registry/digest.js';
import {
  blobDataPath,
  layerLinkPath,
  manifestRevisionLinkPath,
  tagCurrentLinkPath,
  tagIndexLinkPath,
  uploadsPath,
  BLOBS_ROOT,
} from '../src/registry/paths.js';

const here = dirname(fileURLToPath(import.meta.url));
const REAL = resolve(process.argv[2] ?? join(here, '../fixtures/registries/real'));
const OUT = resolve(process.argv[3] ?? join(here, '../fixtures/registries/quirks'));

type Outcome =
  'imported' | 'warn' | 'skip-tag' | 'skip-manifest' | 'skip-layer' | 'skip-repo' | 'skip-blob' | 'ignored';

interface Quirk {
  id: string;
  /** Driver path of what was planted (a file, or a repository directory). */
  path: string;
  repository?: string;
  tag?: string;
  digest?: string;
  condition: string;
  /** GitLab's behaviour (spec §1.9); "FATAL: ..." when the whole import fails. */
  gitlab: string;
  regdb: { outcome: Outcome; reason: string; dynamicMediaTypes?: { outcome: Outcome; reason: string } };
}

const quirks: Quirk[] = [];
const quirk = (q: Quirk): void => void quirks.push(q);

// --- Writing into the tree -------------------------------------------------------------------------

function write(driverPath: string, content: Buffer | string): void {
  const file = join(OUT, driverPath);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}

function read(driverPath: string): Buffer {
  return readFileSync(join(OUT, driverPath));
}

const sha256 = (content: Buffer | string): Digest => ({
  algorithm: 'sha256',
  hex: createHash('sha256').update(content).digest('hex'),
});
const str = (d: Digest): string => `${d.algorithm}:${d.hex}`;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [key: string]: unknown;
}

/** Write a blob; returns its descriptor. */
function blob(content: Buffer | string, mediaType: string, extra: Record<string, unknown> = {}): Descriptor {
  const d = sha256(content);
  write(blobDataPath(d), content);
  return { mediaType, digest: str(d), size: Buffer.byteLength(content), ...extra };
}

/** A descriptor for content that is NOT written to the tree. */
function absent(content: string, mediaType: string, extra: Record<string, unknown> = {}): Descriptor {
  return { mediaType, digest: str(sha256(content)), size: Buffer.byteLength(content), ...extra };
}

function digestOf(descriptor: Descriptor): Digest {
  const [algorithm, hex] = descriptor.digest.split(':') as ['sha256', string];
  return { algorithm, hex };
}

const linkRevision = (repo: string, d: Digest, content = str(d)): void =>
  write(manifestRevisionLinkPath(repo, d), content);
const linkLayer = (repo: string, d: Digest, content = str(d)): void => write(layerLinkPath(repo, d), content);

/** A tag as the registry writes it: current/link plus the index (history) link. */
function tag(repo: string, name: string, d: Digest, currentContent: string | null = str(d)): void {
  if (currentContent !== null) write(tagCurrentLinkPath(repo, name), currentContent);
  write(tagIndexLinkPath(repo, name, d), str(d));
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 2));
}

const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  cacheConfig: 'application/vnd.buildkit.cacheconfig.v0',
};

/** Config content unique to a case, so each planted manifest has blobs of its own. */
function configContent(id: string): string {
  return JSON.stringify({
    created: '2024-01-02T03:04:05Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { 'org.example.quirk': id } },
    rootfs: { type: 'layers', diff_ids: [] },
  });
}

/** A manifest blob built from parts; returns its content, digest and descriptor. */
function manifestBlob(
  value: Record<string, unknown>,
  mediaType = MT.ociManifest,
): { content: Buffer; digest: Digest; descriptor: Descriptor } {
  const content = json(value);
  const descriptor = blob(content, mediaType);
  return { content, digest: digestOf(descriptor), descriptor };
}

// --- Start from a copy of the real tree --------------------------------------------------------------

rmSync(join(OUT, 'docker'), { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
cpSync(join(REAL, 'docker'), join(OUT, 'docker'), { recursive: true });

// The `group/app:1.0` OCI image of the real tree, reused by several cases.
const APP_REPO_SRC = 'group/app';
const appDigest = read(tagCurrentLinkPath(APP_REPO_SRC, '1.0')).toString('latin1');
const app: Digest = { algorithm: 'sha256', hex: appDigest.slice('sha256:'.length) };
const appManifest = read(blobDataPath(app));
const appParsed = JSON.parse(appManifest.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };

/** Link the app image into a repository (revision link and its config and layer links). */
function linkApp(repo: string): void {
  linkRevision(repo, app);
  linkLayer(repo, digestOf(appParsed.config));
  for (const layer of appParsed.layers) linkLayer(repo, digestOf(layer));
}

function uploadInProgress(repo: string, id: string): void {
  write(`${uploadsPath(repo)}/${id}/data`, 'partial upload bytes');
  write(`${uploadsPath(repo)}/${id}/startedat`, '2024-01-02T03:04:05Z');
  write(`${uploadsPath(repo)}/${id}/hashstates/sha256/0`, Buffer.alloc(0));
}

// --- Tags (spec §1.4, §1.2) ------------------------------------------------------------------------

{
  const repo = 'quirks/tags';
  linkApp(repo);
  const at = (t: string): string => tagCurrentLinkPath(repo, t);

  tag(repo, 'good', app);
  quirk({
    id: 'tag-ok',
    path: at('good'),
    repository: repo,
    tag: 'good',
    digest: str(app),
    condition: 'control: a correct tag link',
    gitlab: 'imported',
    regdb: { outcome: 'imported', reason: 'ok' },
  });

  tag(repo, 'missing-link', app, null);
  quirk({
    id: 'tag-link-missing',
    path: at('missing-link'),
    repository: repo,
    tag: 'missing-link',
    condition: 'tag directory without current/link (only its index history)',
    gitlab: 'skip tag: [warn] missing tag link, skipping',
    regdb: { outcome: 'skip-tag', reason: 'missing-tag-link' },
  });

  const linkCases: {
    id: string;
    tag: string;
    content: string;
    condition: string;
    gitlab: string;
    regdb: Quirk['regdb'];
  }[] = [
    {
      id: 'tag-link-empty',
      tag: 'empty-link',
      content: '',
      condition: 'tag current/link is 0 bytes',
      gitlab: 'skip tag: [warn] broken tag link, skipping',
      regdb: { outcome: 'skip-tag', reason: 'empty' },
    },
    {
      id: 'tag-link-bad-format',
      tag: 'bad-format',
      content: `sha256:${app.hex.toUpperCase()}`,
      condition: 'tag link hex is uppercase (ErrDigestInvalidFormat)',
      gitlab: 'skip tag: [warn] broken tag link, skipping',
      regdb: { outcome: 'skip-tag', reason: 'invalid-format' },
    },
    {
      id: 'tag-link-unsupported-algorithm',
      tag: 'unsupported-algorithm',
      content: 'md5:d41d8cd98f00b204e9800998ecf8427e',
      condition: 'tag link uses md5 (ErrDigestUnsupported)',
      gitlab: 'skip tag: [warn] broken tag link, skipping',
      regdb: { outcome: 'skip-tag', reason: 'unsupported-algorithm' },
    },
    {
      id: 'tag-link-invalid-length',
      tag: 'invalid-length',
      content: `sha256:${app.hex.slice(0, 63)}`,
      condition: 'tag link hex has 63 characters (ErrDigestInvalidLength)',
      gitlab: 'FATAL: reading tag details: invalid checksum digest length',
      regdb: { outcome: 'skip-tag', reason: 'invalid-length' },
    },
    {
      id: 'tag-link-trailing-newline',
      tag: 'trailing-newline',
      content: `${str(app)}\n`,
      condition: 'tag link is a correct digest followed by "\\n"',
      gitlab: 'FATAL: reading tag details: invalid checksum digest length',
      regdb: { outcome: 'warn', reason: 'trailing-whitespace' },
    },
    {
      id: 'tag-link-trailing-space',
      tag: 'trailing-space',
      content: `${str(app)} `,
      condition: 'tag link is a correct digest followed by a space',
      gitlab: 'FATAL: reading tag details: invalid checksum digest length',
      regdb: { outcome: 'warn', reason: 'trailing-whitespace' },
    },
  ];
  for (const c of linkCases) {
    tag(repo, c.tag, app, c.content);
    quirk({
      id: c.id,
      path: at(c.tag),
      repository: repo,
      tag: c.tag,
      condition: c.condition,
      gitlab: c.gitlab,
      regdb: c.regdb,
    });
  }

  // sha384: go-digest accepts it, the registry stores it (blob, revision link, tag), but the database
  // encoding has no prefix for it (spec §1.2).
  const sha384Hex = createHash('sha384').update(appManifest).digest('hex');
  const sha384 = `sha384:${sha384Hex}`;
  const sha384Blob = `${BLOBS_ROOT}/sha384/${sha384Hex.slice(0, 2)}/${sha384Hex}/data`;
  write(sha384Blob, appManifest);
  write(`${repositoryDir(repo)}/_manifests/revisions/sha384/${sha384Hex}/link`, sha384);
  write(at('sha384'), sha384);
  write(`${repositoryDir(repo)}/_manifests/tags/sha384/index/sha384/${sha384Hex}/link`, sha384);
  quirk({
    id: 'tag-link-sha384',
    path: at('sha384'),
    repository: repo,
    tag: 'sha384',
    digest: sha384,
    condition: 'tag, revision link and manifest blob stored under sha384',
    gitlab: 'FATAL: the manifest insert cannot encode a sha384 digest (unknown algorithm)',
    regdb: { outcome: 'skip-tag', reason: 'sha384-unstorable' },
  });
  quirk({
    id: 'blob-sha384',
    path: sha384Blob,
    digest: sha384,
    condition: 'a blob stored under blobs/sha384 (step three)',
    gitlab: 'FATAL: the blob insert cannot encode a sha384 digest (unknown algorithm)',
    regdb: { outcome: 'skip-blob', reason: 'sha384-unstorable' },
  });

  const longTag = `t${'0123456789'.repeat(25)}1234`;
  tag(repo, longTag, app);
  quirk({
    id: 'tag-name-255',
    path: at(longTag),
    repository: repo,
    tag: longTag,
    condition: 'tag name of exactly 255 characters (the CHECK limit; a filesystem name cannot be longer)',
    gitlab: 'imported',
    regdb: { outcome: 'imported', reason: 'ok' },
  });

  uploadInProgress(repo, '5f2c4d0e-1b7a-4c3e-9d8f-0a1b2c3d4e5f');
  quirk({
    id: 'uploads-in-repository',
    path: uploadsPath(repo),
    repository: repo,
    condition: 'an in-progress upload (_uploads/<id>/{data,startedat,hashstates}) inside a repository',
    gitlab: 'never read (the walk skips _uploads)',
    regdb: { outcome: 'ignored', reason: 'uploads-pruned' },
  });
}

function repositoryDir(repo: string): string {
  return `/docker/registry/v2/repositories/${repo}`;
}

// --- Manifests (spec §1.5) ------------------------------------------------------------------------

{
  const repo = 'quirks/manifests';
  linkApp(repo);
  const appConfig = appParsed.config;
  const appLayers = appParsed.layers;

  const m = (
    id: string,
    t: string,
    d: Digest,
    condition: string,
    gitlab: string,
    regdb: Quirk['regdb'],
  ): void =>
    quirk({
      id,
      path: tagCurrentLinkPath(repo, t),
      repository: repo,
      tag: t,
      digest: str(d),
      condition,
      gitlab,
      regdb,
    });

  // A valid manifest whose revision link is missing.
  {
    const { digest } = manifestBlob({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: appConfig,
      layers: appLayers,
      annotations: { 'org.example.quirk': 'revision-link-missing' },
    });
    tag(repo, 'revision-link-missing', digest);
    m(
      'revision-link-missing',
      'revision-link-missing',
      digest,
      'tag points at a manifest blob that has no revision link in the repository',
      'skip manifest: [warn] unknown manifest revision, skipping',
      { outcome: 'skip-manifest', reason: 'unknown-revision' },
    );
  }
  // Revision link present, blob data missing.
  {
    const content = json({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: appConfig,
      layers: appLayers,
      annotations: { 'org.example.quirk': 'manifest-blob-missing' },
    });
    const digest = sha256(content);
    linkRevision(repo, digest);
    tag(repo, 'blob-missing', digest);
    m(
      'manifest-blob-missing',
      'blob-missing',
      digest,
      'revision link present, manifest blob data missing',
      'skip manifest: [warn] unknown manifest revision, skipping',
      { outcome: 'skip-manifest', reason: 'unknown-revision' },
    );
  }
  // Revision links with bad content.
  for (const [id, t, content, gitlab, reason] of [
    [
      'revision-link-empty',
      'revision-link-empty',
      '',
      'skip manifest: [warn] broken manifest link, skipping',
      'empty',
    ],
    [
      'revision-link-unsupported-algorithm',
      'revision-link-unsupported',
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      'skip manifest: [warn] unsupported manifest digest algorithm, skipping',
      'unsupported-algorithm',
    ],
  ] as const) {
    const { digest } = manifestBlob({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: appConfig,
      layers: appLayers,
      annotations: { 'org.example.quirk': id },
    });
    linkRevision(repo, digest, content);
    tag(repo, t, digest);
    m(id, t, digest, `revision link content is ${JSON.stringify(content)}`, gitlab, {
      outcome: 'skip-manifest',
      reason,
    });
  }
  // A revision link that names another manifest: GitLab follows the link, reads the other blob and
  // stores it under the tag's digest, only logging a warning (spec §1.5 step 2).
  {
    const { digest } = manifestBlob({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: appConfig,
      layers: appLayers,
      annotations: { 'org.example.quirk': 'revision-link-other-digest' },
    });
    linkRevision(repo, digest, str(app));
    tag(repo, 'revision-link-other-digest', digest);
    m(
      'revision-link-other-digest',
      'revision-link-other-digest',
      digest,
      `revision link of this manifest holds the digest of another manifest (${str(app)})`,
      'imported: the other blob is read and stored under the tag digest; [warn] about the canonical target',
      { outcome: 'warn', reason: 'revision-link-mismatch' },
    );
  }
  // Payloads.
  const payloadCases: [string, Buffer, string, string, Quirk['regdb']][] = [
    [
      'manifest-zero-bytes',
      Buffer.alloc(0),
      'manifest blob is 0 bytes',
      'skip manifest: [warn] empty manifest payload, skipping',
      { outcome: 'skip-manifest', reason: 'empty-manifest' },
    ],
    [
      'manifest-not-json',
      Buffer.from('this is not a manifest\n'),
      'manifest blob is not JSON',
      'FATAL: retrieving manifest from filesystem: failed to unmarshal manifest payload',
      { outcome: 'skip-manifest', reason: 'manifest-unparsable' },
    ],
    [
      'manifest-schema-version-3',
      json({ schemaVersion: 3, mediaType: MT.ociManifest, config: appConfig, layers: appLayers }),
      'manifest schemaVersion is 3',
      'skip manifest: [warn] unknown manifest revision, skipping',
      { outcome: 'skip-manifest', reason: 'unknown-schema-version' },
    ],
    [
      'manifest-schema1',
      readFileSync(join(here, 'make-quirks.schema1.json')),
      'Docker schema 1 manifest with a valid libtrust (ES256) signature',
      'skip manifest: [warn] skipping v1 manifest import',
      { outcome: 'skip-manifest', reason: 'schema1' },
    ],
    [
      'manifest-unknown-media-type',
      json({
        schemaVersion: 2,
        mediaType: 'application/vnd.example.unknown.manifest.v1+json',
        config: appConfig,
        layers: appLayers,
      }),
      'schemaVersion 2 with an unknown top-level mediaType',
      'FATAL: unrecognized manifest content type application/vnd.example.unknown.manifest.v1+json',
      { outcome: 'skip-manifest', reason: 'unknown-manifest-media-type' },
    ],
    [
      'manifest-too-large',
      json({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: appConfig,
        layers: appLayers,
        annotations: { 'org.example.padding': 'p'.repeat(4 * 1024 * 1024) },
      }),
      'manifest blob larger than 4 MiB (4,194,304 bytes)',
      'FATAL: storage: read exceeds limit',
      { outcome: 'skip-manifest', reason: 'manifest-too-large' },
    ],
  ];
  for (const [id, content, condition, gitlab, regdb] of payloadCases) {
    const d = digestOf(blob(content, MT.ociManifest));
    linkRevision(repo, d);
    tag(repo, id.replace(/^manifest-/, ''), d);
    m(id, id.replace(/^manifest-/, ''), d, condition, gitlab, regdb);
  }
}

// --- Config and layers (spec §1.6, §2.6) ------------------------------------------------------------

{
  const repo = 'quirks/layers';

  interface Case {
    id: string;
    condition: string;
    gitlab: string;
    regdb: Quirk['regdb'];
    docker?: boolean;
    configMediaType?: string;
    /** Config: link content (null = no link), blob written or not. */
    configLink?: string | null;
    configBlob?: boolean;
    /** A digest written into the manifest's config descriptor instead of the real one (nothing linked). */
    configDigest?: string;
    /** Layers after the first (normal) one; `duplicate` repeats the first layer's descriptor. */
    layers?: {
      mediaType: string;
      link?: string | null;
      blob?: boolean;
      urls?: string[];
      digest?: string;
      duplicate?: boolean;
    }[];
  }
  const cases: Case[] = [
    {
      id: 'config-link-missing',
      configLink: null,
      condition: 'config blob present, its _layers link missing',
      gitlab: 'skip manifest: [warn] configuration blob not linked, skipping',
      regdb: { outcome: 'skip-manifest', reason: 'config-not-linked' },
    },
    {
      id: 'config-blob-missing',
      configBlob: false,
      condition: 'config _layers link present, config blob data missing',
      gitlab: 'skip manifest: [warn] configuration blob not linked, skipping',
      regdb: { outcome: 'skip-manifest', reason: 'config-not-linked' },
    },
    {
      id: 'config-link-empty',
      configLink: '',
      condition: 'config _layers link is 0 bytes',
      gitlab: 'skip manifest: [warn] broken configuration layer link, skipping',
      regdb: { outcome: 'skip-manifest', reason: 'empty' },
    },
    {
      id: 'layer-link-missing',
      layers: [{ mediaType: MT.ociLayer, link: null }],
      condition: 'second layer blob present, its _layers link missing',
      gitlab:
        'skip that layer: [warn] blob is not linked to repository, skipping blob import; manifest imported',
      regdb: { outcome: 'skip-layer', reason: 'layer-not-linked' },
    },
    {
      id: 'layer-blob-missing',
      layers: [{ mediaType: MT.ociLayer, blob: false }],
      condition: 'second layer _layers link present, blob data missing',
      gitlab:
        'skip that layer: [warn] blob is not linked to repository, skipping blob import; manifest imported',
      regdb: { outcome: 'skip-layer', reason: 'layer-not-linked' },
    },
    {
      id: 'layer-link-bad-format',
      layers: [{ mediaType: MT.ociLayer, link: `sha256:${'Z'.repeat(64)}` }],
      condition: 'second layer _layers link holds "sha256:" and 64 "Z" (ErrDigestInvalidFormat)',
      gitlab:
        'skip manifest: [warn] broken layer link, skipping manifest import (config and first layer rows stay)',
      regdb: { outcome: 'skip-manifest', reason: 'invalid-format' },
    },
    {
      id: 'layer-link-invalid-length',
      layers: [{ mediaType: MT.ociLayer, link: `sha256:${'0'.repeat(63)}` }],
      condition: 'second layer _layers link hex has 63 characters',
      gitlab:
        'FATAL: checking for access to blob with digest ... on repository ...: invalid checksum digest length',
      regdb: { outcome: 'skip-manifest', reason: 'invalid-length' },
    },
    {
      id: 'config-unknown-media-type',
      configMediaType: 'application/vnd.example.unknown.config.v1+json',
      condition: 'config media type not in the seeded media_types',
      gitlab:
        'dynamic media types OFF: FATAL creating manifest: mapping config media type: unknown media type; ON: imported with a new media_types row',
      regdb: {
        outcome: 'skip-manifest',
        reason: 'unknown-config-media-type',
        dynamicMediaTypes: { outcome: 'imported', reason: 'new-media-type' },
      },
    },
    {
      id: 'layer-unknown-media-type',
      layers: [{ mediaType: 'application/vnd.example.unknown.layer.v1' }],
      condition: 'layer media type not in the seeded media_types',
      gitlab:
        'imported; layer media type stored as application/octet-stream (dynamic OFF) or as a new media type (ON)',
      regdb: {
        outcome: 'imported',
        reason: 'unknown-layer-media-type',
        dynamicMediaTypes: { outcome: 'imported', reason: 'new-media-type' },
      },
    },
    {
      id: 'layer-foreign-docker',
      docker: true,
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          blob: false,
          link: null,
          urls: ['https://example.invalid/foreign-layer.tar.gz'],
        },
      ],
      condition: 'Docker schema 2 manifest with a foreign layer (URLs, blob not in the registry)',
      gitlab: 'imported; the foreign layer gets no rows but counts in total_size',
      regdb: { outcome: 'imported', reason: 'non-distributable-layer-excluded' },
    },
    {
      id: 'layer-nondistributable-oci',
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
          blob: false,
          link: null,
          urls: ['https://example.invalid/nondistributable.tar.gz'],
        },
      ],
      condition: 'OCI manifest with a non-distributable layer (blob not in the registry)',
      gitlab: 'imported; the non-distributable layer gets no rows but counts in total_size',
      regdb: { outcome: 'imported', reason: 'non-distributable-layer-excluded' },
    },
    {
      id: 'config-digest-unsupported-algorithm',
      configDigest: 'md5:d41d8cd98f00b204e9800998ecf8427e',
      condition: 'the config descriptor digest in the manifest JSON uses md5',
      gitlab: 'skip manifest: [warn] broken configuration link, skipping',
      regdb: { outcome: 'skip-manifest', reason: 'unsupported-algorithm' },
    },
    {
      id: 'config-digest-invalid-length',
      configDigest: `sha256:${'1'.repeat(63)}`,
      condition: 'the config descriptor digest in the manifest JSON has 63 hex characters',
      gitlab: 'FATAL: obtaining configuration payload: invalid checksum digest length',
      regdb: { outcome: 'skip-manifest', reason: 'invalid-length' },
    },
    {
      id: 'layer-digest-unsupported-algorithm',
      layers: [{ mediaType: MT.ociLayer, digest: 'md5:d41d8cd98f00b204e9800998ecf8427e' }],
      condition: 'a layer descriptor digest in the manifest JSON uses md5 (caught before any I/O)',
      gitlab:
        'skip manifest: [warn] broken layer link, skipping manifest import (config and first layer rows stay)',
      regdb: { outcome: 'skip-manifest', reason: 'unsupported-algorithm' },
    },
    {
      id: 'layer-digest-invalid-length',
      layers: [{ mediaType: MT.ociLayer, digest: `sha256:${'1'.repeat(63)}` }],
      condition: 'a layer descriptor digest in the manifest JSON has 63 hex characters',
      gitlab:
        'FATAL: checking for access to blob with digest ... on repository ...: invalid checksum digest length',
      regdb: { outcome: 'skip-manifest', reason: 'invalid-length' },
    },
    {
      id: 'config-empty-media-type',
      configMediaType: '',
      condition: 'the config descriptor mediaType is the empty string',
      gitlab:
        'dynamic media types OFF: FATAL creating manifest: mapping config media type: unknown media type; ON: FATAL (CHECK check_media_types_media_type_not_empty_string)',
      regdb: { outcome: 'skip-manifest', reason: 'unknown-config-media-type' },
    },
    {
      id: 'layer-empty-media-type',
      layers: [{ mediaType: '' }],
      condition: 'a layer descriptor mediaType is the empty string',
      gitlab:
        'dynamic media types OFF: imported, that layer stored as application/octet-stream; ON: FATAL (CHECK check_media_types_media_type_not_empty_string)',
      regdb: {
        outcome: 'imported',
        reason: 'unknown-layer-media-type',
        dynamicMediaTypes: { outcome: 'imported', reason: 'unknown-layer-media-type' },
      },
    },
    {
      id: 'layer-duplicate',
      layers: [{ mediaType: MT.ociLayer, duplicate: true }],
      condition: 'the same layer descriptor twice in one manifest',
      gitlab: 'imported; one layers row for the digest, total_size counts it twice',
      regdb: { outcome: 'imported', reason: 'ok' },
    },
    {
      id: 'layer-nondistributable-zstd',
      layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd' }],
      condition: 'an OCI non-distributable +zstd layer, present and linked (this variant is not filtered)',
      gitlab:
        'imported with the layer (not excluded); media type not seeded: application/octet-stream when dynamic media types are OFF',
      regdb: {
        outcome: 'imported',
        reason: 'unknown-layer-media-type',
        dynamicMediaTypes: { outcome: 'imported', reason: 'new-media-type' },
      },
    },
  ];

  for (const c of cases) {
    const configMt = c.configMediaType ?? (c.docker ? MT.dockerConfig : MT.ociConfig);
    const layerMt = c.docker ? MT.dockerLayer : MT.ociLayer;
    const configText = configContent(c.id);
    let config = c.configBlob === false ? absent(configText, configMt) : blob(configText, configMt);
    if (c.configDigest !== undefined) config = { ...config, digest: c.configDigest };
    else if (c.configLink !== null) linkLayer(repo, digestOf(config), c.configLink);
    const first = blob(`first layer of ${c.id}\n`, layerMt);
    linkLayer(repo, digestOf(first));
    const layers = [first];
    for (const [i, l] of (c.layers ?? []).entries()) {
      if (l.duplicate) {
        layers.push(first);
        continue;
      }
      const text = `layer ${i + 2} of ${c.id}\n`;
      const extra = l.urls ? { urls: l.urls } : {};
      let desc = l.blob === false ? absent(text, l.mediaType, extra) : blob(text, l.mediaType, extra);
      if (l.digest !== undefined) desc = { ...desc, digest: l.digest };
      else if (l.link !== null) linkLayer(repo, digestOf(desc), l.link);
      layers.push(desc);
    }
    const { digest } = manifestBlob(
      { schemaVersion: 2, mediaType: c.docker ? MT.dockerManifest : MT.ociManifest, config, layers },
      c.docker ? MT.dockerManifest : MT.ociManifest,
    );
    linkRevision(repo, digest);
    tag(repo, c.id, digest);
    quirk({
      id: c.id,
      path: tagCurrentLinkPath(repo, c.id),
      repository: repo,
      tag: c.id,
      digest: str(digest),
      condition: c.condition,
      gitlab: c.gitlab,
      regdb: c.regdb,
    });
  }
}

// --- Lists and indexes (spec §2.7, §2.8) -------------------------------------------------------------

{
  const repo = 'quirks/lists';
  linkApp(repo);
  const appDescriptor: Descriptor = { mediaType: MT.ociManifest, digest: str(app), size: appManifest.length };
  const l = (id: string, d: Digest, condition: string, gitlab: string, regdb: Quirk['regdb']): void =>
    quirk({
      id,
      path: tagCurrentLinkPath(repo, id),
      repository: repo,
      tag: id,
      digest: str(d),
      condition,
      gitlab,
      regdb,
    });
  const index = (id: string, manifests: Descriptor[]): Digest => {
    const { digest } = manifestBlob({ schemaVersion: 2, mediaType: MT.ociIndex, manifests }, MT.ociIndex);
    linkRevision(repo, digest);
    tag(repo, id, digest);
    return digest;
  };

  // Nested index: the child is the real group/multi OCI index, linked here with its children.
  const multiDigest = read(tagCurrentLinkPath('group/multi', 'latest')).toString('latin1');
  const multi: Digest = { algorithm: 'sha256', hex: multiDigest.slice(7) };
  const multiContent = read(blobDataPath(multi));
  linkRevision(repo, multi);
  for (const child of (JSON.parse(multiContent.toString('utf8')) as { manifests: Descriptor[] }).manifests) {
    const cd = digestOf(child);
    linkRevision(repo, cd);
    const cm = JSON.parse(read(blobDataPath(cd)).toString('utf8')) as {
      config: Descriptor;
      layers: Descriptor[];
    };
    linkLayer(repo, digestOf(cm.config));
    for (const layer of cm.layers) linkLayer(repo, digestOf(layer));
  }
  const nested = index('nested-index', [
    appDescriptor,
    { mediaType: MT.ociIndex, digest: multiDigest, size: multiContent.length },
  ]);
  l(
    'nested-index',
    nested,
    'an OCI index whose second child is itself an index',
    'FATAL: unknown manifest class digest=<child> repository=quirks/lists',
    { outcome: 'skip-manifest', reason: 'nested-index' },
  );

  // Buildx cache exports (mode=max, OCI media types): layers then the cacheconfig blob.
  const cacheLayers = [1, 2].map((i) => {
    const d = blob(`buildx cache layer ${i}\n`, MT.ociLayer, {
      annotations: { 'buildkit/createdat': '2024-01-02T03:04:05Z' },
    });
    linkLayer(repo, digestOf(d));
    return d;
  });
  const cacheConfig = blob(
    JSON.stringify({
      layers: cacheLayers.map((c, i) => ({ blob: c.digest, parent: i - 1 })),
      records: [{ digest: `sha256:${'c'.repeat(64)}`, layers: [{ layer: 1 }] }],
    }),
    MT.cacheConfig,
  );
  linkLayer(repo, digestOf(cacheConfig));
  const buildx = index('buildx-cache', [...cacheLayers, cacheConfig]);
  l(
    'buildx-cache',
    buildx,
    'buildx cache index: layer blobs and an application/vnd.buildkit.cacheconfig.v0 blob',
    'imported as an OCI image manifest, non_conformant = true (spec §2.8)',
    { outcome: 'imported', reason: 'buildx-cache' },
  );

  const buildxMixed = index('buildx-cache-with-manifest', [...cacheLayers, appDescriptor, cacheConfig]);
  l(
    'buildx-cache-with-manifest',
    buildxMixed,
    'buildx cache index that also references an image manifest',
    'FATAL: converting buildkit index to manifest: buildkit index has unexpected manifest references',
    { outcome: 'skip-manifest', reason: 'buildx-index-with-manifests' },
  );

  const blobRefs = index('index-blob-refs-no-cacheconfig', cacheLayers);
  l(
    'index-blob-refs-no-cacheconfig',
    blobRefs,
    'an OCI index whose entries are layer blobs, without a cacheconfig',
    'imported as a list with no references; each entry: [warn] unknown manifest revision, skipping',
    { outcome: 'imported', reason: 'list-children-skipped' },
  );

  // Children of other kinds, each linked in this repository.
  const schema1 = blob(
    readFileSync(join(here, 'make-quirks.schema1.json')),
    'application/vnd.docker.distribution.manifest.v1+prettyjws',
  );
  linkRevision(repo, digestOf(schema1));
  const v1List = index('list-child-schema1', [appDescriptor, schema1]);
  l(
    'list-child-schema1',
    v1List,
    'an OCI index whose second child is a signed schema 1 manifest',
    'imported with the first reference only; [warn] skipping v1 manifest',
    { outcome: 'imported', reason: 'list-children-skipped' },
  );

  const notJson = blob('{"schemaVersion": 2, "this is not', MT.ociManifest);
  linkRevision(repo, digestOf(notJson));
  const badChildList = index('list-child-not-json', [appDescriptor, notJson]);
  l(
    'list-child-not-json',
    badChildList,
    'an OCI index whose second child is not JSON',
    'FATAL: retrieving referenced manifest from filesystem: failed to unmarshal manifest payload',
    { outcome: 'skip-manifest', reason: 'manifest-unparsable' },
  );

  const brokenLayer = blob('layer of the broken child\n', MT.ociLayer);
  linkLayer(repo, digestOf(brokenLayer), '');
  const brokenChild = manifestBlob({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: appParsed.config,
    layers: [brokenLayer],
  });
  linkRevision(repo, brokenChild.digest);
  const brokenList = index('list-child-broken-layer-link', [appDescriptor, brokenChild.descriptor]);
  l(
    'list-child-broken-layer-link',
    brokenList,
    'an OCI index whose second child has an empty _layers link for its layer',
    'the list counts as skipped, but the list row, the first child and its reference stay (spec §2.7); [warn] skipping manifest import',
    { outcome: 'skip-manifest', reason: 'empty' },
  );

  const noMediaType = manifestBlob({ schemaVersion: 2, manifests: [appDescriptor] }, MT.ociIndex);
  linkRevision(repo, noMediaType.digest);
  tag(repo, 'index-without-media-type', noMediaType.digest);
  l(
    'index-without-media-type',
    noMediaType.digest,
    'an index without a mediaType field (dispatched on its manifests key)',
    'imported as an OCI index (media type application/vnd.oci.image.index.v1+json)',
    { outcome: 'imported', reason: 'ok' },
  );

  const missingChild = absent('{"schemaVersion":2,"note":"never pushed"}', MT.ociManifest);
  const partial = index('list-child-missing', [appDescriptor, missingChild]);
  l(
    'list-child-missing',
    partial,
    'an OCI index whose second child has no revision link',
    'imported with the first reference only; [warn] unknown manifest revision, skipping',
    { outcome: 'imported', reason: 'list-children-skipped' },
  );
}

// --- Repositories (spec §1.3) -------------------------------------------------------------------

{
  linkApp('quirks/no-tags');
  quirk({
    id: 'repository-without-tags',
    path: repositoryDir('quirks/no-tags'),
    repository: 'quirks/no-tags',
    condition: '_manifests/revisions only, no _manifests/tags directory',
    gitlab: 'repository row created, no tags',
    regdb: { outcome: 'imported', reason: 'no-tags' },
  });

  uploadInProgress('quirks/uploads-only', '0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a');
  quirk({
    id: 'uploads-only-directory',
    path: repositoryDir('quirks/uploads-only'),
    condition: 'a directory holding only _uploads',
    gitlab: 'not a repository: no rows, no log',
    regdb: { outcome: 'ignored', reason: 'not-a-repository' },
  });

  linkLayer('quirks/layers-only', digestOf(appParsed.config));
  quirk({
    id: 'layers-only-directory',
    path: repositoryDir('quirks/layers-only'),
    condition: 'a directory holding only _layers',
    gitlab: 'not a repository: no rows, no log',
    regdb: { outcome: 'ignored', reason: 'not-a-repository' },
  });

  for (const [id, name, condition] of [
    [
      'invalid-repository-name-top-level',
      'Foo',
      'top-level repository "Foo" (uppercase; a single component cannot be a domain)',
    ],
    [
      'invalid-repository-name-nested',
      'quirks/Bad',
      'repository "quirks/Bad" (uppercase below the first component)',
    ],
  ] as const) {
    linkApp(name);
    tag(name, 'latest', app);
    quirk({
      id,
      path: repositoryDir(name),
      repository: name,
      condition,
      gitlab: 'FATAL: parsing repository name: invalid reference format',
      regdb: { outcome: 'skip-repo', reason: 'invalid-repository-name' },
    });
  }

  linkApp('Upper.Example/app');
  tag('Upper.Example/app', 'latest', app);
  quirk({
    id: 'repository-name-domain-component',
    path: repositoryDir('Upper.Example/app'),
    repository: 'Upper.Example/app',
    condition: 'first component is domain-like (uppercase letters and a dot)',
    gitlab: 'imported',
    regdb: { outcome: 'imported', reason: 'ok' },
  });
}

// --- Blob paths (spec §1.7) -------------------------------------------------------------------------

for (const [id, path, condition, gitlab, reason] of [
  [
    'blob-path-not-hex',
    `${BLOBS_ROOT}/sha256/zz/${'z'.repeat(64)}/data`,
    'blob directory name of 64 non-hex characters',
    'FATAL: failed to parse digest from path: invalid checksum digest format',
    'invalid-format',
  ],
  [
    'blob-path-truncated',
    `${BLOBS_ROOT}/sha256/ab/abcdef/data`,
    'blob directory name truncated to 6 hex characters',
    'FATAL: failed to parse digest from path: invalid checksum digest length',
    'invalid-length',
  ],
  [
    'blob-path-one-character',
    `${BLOBS_ROOT}/sha256/a/a/data`,
    'blob directory name of one character',
    'FATAL: Go slices hex[:2] and panics',
    'invalid-length',
  ],
] as const) {
  write(path, `stray blob for ${id}\n`);
  quirk({ id, path, condition, gitlab, regdb: { outcome: 'skip-blob', reason } });
}

// --- Manifest of cases, config, done ---------------------------------------------------------------

quirks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
writeFileSync(join(OUT, 'quirks.json'), `${JSON.stringify(quirks, null, 2)}\n`);
writeFileSync(
  join(OUT, 'config.yml'),
  [
    '# Registry configuration for the quirks tree beside this file (relative to this folder).',
    'version: 0.1',
    'storage:',
    '  filesystem:',
    '    rootdirectory: .',
    '',
  ].join('\n'),
);
console.log(`planted ${quirks.length} cases into ${OUT}`);
