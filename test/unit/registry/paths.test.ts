import { describe, expect, it } from 'vitest';
import type { Digest } from '../../../src/registry/digest.js';
import {
  algorithmPath,
  blobDataPath,
  blobDirPath,
  compareBytewise,
  driverPathOfKey,
  filesystemPath,
  gcsKey,
  gcsRoot,
  layerLinkPath,
  lockfilePath,
  manifestRevisionLinkPath,
  repositoryPath,
  s3Key,
  s3KeyPrefix,
  segmentsBelow,
  tagCurrentLinkPath,
  tagIndexLinkPath,
  tagsPath,
  uploadDataPath,
  uploadHashStatePath,
  uploadStartedAtPath,
} from '../../../src/registry/paths.js';

// The group/app:1.0 manifest and its layer in fixtures/registries/real.
const app: Digest = {
  algorithm: 'sha256',
  hex: '37820c2141bf87ef7da900cafc5fe54b1c4f79c6985942e879f7c1566bad3234',
};
const layer: Digest = {
  algorithm: 'sha256',
  hex: 'f81b5d8e82c1a5fa1bc77d5fb42fdd62e6765e1737ef6a12a2ac13bfc9f9bf20',
};
const R = '/docker/registry/v2/repositories';

describe('layout paths (spec §1.1)', () => {
  it('places blobs under <alg>/<hex[0:2]>/<hex>', () => {
    expect(blobDirPath(app)).toBe(`/docker/registry/v2/blobs/sha256/37/${app.hex}`);
    expect(blobDataPath(app)).toBe(`/docker/registry/v2/blobs/sha256/37/${app.hex}/data`);
    const sha512: Digest = { algorithm: 'sha512', hex: `ab${'0'.repeat(126)}` };
    expect(blobDataPath(sha512)).toBe(`/docker/registry/v2/blobs/sha512/ab/${sha512.hex}/data`);
  });

  it('places links as the real registry wrote them', () => {
    expect(repositoryPath('group/app/sub')).toBe(`${R}/group/app/sub`);
    expect(manifestRevisionLinkPath('group/app', app)).toBe(
      `${R}/group/app/_manifests/revisions/sha256/${app.hex}/link`,
    );
    expect(tagsPath('group/app')).toBe(`${R}/group/app/_manifests/tags`);
    expect(tagCurrentLinkPath('group/app', '1.0')).toBe(`${R}/group/app/_manifests/tags/1.0/current/link`);
    expect(tagIndexLinkPath('group/app', '1.0', app)).toBe(
      `${R}/group/app/_manifests/tags/1.0/index/sha256/${app.hex}/link`,
    );
    expect(layerLinkPath('other/tool', layer)).toBe(`${R}/other/tool/_layers/sha256/${layer.hex}/link`);
  });

  it('places uploads and lockfiles', () => {
    const id = '5f2c4d0e-1b7a-4c3e-9d8f-0a1b2c3d4e5f';
    expect(uploadDataPath('a/b', id)).toBe(`${R}/a/b/_uploads/${id}/data`);
    expect(uploadStartedAtPath('a/b', id)).toBe(`${R}/a/b/_uploads/${id}/startedat`);
    expect(uploadHashStatePath('a/b', id, 'sha256', 1048576n)).toBe(
      `${R}/a/b/_uploads/${id}/hashstates/sha256/1048576`,
    );
    expect(lockfilePath('database-in-use')).toBe('/docker/registry/lockfiles/database-in-use');
    expect(lockfilePath('filesystem-in-use')).toBe('/docker/registry/lockfiles/filesystem-in-use');
  });

  it('turns +, . and ; of an algorithm into path separators', () => {
    expect(algorithmPath('sha256')).toBe('sha256');
    expect(algorithmPath('tarsum.v1+sha256')).toBe('tarsum/v1/sha256');
    expect(algorithmPath('a;b')).toBe('a/b');
  });
});

describe('backend roots (spec §1.1)', () => {
  const p = `/docker/registry/v2/blobs/sha256/37/${app.hex}/data`;

  it('filesystem: rootdirectory + driver path', () => {
    expect(filesystemPath('/var/lib/registry', p)).toBe(`/var/lib/registry${p}`);
    expect(filesystemPath('/srv/reg/', p)).toBe(`/srv/reg${p}`);
  });

  it('s3: trailing / of the root trimmed, then leading / of the key trimmed', () => {
    expect(s3Key('', p)).toBe(p.slice(1));
    expect(s3Key('/', p)).toBe(p.slice(1));
    expect(s3Key('/prefix/', p)).toBe(`prefix${p}`);
    expect(s3Key('a/b//', p)).toBe(`a/b${p}`);
    expect(s3KeyPrefix('')).toBe('');
    expect(s3KeyPrefix('/a/b/')).toBe('a/b/');
  });

  it('gcs: root stripped of surrounding / and given one trailing /', () => {
    expect(gcsRoot('')).toBe('');
    expect(gcsRoot('/')).toBe('');
    expect(gcsRoot('/a/b/')).toBe('a/b/');
    expect(gcsRoot('a')).toBe('a/');
    expect(gcsKey('', p)).toBe(p.slice(1));
    expect(gcsKey('/root/', p)).toBe(`root${p}`);
  });

  it('maps object keys back to driver paths', () => {
    expect(driverPathOfKey('a/b/', `a/b${p}`)).toBe(p);
    expect(driverPathOfKey('', p.slice(1))).toBe(p);
    expect(driverPathOfKey('a/b/', `a/c${p}`)).toBeUndefined();
    expect(driverPathOfKey('a/b/', 'a/b/')).toBeUndefined();
  });

  it('splits a path below a root', () => {
    expect(segmentsBelow(R, `${R}/a/_manifests`)).toEqual(['a', '_manifests']);
    expect(segmentsBelow(R, R)).toBeUndefined();
    expect(segmentsBelow(R, `${R}x/a`)).toBeUndefined();
  });
});

describe('compareBytewise', () => {
  it('orders as UTF-8 bytes do', () => {
    const names = [
      'a/b',
      'a',
      'a-b',
      'a.b',
      'a/_manifests',
      'a/B',
      'a/1x',
      'Z',
      '\uFFFD',
      '\u{1F600}',
      'é',
      '~',
    ];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareBytewise)).toEqual(byBytes);
    expect(byBytes.slice(0, 8)).toEqual(['Z', 'a', 'a-b', 'a.b', 'a/1x', 'a/B', 'a/_manifests', 'a/b']);
    // JavaScript's default order puts the astral character before U+FFFD; UTF-8 does not.
    expect(compareBytewise('\uFFFD', '\u{1F600}')).toBeLessThan(0);
    expect(compareBytewise('abc', 'abc')).toBe(0);
  });
});
