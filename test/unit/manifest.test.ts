import { describe, expect, it } from 'vitest';
import {
  parseManifest,
  syntheticBuildxJson,
  type ImageManifest,
  type ManifestList,
} from '../../src/registry/manifest.js';
import { goJsonString } from '../../src/registry/go-json.js';

const d = (c: string) => 'sha256:' + c.repeat(64);
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v, null, 3));

function image(payload: Buffer): ImageManifest {
  const r = parseManifest(payload);
  if (!r.ok) throw new Error(`unexpected skip ${r.reason}: ${r.detail}`);
  expect(r.manifest.kind).toBe('image');
  return r.manifest as ImageManifest;
}
function list(payload: Buffer): ManifestList {
  const r = parseManifest(payload);
  if (!r.ok) throw new Error(`unexpected skip ${r.reason}: ${r.detail}`);
  expect(r.manifest.kind).toBe('list');
  return r.manifest as ManifestList;
}
function reason(payload: Buffer): string {
  const r = parseManifest(payload);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.reason;
}

describe('parseManifest: image manifests', () => {
  it('Docker schema 2: total_size counts every layer (foreign too), the config and the payload', () => {
    const p = buf({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1469, digest: d('a') },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 2797612, digest: d('b') },
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          size: 1000,
          digest: d('c'),
          urls: ['https://example.com/layer'],
        },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 2797612, digest: d('b') },
      ],
    });
    const m = image(p);
    expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(m.config.digest).toBe(d('a'));
    expect(m.config.size).toBe(1469n);
    expect(m.layers).toHaveLength(3);
    expect(m.distributableLayers.map((l) => l.digest)).toEqual([d('b'), d('b')]);
    expect(m.totalSize).toBe(2797612n * 2n + 1000n + 1469n + BigInt(p.length));
    expect(m.nonConformant).toBe(false);
    expect(m.subject).toBeNull();
  });

  it('OCI: empty mediaType is stored as the OCI manifest type; nondistributable excluded but +zstd kept', () => {
    const p = buf({
      schemaVersion: 2,
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', size: 10, digest: d('1') },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar', size: 1, digest: d('2') },
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
          size: 2,
          digest: d('3'),
        },
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
          size: 4,
          digest: d('4'),
        },
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', size: 8, digest: d('5') },
      ],
    });
    const m = image(p);
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(m.distributableLayers.map((l) => l.digest)).toEqual([d('4'), d('5')]);
    expect(m.totalSize).toBe(1n + 2n + 4n + 8n + 10n + BigInt(p.length));
  });

  it('OCI referrer: subject and artifactType are parsed', () => {
    const m = image(
      buf({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.sbom.v1',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: d('e') },
        layers: [{ mediaType: 'application/spdx+json', size: 300, digest: d('f') }],
        subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: d('9') },
      }),
    );
    expect(m.artifactType).toBe('application/vnd.example.sbom.v1');
    expect(m.subject?.digest).toBe(d('9'));
    expect(m.subject?.size).toBe(500n);
  });

  it('a missing config gives an empty descriptor (checked later as a bad digest)', () => {
    const m = image(buf({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' }));
    expect(m.config).toEqual({ mediaType: '', digest: '', size: 0n });
    expect(m.layers).toEqual([]);
  });
});

describe('parseManifest: lists and indexes', () => {
  const entry = (c: string, arch: string) => ({
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    size: 525,
    digest: d(c),
    platform: { architecture: arch, os: 'linux' },
  });

  it('Docker manifest list', () => {
    const l = list(
      buf({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [entry('1', 'amd64'), entry('2', 'arm64')],
      }),
    );
    expect(l.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(l.manifests.map((m) => m.digest)).toEqual([d('1'), d('2')]);
  });

  it('empty mediaType with a manifests key (even an empty array) is an OCI index', () => {
    expect(list(buf({ schemaVersion: 2, manifests: [] })).mediaType).toBe(
      'application/vnd.oci.image.index.v1+json',
    );
    expect(list(buf({ schemaVersion: 2, manifests: [entry('1', 'amd64')] })).manifests).toHaveLength(1);
  });

  it('empty mediaType with "manifests": null is an OCI image manifest', () => {
    expect(image(buf({ schemaVersion: 2, manifests: null })).mediaType).toBe(
      'application/vnd.oci.image.manifest.v1+json',
    );
  });

  it('an index with blob references but no cacheconfig stays a list', () => {
    const l = list(
      buf({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 5, digest: d('1') }],
      }),
    );
    expect(l.manifests).toHaveLength(1);
  });
});

describe('parseManifest: buildx cache indexes (spec §2.8)', () => {
  const layer1 = {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: d('1'),
    size: 1404,
    annotations: {
      'containerd.io/uncompressed': d('7'),
      'buildkit/createdat': '2023-05-17T22:25:52.396770851+02:00',
    },
  };
  const layer2 = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('2'), size: 878138 };
  const cfg = { mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: d('c'), size: 1180 };

  it('converts into a non-conformant OCI manifest whose total_size uses the Go-serialised JSON', () => {
    const payload = buf({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [layer1, cfg, layer2],
    });
    const m = image(payload);
    expect(m.nonConformant).toBe(true);
    expect(m.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(m.config.digest).toBe(d('c'));
    expect(m.layers.map((l) => l.digest)).toEqual([d('1'), d('2')]);
    const expected = [
      '{',
      '   "schemaVersion": 2,',
      '   "mediaType": "application/vnd.oci.image.manifest.v1+json",',
      '   "config": {',
      '      "mediaType": "application/vnd.buildkit.cacheconfig.v0",',
      '      "size": 1180,',
      `      "digest": "${d('c')}"`,
      '   },',
      '   "layers": [',
      '      {',
      '         "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",',
      '         "size": 1404,',
      `         "digest": "${d('1')}",`,
      '         "annotations": {',
      '            "buildkit/createdat": "2023-05-17T22:25:52.396770851+02:00",',
      `            "containerd.io/uncompressed": "${d('7')}"`,
      '         }',
      '      },',
      '      {',
      '         "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",',
      '         "size": 878138,',
      `         "digest": "${d('2')}"`,
      '      }',
      '   ]',
      '}',
    ].join('\n');
    expect(syntheticBuildxJson(m.config, m.layers)).toBe(expected);
    expect(m.totalSize).toBe(1404n + 878138n + 1180n + BigInt(Buffer.byteLength(expected)));
  });

  it('without layers the synthetic JSON has "layers": null, like a nil Go slice', () => {
    const m = image(
      buf({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [cfg] }),
    );
    const json = syntheticBuildxJson(m.config, m.layers);
    expect(json.endsWith('   "layers": null\n}')).toBe(true);
    expect(m.totalSize).toBe(1180n + BigInt(json.length));
  });

  it('the last cacheconfig reference wins', () => {
    const cfg2 = { ...cfg, digest: d('d') };
    const m = image(buf({ schemaVersion: 2, manifests: [cfg, layer2, cfg2] }));
    expect(m.config.digest).toBe(d('d'));
    expect(m.layers.map((l) => l.digest)).toEqual([d('2')]);
  });

  it('a buildx index that also references manifests is skipped', () => {
    const man = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('5'), size: 100 };
    expect(reason(buf({ schemaVersion: 2, manifests: [cfg, man] }))).toBe('buildx-unexpected-manifests');
  });
});

describe('parseManifest: skips', () => {
  it('classifies every bad payload without throwing', () => {
    expect(reason(Buffer.alloc(0))).toBe('manifest-empty');
    expect(reason(Buffer.from('{not json'))).toBe('manifest-unparsable');
    expect(reason(Buffer.from('[1,2]'))).toBe('manifest-invalid');
    expect(reason(buf({ schemaVersion: '2' }))).toBe('manifest-invalid');
    expect(reason(buf({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }))).toBe('schema1');
    expect(reason(buf({ schemaVersion: 3 }))).toBe('unknown-schema-version');
    expect(reason(buf({ mediaType: 'application/vnd.oci.image.manifest.v1+json' }))).toBe(
      'unknown-schema-version',
    );
    expect(reason(buf({ schemaVersion: 2, mediaType: 'application/x-custom' }))).toBe('unknown-media-type');
    expect(reason(buf({ schemaVersion: 2, layers: {} }))).toBe('manifest-invalid');
    expect(reason(buf({ schemaVersion: 2, config: { size: 1.5 } }))).toBe('manifest-invalid');
    expect(reason(buf({ schemaVersion: 2, config: { size: 2 ** 60 } }))).toBe('manifest-invalid');
  });
});

describe('goJsonString', () => {
  it('escapes like Go encoding/json', () => {
    expect(goJsonString('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"');
    expect(goJsonString('\u2028\u2029')).toBe('"\\u2028\\u2029"');
    expect(goJsonString('\b\f\n\r\t\u0001"\\')).toBe('"\\b\\f\\n\\r\\t\\u0001\\"\\\\"');
    expect(goJsonString('é😀')).toBe('"é😀"');
    expect(goJsonString('x\ud800y')).toBe('"x\ufffdy"');
  });
});
