/**
 * Debian's `docker-registry` (distribution 2.8, the program that wrote fixtures/registries/real)
 * serving a copy of a fixture tree read-only on a free 127.0.0.1 port, and a small client of its
 * Registry HTTP API. The oracle test (test/integration/oracle-real.test.ts) compares what this API
 * says with the rows regdb writes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from './import-run.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Every manifest media type distribution 2.8 serves; asked for in every manifest request. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
].join(', ');

export interface RegistryServer {
  readonly url: string;
  readonly root: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function registryConfig(root: string, port: number): string {
  // Read-only maintenance mode refuses every write (pushes, deletes); upload purging would delete
  // from `_uploads`. Without an http secret the registry logs a warning and makes one up.
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(root)}`,
    '  delete:',
    '    enabled: false',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '    readonly:',
    '      enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/**
 * Starts `docker-registry serve` over a private copy of `fixtures/registries/<name>`. Throws with
 * the registry's own output when it does not answer within 30 s.
 */
export async function startRegistry(name: 'real' | 'quirks'): Promise<RegistryServer> {
  if (!existsSync(REGISTRY_BIN)) {
    throw new Error(
      `${REGISTRY_BIN} is missing: install Debian's registry (apt-get install docker-registry) to run the oracle tests.`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), `regdb-oracle-${name}-`));
  await cp(join(FIXTURES, name, 'docker'), join(root, 'tree', 'docker'), {
    recursive: true,
    filter: (src) => !src.includes('/docker/registry/lockfiles'),
  });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = join(root, 'registry.yml');
    await writeFile(config, registryConfig(join(root, 'tree'), port));
    const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString('utf8')));
    let exited = false;
    child.once('exit', () => (exited = true));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (!exited && Date.now() < deadline && !(await answers(url))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exited && (await answers(url))) {
      return {
        url,
        root: join(root, 'tree'),
        stop: async () => {
          if (!exited) {
            const gone = new Promise((r) => child.once('exit', r));
            child.kill('SIGTERM');
            await gone;
          }
          await rm(root, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    // Another process may have taken the port between freePort() and the registry's listen.
    if (attempt >= 3 || !/address already in use/.test(output)) {
      await rm(root, { recursive: true, force: true });
      throw new Error(`docker-registry did not start on ${url}:\n${output.slice(-4000)}`);
    }
  }
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export async function api(
  server: RegistryServer,
  path: string,
  init: { method?: 'GET' | 'HEAD'; accept?: string } = {},
): Promise<ApiResponse> {
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'GET',
    headers: init.accept !== undefined ? { accept: init.accept } : {},
    redirect: 'manual',
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body };
}

/** The next page of a paginated listing from its RFC 5988 `Link: <...>; rel="next"` header. */
export function nextLink(headers: Headers): string | null {
  const link = headers.get('link');
  if (link === null) return null;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return m === null ? null : m[1]!;
}

/** Every repository of `/v2/_catalog`, `pageSize` at a time, following `Link` headers. */
export async function catalog(
  server: RegistryServer,
  pageSize: number,
): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let pages = 0;
  let path: string | null = `/v2/_catalog?n=${pageSize}`;
  while (path !== null) {
    const res = await api(server, path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${res.body.toString()}`);
    const page = JSON.parse(res.body.toString('utf8')) as { repositories: string[] | null };
    names.push(...(page.repositories ?? []));
    pages += 1;
    path = nextLink(res.headers);
  }
  return { names, pages };
}

/** Every tag of `/v2/<repo>/tags/list`, following `Link` headers when the registry paginates. */
export async function tagList(server: RegistryServer, repo: string): Promise<string[]> {
  const tags: string[] = [];
  let path: string | null = `/v2/${repo}/tags/list`;
  while (path !== null) {
    const res = await api(server, path);
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${res.body.toString()}`);
    const page = JSON.parse(res.body.toString('utf8')) as { name: string; tags: string[] | null };
    if (page.name !== repo) throw new Error(`GET ${path} answered for repository ${page.name}`);
    tags.push(...(page.tags ?? []));
    path = nextLink(res.headers);
  }
  return tags;
}
