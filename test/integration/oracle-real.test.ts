/**
 * The oracle: Debian's `docker-registry` (the program that wrote fixtures/registries/real) serves the
 * tree read-only, and every fact its Registry HTTP API gives is compared with the rows an import of
 * the same tree writes. Expected values come from the registry, never from regdb: the repository set
 * (catalog, paginated), each repository's tags, each tag's manifest (by tag and by digest, with
 * `Docker-Content-Digest` and `Content-Type`), each manifest's payload, schema version, config
 * descriptor and config bytes, layers (digest, media type, size, and the blob's size from `HEAD`),
 * list/index children, blob sizes, repository blob links, and total sizes computed from the API.
 * When every test here passes, the source tree is marked (oracle-marker.ts): only then may
 * `REGDB_UPDATE_GOLDEN=1` rewrite goldens.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { dumpTables, type Dump } from '../helpers/golden.js';
import { copyTree, importTree, type TreeCopy } from '../helpers/import-run.js';
import { writeOraclePass } from '../helpers/oracle-marker.js';
import {
  api,
  catalog,
  MANIFEST_ACCEPT,
  tagList,
  startRegistry,
  type RegistryServer,
} from '../helpers/registry-server.js';

const CONFIG_SIZE_LIMIT = 256_000; // spec §2.6: larger configs are not stored
const LISTS = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const NON_DISTRIBUTABLE = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
]);

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
}
interface Payload {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
}

/** What the registry says about one manifest of one repository. */
interface ApiManifest {
  repository: string;
  digest: string;
  mediaType: string;
  bytes: Buffer;
  payload: Payload;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const byKey = <T>(rows: T[], key: (r: T) => string) =>
  [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

let registry: RegistryServer;
let db: TestDatabase;
let tree: TreeCopy;
let rows: Dump;
let passed = 0;
const TESTS = 9;

/** Facts fetched once from the registry. */
const tags: { repository: string; name: string; manifest: string }[] = [];
const manifests = new Map<string, ApiManifest>(); // `${repo}@${digest}`
const blobSizes = new Map<string, number>(); // `${repo}@${digest}` -> HEAD Content-Length
let repositories: string[] = [];
const reachable = new Set<string>(); // `${repo}@${digest}` reachable from a tag
const referrers: string[] = []; // imported, reachable from no tag
let catalogPages = 0;

async function manifest(repository: string, reference: string): Promise<ApiManifest> {
  const res = await api(registry, `/v2/${repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
  expect(res.status, `GET /v2/${repository}/manifests/${reference}`).toBe(200);
  const digest = res.headers.get('docker-content-digest')!;
  expect(digest, `Docker-Content-Digest of ${repository}:${reference}`).toMatch(/^sha256:[0-9a-f]{64}$/);
  // The header must be the digest of the bytes served.
  expect(digest).toBe(`sha256:${sha256(res.body)}`);
  return {
    repository,
    digest,
    mediaType: res.headers.get('content-type')!,
    bytes: res.body,
    payload: JSON.parse(res.body.toString('utf8')) as Payload,
  };
}

async function headBlob(repository: string, digest: string): Promise<number> {
  const key = `${repository}@${digest}`;
  const known = blobSizes.get(key);
  if (known !== undefined) return known;
  const res = await api(registry, `/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
  expect(res.status, `HEAD /v2/${repository}/blobs/${digest}`).toBe(200);
  expect(res.headers.get('docker-content-digest')).toBe(digest);
  const size = Number(res.headers.get('content-length'));
  blobSizes.set(key, size);
  return size;
}

/** Fetches a manifest by digest (and its children, for lists), once per repository. */
async function visit(repository: string, digest: string): Promise<void> {
  const key = `${repository}@${digest}`;
  if (manifests.has(key)) return;
  const m = await manifest(repository, digest);
  expect(m.digest).toBe(digest);
  manifests.set(key, m);
  if (m.payload.config) await headBlob(repository, m.payload.config.digest);
  for (const l of m.payload.layers ?? []) {
    if (!NON_DISTRIBUTABLE.has(l.mediaType ?? '')) await headBlob(repository, l.digest);
  }
  for (const child of m.payload.manifests ?? []) await visit(repository, child.digest);
}

beforeAll(async () => {
  registry = await startRegistry('real');
  db = await freshDatabase();
  tree = await copyTree('real');
  const report = await importTree(db.pool, tree);
  expect([...report.skips.keys()]).toEqual([]);
  rows = await dumpTables(db.pool);

  // Catalog two at a time, so pagination through `Link` headers is exercised.
  const listed = await catalog(registry, 2);
  repositories = listed.names;
  catalogPages = listed.pages;
  for (const repository of repositories) {
    for (const name of await tagList(registry, repository)) {
      const byTag = await manifest(repository, name);
      tags.push({ repository, name, manifest: byTag.digest });
      await visit(repository, byTag.digest);
      // By digest, the same bytes and media type as by tag.
      const byDigest = manifests.get(`${repository}@${byTag.digest}`)!;
      expect(byDigest.bytes.equals(byTag.bytes)).toBe(true);
      expect(byDigest.mediaType).toBe(byTag.mediaType);
    }
  }
  // Imported manifests no tag reaches are fetched by digest too (the registry 2.8 API has no
  // referrers endpoint); the manifests test says which may exist.
  for (const key of manifests.keys()) reachable.add(key);
  for (const m of rows.manifests as { repository: string; digest: string }[]) {
    const key = `${m.repository}@${m.digest}`;
    if (reachable.has(key)) continue;
    referrers.push(key);
    await visit(m.repository, m.digest);
  }
}, 600_000);

afterAll(async () => {
  await tree?.remove();
  await db?.drop();
  await registry?.stop();
  if (passed === TESTS) writeOraclePass();
});

describe("the import agrees with Debian's docker-registry serving the same tree", () => {
  it('repositories: the paginated catalog', () => {
    expect(catalogPages).toBeGreaterThan(1);
    const imported = (rows.repositories as { path: string }[]).map((r) => r.path).sort();
    expect(imported).toEqual([...repositories].sort());
    expect(new Set(repositories).size).toBe(repositories.length);
    passed++;
  });

  it('tags: every tag of tags/list, pointing at the manifest the registry serves for it', () => {
    expect(tags.length).toBeGreaterThan(0);
    const imported = (rows.tags as { repository: string; name: string; manifest: string }[]).map(
      ({ repository, name, manifest }) => ({ repository, name, manifest }),
    );
    const key = (t: { repository: string; name: string }) => `${t.repository}\0${t.name}`;
    expect(byKey(imported, key)).toEqual(byKey(tags, key));
    passed++;
  });

  it('manifests: every manifest reachable from a tag is imported, and every imported one is served', () => {
    const imported = rows.manifests as { repository: string; digest: string }[];
    expect(imported.map((m) => `${m.repository}@${m.digest}`).sort()).toEqual([...manifests.keys()].sort());
    // Those reachable from no tag are referrers (pushed by digest, with a `subject`) whose subject
    // the registry serves in the same repository from a tag.
    expect(referrers.length).toBeGreaterThan(0);
    for (const key of referrers) {
      const subject = manifests.get(key)!.payload.subject?.digest;
      expect(subject, `${key} is reachable from no tag and has no subject`).toBeDefined();
      expect(reachable.has(`${key.slice(0, key.indexOf('@'))}@${subject}`)).toBe(true);
    }
    passed++;
  });

  it('manifest rows: media type, schema version, payload, config, subject, artifact type and total size', () => {
    const expected = [...manifests.values()].map((m) => {
      const p = m.payload;
      const list = LISTS.has(m.mediaType);
      const config = p.config;
      const configSize = config ? blobSizes.get(`${m.repository}@${config.digest}`)! : 0;
      const layerSum = (p.layers ?? []).reduce((s, l) => s + l.size, 0);
      return {
        repository: m.repository,
        digest: m.digest,
        schema_version: p.schemaVersion,
        media_type: m.mediaType,
        configuration_media_type: config?.mediaType ?? null,
        configuration_blob_digest: config?.digest ?? null,
        payload_length: m.bytes.length,
        payload_sha256: sha256(m.bytes),
        total_size: String(list ? 0 : m.bytes.length + configSize + layerSum),
        subject: p.subject?.digest ?? null,
        artifact_media_type: p.artifactType ?? null,
      };
    });
    const imported = (rows.manifests as Record<string, unknown>[]).map((r) => ({
      repository: r.repository,
      digest: r.digest,
      schema_version: r.schema_version,
      media_type: r.media_type,
      configuration_media_type: r.configuration_media_type,
      configuration_blob_digest: r.configuration_blob_digest,
      payload_length: r.payload_length,
      payload_sha256: r.payload_sha256,
      total_size: r.total_size,
      subject: r.subject,
      artifact_media_type: r.artifact_media_type,
    }));
    const key = (r: { repository: unknown; digest: unknown }) =>
      `${String(r.repository)}@${String(r.digest)}`;
    expect(byKey(imported, key)).toEqual(byKey(expected, key));
    passed++;
  });

  it('config payloads: the bytes the registry serves for each config blob (up to the size limit)', async () => {
    let compared = 0;
    for (const r of rows.manifests as Record<string, unknown>[]) {
      if (r.configuration_blob_digest === null) continue;
      const repo = String(r.repository);
      const digest = String(r.configuration_blob_digest);
      const res = await api(registry, `/v2/${repo}/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(`sha256:${sha256(res.body)}`).toBe(digest);
      if (res.body.length <= CONFIG_SIZE_LIMIT) {
        expect(r.configuration_payload_length).toBe(res.body.length);
        const shown = res.body.length <= 16 ? res.body.toString('utf8') : sha256(res.body);
        expect(r.configuration_payload).toBe(shown);
        compared++;
      } else {
        // Too big to keep: whatever is stored, it is not the config.
        expect(r.configuration_payload_length).not.toBe(res.body.length);
      }
    }
    expect(compared).toBeGreaterThan(0);
    passed++;
  });

  it('layers: digest, media type and size of every distributable layer, sizes agreeing with HEAD', () => {
    const expected: {
      repository: string;
      manifest: string;
      digest: string;
      media_type: string;
      size: string;
    }[] = [];
    const seen = new Set<string>();
    for (const m of manifests.values()) {
      for (const l of m.payload.layers ?? []) {
        if (NON_DISTRIBUTABLE.has(l.mediaType ?? '')) continue;
        const k = `${m.repository}@${m.digest}@${l.digest}`;
        if (seen.has(k)) continue;
        seen.add(k);
        expect(blobSizes.get(`${m.repository}@${l.digest}`), `HEAD size of ${l.digest}`).toBe(l.size);
        expected.push({
          repository: m.repository,
          manifest: m.digest,
          digest: l.digest,
          media_type: l.mediaType!,
          size: String(l.size),
        });
      }
    }
    const key = (r: { repository: string; manifest: string; digest: string }) =>
      `${r.repository}@${r.manifest}@${r.digest}`;
    expect(expected.length).toBeGreaterThan(0);
    expect(byKey(rows.layers as typeof expected, key)).toEqual(byKey(expected, key));
    passed++;
  });

  it('list and index references: each child the registry lists, and the child is served', () => {
    const expected: { repository: string; parent: string; child: string }[] = [];
    for (const m of manifests.values()) {
      for (const c of m.payload.manifests ?? []) {
        expect(manifests.get(`${m.repository}@${c.digest}`)?.bytes.length, `size of child ${c.digest}`).toBe(
          c.size,
        );
        expected.push({ repository: m.repository, parent: m.digest, child: c.digest });
      }
    }
    const key = (r: { repository: string; parent: string; child: string }) =>
      `${r.repository}@${r.parent}@${r.child}`;
    expect(expected.length).toBeGreaterThan(0);
    expect(byKey(rows.manifest_references as typeof expected, key)).toEqual(byKey(expected, key));
    passed++;
  });

  it("repository blob links: exactly the configs and layers each repository's manifests use", () => {
    const expected = new Set<string>();
    for (const m of manifests.values()) {
      if (m.payload.config) expected.add(`${m.repository}@${m.payload.config.digest}`);
      for (const l of m.payload.layers ?? [])
        if (!NON_DISTRIBUTABLE.has(l.mediaType ?? '')) expected.add(`${m.repository}@${l.digest}`);
    }
    const imported = (rows.repository_blobs as { repository: string; digest: string }[]).map(
      (r) => `${r.repository}@${r.digest}`,
    );
    expect(imported.sort()).toEqual([...expected].sort());
    passed++;
  });

  it('blobs: every manifest, config and layer blob, with the size the registry serves', () => {
    const expected = new Map<string, number>();
    for (const m of manifests.values()) {
      expected.set(m.digest, m.bytes.length);
      if (m.payload.config)
        expected.set(m.payload.config.digest, blobSizes.get(`${m.repository}@${m.payload.config.digest}`)!);
    }
    for (const [key, size] of blobSizes) expected.set(key.slice(key.indexOf('@') + 1), size);
    const imported = new Map(
      (rows.blobs as { digest: string; size: string }[]).map((b) => [b.digest, Number(b.size)] as const),
    );
    // Every blob the API shows is imported with its size; the import may hold more (step one imports
    // every blob in storage, linked or not), but this tree has none other.
    expect(Object.fromEntries([...imported].sort())).toEqual(Object.fromEntries([...expected].sort()));
    passed++;
  });
});
