/**
 * No Docker engine runs here, so the Dockerfile is checked by parsing it (issue 2 §7): multi-stage on
 * a supported Node LTS slim image, `npm ci` and the build in the first stage, production
 * dependencies only in the final stage, a non-root user, `ENTRYPOINT ["regdb"]` resolving to the
 * package's bin, and a .dockerignore that keeps node_modules and the like out of the context.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  image: string;
  name?: string;
  body: Instruction[];
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    // Comment lines are dropped, also inside a continuation (Docker does the same).
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m !== null) out.push({ op: (m[1] as string).toUpperCase(), args: m[2] as string });
  }
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (m === null) throw new Error(`unparsable FROM ${ins.args}`);
      stages.push({ image: m[1] as string, ...(m[2] !== undefined ? { name: m[2] } : {}), body: [] });
    } else {
      const current = stages[stages.length - 1];
      if (current === undefined) throw new Error(`${ins.op} before FROM`);
      current.body.push(ins);
    }
  }
  return stages;
}

function runs(stage: Stage): string[] {
  return stage.body.filter((i) => i.op === 'RUN').map((i) => i.args);
}

/** End of life of the Node.js LTS lines (the Node.js release schedule, nodejs.org/en/about/previous-releases). */
const LTS_END_OF_LIFE: Record<number, string> = {
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

/** node:22-slim, node:22.11-bookworm-slim -> 22. */
function nodeMajor(image: string): number {
  const m = /^node:(\d+)(?:\.[\d.]+)?-(?:[a-z]+-)?slim$/.exec(image);
  if (m === null) throw new Error(`${image} is not a node slim image`);
  return Number(m[1]);
}

describe('Dockerfile', () => {
  const stages = stagesOf(parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')));
  const first = stages[0] as Stage;
  const final = stages[stages.length - 1] as Stage;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

  it('is multi-stage on a Node LTS slim image supported past 2027, and one package.json engines allows', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const engines = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
    ).engines.node;
    for (const s of stages) {
      const major = nodeMajor(s.image);
      const eol = LTS_END_OF_LIFE[major];
      expect(eol, `node ${major} is not an LTS line`).toBeDefined();
      expect(eol! > '2027-12-31', `node ${major} reaches end of life on ${eol}`).toBe(true);
      expect(engines.split('||').map((r) => r.trim())).toContain(`^${major}.0.0`);
    }
  });

  it('installs with npm ci and builds in the first stage', () => {
    const r = runs(first);
    expect(r.some((c) => /\bnpm ci\b/.test(c) && !/--omit=dev/.test(c))).toBe(true);
    expect(r.some((c) => /\bnpm run build\b/.test(c))).toBe(true);
  });

  it('the final stage has production dependencies only and no compiler run', () => {
    const r = runs(final);
    const installs = r.filter((c) => /\bnpm (ci|install|i)\b/.test(c));
    expect(installs.length).toBeGreaterThan(0);
    for (const c of installs) expect(c).toMatch(/\bnpm ci --omit=dev\b/);
    expect(r.some((c) => /\bnpm run build\b|\btsc\b/.test(c))).toBe(false);
    const copies = final.body.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies).toContain(`--from=${first.name ?? '0'} /app/dist ./dist`);
    // Nothing but package files and the compiled output come from the build context.
    for (const c of copies.filter((c) => !c.startsWith('--from='))) {
      expect(c).toBe('package.json package-lock.json ./');
    }
  });

  it('runs as a non-root user, set before the entry point', () => {
    const users = final.body.map((i, n) => ({ ...i, n })).filter((i) => i.op === 'USER');
    const last = users[users.length - 1];
    expect(last).toBeDefined();
    expect(last?.args).not.toMatch(/^(root|0)(:|$)/);
    const entry = final.body.findIndex((i) => i.op === 'ENTRYPOINT');
    expect(entry).toBeGreaterThan(last?.n ?? Infinity);
  });

  it('ENTRYPOINT ["regdb"] resolves to the package bin through /usr/local/bin', () => {
    const entry = final.body.filter((i) => i.op === 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    expect(JSON.parse(entry[0]?.args as string)).toEqual(['regdb']);
    expect(pkg.bin.regdb).toBe('dist/src/cli/main.js');
    expect(runs(final).some((c) => c.includes(`ln -s /app/${pkg.bin.regdb} /usr/local/bin/regdb`))).toBe(
      true,
    );
    expect(runs(first).some((c) => c.includes(`chmod 0755 ${pkg.bin.regdb}`))).toBe(true);
    // node:24-slim is Debian 12 or later: its coreutils env understands -S (the shebang passes node flags).
    expect(readFileSync(join(ROOT, 'src', 'cli', 'main.ts'), 'utf8')).toMatch(
      /^#!\/usr\/bin\/env (-S )?node[ \n]/,
    );
  });

  it('.dockerignore keeps dependencies, build output, VCS data and tests out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.git', '.regdb', 'test', 'fixtures'])
      expect(ignored).toContain(p);
    for (const p of ['src', 'drivers', 'package.json', 'package-lock.json']) expect(ignored).not.toContain(p);
  });
});
