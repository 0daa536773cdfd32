/**
 * Issue 17 §2, the filesystem driver on damaged entries: a read resolves and checks a path before
 * opening it (a FIFO is never opened, so nothing hangs; nothing outside the root is opened), per-entry
 * faults are typed (UnreadablePathError, InvalidPathError), and a walk reports each entry it cannot
 * follow or name through `onUnreadable` and goes on.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileInfo } from '../../drivers/driver.js';
import { InvalidPathError, PathNotFoundError, UnreadablePathError } from '../../drivers/errors.js';
import { FilesystemDriver } from '../../drivers/filesystem.js';

let base: string;
let root: string;
let driver: FilesystemDriver;
const OLD = new Date('2001-01-01T00:00:00Z');

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'regdb-drivers-damaged-'));
  root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'd', 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'd', 'ok'), 'fine');
  writeFileSync(join(outside, 'secret'), 'outside');
  execFileSync('mkfifo', [join(root, 'd', 'fifo')]);
  execFileSync('mkfifo', [join(outside, 'fifo')]);
  symlinkSync(join(outside, 'fifo'), join(root, 'd', 'to-outside-fifo'));
  symlinkSync(join(outside, 'secret'), join(root, 'd', 'to-outside-file'));
  symlinkSync(outside, join(root, 'd', 'to-outside-dir'));
  symlinkSync(join(root, 'd', 'loop'), join(root, 'd', 'loop'));
  writeFileSync(Buffer.concat([Buffer.from(join(root, 'd', 'bad')), Buffer.from([0xff])]), 'x');
  // Folders on the way: one out of the root (through a symlink), one symlinked inside it.
  mkdirSync(join(outside, 'sub'));
  writeFileSync(join(outside, 'sub', 'x'), 'outside');
  symlinkSync(outside, join(root, 'away'));
  mkdirSync(join(root, 'real', 'sub'), { recursive: true });
  writeFileSync(join(root, 'real', 'sub', 'x'), 'inside');
  symlinkSync(join(root, 'real', 'sub'), join(root, 'real', 'alias'));
  symlinkSync(join(root, 'real'), join(root, 'linked'));
  for (const f of ['secret', 'fifo', '.', 'sub', 'sub/x']) utimesSync(join(outside, f), OLD, new Date());
  driver = new FilesystemDriver({ rootDirectory: root });
});

afterAll(async () => {
  await driver?.close();
  if (base) rmSync(base, { recursive: true, force: true });
});

const opts = { maxBytes: 1000 };

describe('getContent and reader on damaged entries', () => {
  it('a FIFO is refused without being opened (no hang)', async () => {
    await expect(driver.getContent('/d/fifo', opts)).rejects.toBeInstanceOf(UnreadablePathError);
    await expect(driver.getContent('/d/fifo', opts)).rejects.toThrow(/named pipe/);
    await expect(driver.reader('/d/fifo')).rejects.toBeInstanceOf(UnreadablePathError);
  });

  it('symlinks out of the root are refused before opening: FIFO, file', async () => {
    await expect(driver.getContent('/d/to-outside-fifo', opts)).rejects.toBeInstanceOf(InvalidPathError);
    await expect(driver.getContent('/d/to-outside-file', opts)).rejects.toBeInstanceOf(InvalidPathError);
    await expect(driver.reader('/d/to-outside-file')).rejects.toBeInstanceOf(InvalidPathError);
  });

  it('a symlink loop is an unreadable entry (ELOOP), in reads and stats', async () => {
    await expect(driver.getContent('/d/loop', opts)).rejects.toBeInstanceOf(UnreadablePathError);
    await expect(driver.stat('/d/loop')).rejects.toBeInstanceOf(UnreadablePathError);
  });

  it('a folder on the way that leaves the root is refused; one symlinked inside it reads', async () => {
    // Again and again: a reader thread caches a folder's real path from its second read on.
    for (let round = 0; round < 8; round++) {
      await expect(driver.getContent('/away/sub/x', opts)).rejects.toBeInstanceOf(InvalidPathError);
      await expect(driver.getContent('/away/secret', opts)).rejects.toBeInstanceOf(InvalidPathError);
      expect((await driver.getContent('/real/alias/x', opts)).toString()).toBe('inside');
      expect((await driver.getContent('/real/sub/x', opts)).toString()).toBe('inside');
      expect((await driver.getContent('/linked/sub/x', opts)).toString()).toBe('inside');
    }
  });

  it('a directory reads as not found; a good file still reads', async () => {
    await expect(driver.getContent('/d/sub', opts)).rejects.toBeInstanceOf(PathNotFoundError);
    expect((await driver.getContent('/d/ok', opts)).toString()).toBe('fine');
  });
});

describe('walk', () => {
  it('reports each entry it cannot follow or name, and yields the rest', async () => {
    const unreadable: [string, string][] = [];
    const files: FileInfo[] = [];
    for await (const f of driver.walk('/d', { onUnreadable: (p, r) => unreadable.push([p, r]) }))
      files.push(f);
    expect(files.map((f) => f.path)).toEqual(['/d/ok']);
    expect(new Map(unreadable)).toEqual(
      new Map([
        ['/d/bad\uFFFD', 'name is not valid UTF-8'],
        ['/d/fifo', 'not a regular file or directory'],
        ['/d/loop', expect.stringMatching(/ELOOP/)],
        ['/d/to-outside-dir', 'symlink leaves the root'],
        ['/d/to-outside-fifo', 'symlink leaves the root'],
        ['/d/to-outside-file', 'symlink leaves the root'],
      ]),
    );
  });

  it('nothing outside the root was read or listed', () => {
    for (const f of ['secret', 'fifo', '.', 'sub', 'sub/x'])
      expect(statSync(join(base, 'outside', f)).atime.getTime(), f).toBe(OLD.getTime());
  });

  it('an unreadable walk top still fails the walk', async () => {
    const iterate = async (): Promise<void> => {
      for await (const _ of driver.walk('/d/loop')) void _;
    };
    await expect(iterate()).rejects.toBeInstanceOf(UnreadablePathError);
  });
});
