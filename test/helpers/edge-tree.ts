/**
 * A registry-like storage tree, written to a temporary folder, that exercises what the fixture trees
 * from a real registry do not: names whose bytewise order differs from directory order (`v1`, `v1-rc`,
 * `v1.0`; `app`, `app-extra`), `_uploads`, a zero-byte file, a 300,000-byte blob, and more than 1,000
 * keys under one prefix so object-store walks page and split into ranges.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface EdgeTree {
  readonly root: string;
  /** Driver path of the 300,000-byte blob. */
  readonly bigBlob: string;
  readonly bigBlobSize: number;
}

export function writeEdgeTree(opts: { namespaces?: number; layersPerRepo?: number } = {}): EdgeTree {
  const root = mkdtempSync(join(tmpdir(), 'regdb-edge-tree-'));
  const put = (path: string, content: string | Buffer): void => {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  const v2 = 'docker/registry/v2';
  const tags = ['latest', 'latest-foo', 'v1', 'v1-rc', 'v1.0', 'a'];
  for (const repo of ['ns/app', 'ns/app-extra', 'ns/app/sub']) {
    for (const tag of tags) {
      const d = hex(`${repo}:${tag}`);
      put(`${v2}/repositories/${repo}/_manifests/tags/${tag}/current/link`, `sha256:${d}`);
      put(`${v2}/repositories/${repo}/_manifests/tags/${tag}/index/sha256/${d}/link`, `sha256:${d}`);
      put(`${v2}/repositories/${repo}/_manifests/revisions/sha256/${d}/link`, `sha256:${d}`);
    }
    put(`${v2}/repositories/${repo}/_uploads/0d9e8f7a-0000-4d3e-8f2a-1b0c9d8e7f6a/data`, 'partial upload');
    put(
      `${v2}/repositories/${repo}/_uploads/0d9e8f7a-0000-4d3e-8f2a-1b0c9d8e7f6a/startedat`,
      '2026-01-01T00:00:00Z',
    );
  }
  put(`${v2}/repositories/ns/app/_manifests/tags/empty/current/link`, '');
  const namespaces = opts.namespaces ?? 3;
  const layers = opts.layersPerRepo ?? 450;
  for (let n = 0; n < namespaces; n++) {
    for (let i = 0; i < layers; i++) {
      const d = hex(`layer ${n} ${i}`);
      put(`${v2}/repositories/team${n}/img/_layers/sha256/${d}/link`, `sha256:${d}`);
    }
  }
  for (let i = 0; i < 300; i++) {
    const content = `{"blob":${i}}`;
    const d = hex(content);
    put(`${v2}/blobs/sha256/${d.slice(0, 2)}/${d}/data`, content);
  }
  const big = Buffer.alloc(300_000, 0x61);
  const bigHex = hex(big.toString('latin1'));
  const bigBlob = `/${v2}/blobs/sha256/${bigHex.slice(0, 2)}/${bigHex}/data`;
  put(bigBlob.slice(1), big);
  return { root, bigBlob, bigBlobSize: big.length };
}
