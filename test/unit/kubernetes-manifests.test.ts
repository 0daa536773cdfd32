/**
 * deploy/kubernetes/ (issue 13 §3). No cluster runs here, so every manifest is validated against the
 * Kubernetes API's own schemas: kubernetes-models (npm) ships JSON-schema validators generated from
 * the Kubernetes OpenAPI spec, run with ajv. Its schemas, like the API server's, accept unknown
 * fields, so the fields the issue names are checked one by one as well, and the CLI arguments are
 * checked against regdb's own command line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pod, Secret } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'kubernetes');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

function load(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  return docs.map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJS() as Manifest;
  });
}

/** Throws the validator's message when `m` does not match its kind's schema. */
function validate(m: Manifest): void {
  const key = `${m.apiVersion}/${m.kind}`;
  const model = { 'batch/v1/Job': Job, 'v1/Pod': Pod, 'v1/Secret': Secret }[key];
  if (model === undefined) throw new Error(`no schema for ${key} in the test: add it`);
  // The models' constructors take their own typed shape; the YAML is checked by validate() instead.
  new (model as new (data: unknown) => { validate(): void })(m).validate();
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  restartPolicy: string;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string } }[];
}

function jobPod(m: Manifest): PodSpec {
  return (m.spec as { template: { spec: PodSpec } }).template.spec;
}

function one(file: string): Manifest {
  const docs = load(file);
  expect(docs).toHaveLength(1);
  return docs[0]!;
}

/** The config file a regdb container reads is the one the Secret volume mounts. */
function expectConfigFromSecret(pod: PodSpec, secretName: string): void {
  const c = pod.containers[0]!;
  const configPath = c.args.at(-1)!;
  const mount = c.volumeMounts?.find((v) => configPath.startsWith(`${v.mountPath}/`));
  expect(mount, `a volume mounted above ${configPath}`).toBeDefined();
  const volume = pod.volumes.find((v) => v.name === mount!.name);
  expect(volume?.secret?.secretName).toBe(secretName);
  const secret = one('config-secret.example.yaml') as Manifest & { stringData: Record<string, string> };
  expect(secret.metadata.name).toBe(secretName);
  expect(Object.keys(secret.stringData)).toContain(configPath.slice(mount!.mountPath.length + 1));
}

describe('deploy/kubernetes manifests', () => {
  it('has the migrate Job, the import Job, the status Pod and the config Secret', () => {
    expect(files.sort()).toEqual([
      'config-secret.example.yaml',
      'import-job.yaml',
      'import-status-pod.yaml',
      'migrate-job.yaml',
    ]);
  });

  it.each(files)('%s validates against the Kubernetes API schemas', (file) => {
    for (const m of load(file)) expect(() => validate(m)).not.toThrow();
  });

  it('the validator rejects what the API server would (it can fail)', () => {
    const job = one('import-job.yaml');
    const bad = (spec: Record<string, unknown>): Manifest => ({ ...job, spec: { ...job.spec, ...spec } });
    expect(() => validate(bad({ completionMode: 'Sharded' }))).toThrow(/completionMode/);
    expect(() => validate(bad({ completions: 'four' }))).toThrow(/completions/);
    // The schemas know the newer Job fields the import relies on (a wrong type is caught).
    expect(() => validate(bad({ backoffLimitPerIndex: 'three' }))).toThrow(/backoffLimitPerIndex/);
    expect(() => validate(bad({ podReplacementPolicy: 5 }))).toThrow(/podReplacementPolicy/);
    expect(() => validate(bad({ template: { spec: { restartPolicy: 'Never' } } }))).toThrow(/containers/);
  });

  it('the import Job is an Indexed Job of N shards that retries each index alone', () => {
    const job = one('import-job.yaml');
    const spec = job.spec as Record<string, unknown>;
    expect(spec['completionMode']).toBe('Indexed');
    const n = spec['completions'] as number;
    expect(n).toBeGreaterThan(1);
    expect(spec['parallelism']).toBe(n);
    expect(spec['backoffLimitPerIndex']).toBeGreaterThanOrEqual(1);
    expect(spec['podReplacementPolicy']).toBe('Failed');
    const pod = jobPod(job);
    expect(pod.restartPolicy).toBe('Never');
    const c = pod.containers[0]!;
    expect(c.resources?.requests?.['cpu']).toBeDefined();
    expect(c.resources?.requests?.['memory']).toBeDefined();
    // regdb takes its shard from the Job: the index from Kubernetes, the count from this env var.
    expect(c.args.slice(0, 2)).toEqual(['database', 'import']);
    expect(c.args[c.args.indexOf('--shard') + 1]).toBe('auto');
    expect(c.env?.find((e) => e.name === 'REGDB_SHARD_COUNT')?.value).toBe(String(n));
    expectConfigFromSecret(pod, 'regdb-registry-config');
  });

  it('the migrate Job runs migrate up once, with the same config', () => {
    const job = one('migrate-job.yaml');
    const spec = job.spec as Record<string, unknown>;
    expect(spec['completions'] ?? 1).toBe(1);
    const pod = jobPod(job);
    expect(pod.restartPolicy).toBe('Never');
    const c = pod.containers[0]!;
    expect(c.args.slice(0, 3)).toEqual(['database', 'migrate', 'up']);
    expect(c.resources?.requests?.['cpu']).toBeDefined();
    expect(c.resources?.requests?.['memory']).toBeDefined();
    expectConfigFromSecret(pod, 'regdb-registry-config');
  });

  it('every container runs the image built from the Dockerfile, whose entry point is regdb', () => {
    const dockerfile = readFileSync(join(DIR, '..', '..', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["regdb"\]$/m);
    const images = new Set<string>();
    for (const f of ['import-job.yaml', 'migrate-job.yaml']) images.add(jobPod(one(f)).containers[0]!.image);
    const status = one('import-status-pod.yaml').spec as unknown as PodSpec;
    images.add(status.containers[0]!.image);
    expect([...images]).toHaveLength(1);
    expect(status.containers[0]!.args.slice(0, 2)).toEqual(['database', 'import-status']);
  });
});
