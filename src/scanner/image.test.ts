import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  layer,
  pushBlob,
  pushImage,
  pushIndex,
  sha256,
  startRegistry,
  startTokenFront,
  tar,
  type BuiltLayer,
  type TarEntry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { RegistryClient } from '../registry/client.ts';
import { LayerCache } from './cache.ts';
import { scanImage } from './image.ts';
import { toCycloneDx } from './sbom.ts';
import { DEFAULT_LIMITS, type Inventory, type ScanLimits, type ScanOutcome } from './types.ts';

const fixtures = join(import.meta.dirname, '../../test/fixtures/images');
const fixture = (p: string): Buffer => readFileSync(join(fixtures, p));
const dpkgStatus = fixture('dpkg/status').toString('utf8');

function inventoryOf(outcome: ScanOutcome): Inventory {
  if (outcome.status !== 'inventory')
    throw new Error(`scan failed: ${outcome.reason}: ${outcome.message}`);
  return outcome.inventory;
}

/** The status file without one package's stanza, as `apt-get remove` leaves it. */
function withoutPackage(status: string, name: string): string {
  return status
    .split('\n\n')
    .filter((s) => !s.startsWith(`Package: ${name}\n`))
    .join('\n\n');
}

const osReleaseFiles = (text: string): TarEntry[] => [
  { path: 'etc/', type: 'dir' },
  { path: 'usr/lib/os-release', content: text },
  { path: 'etc/os-release', type: 'symlink', linkpath: '../usr/lib/os-release' },
];

describe('scanImage against a real registry', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let cacheDir: string;
  const scan = (
    ref: string,
    limits: Partial<ScanLimits> = {},
    extra: { cache?: LayerCache } = {},
  ) => scanImage(`${registry.host}/${ref}`, { client, limits, ...extra });

  // A Debian image in three layers: base system (gzip), an update that removes tzdata and adds
  // language packages (zstd), and a cleanup layer with whiteouts (uncompressed).
  const base = layer(
    [
      ...osReleaseFiles(fixture('dpkg/os-release').toString()),
      { path: 'var/lib/dpkg/status', content: dpkgStatus },
    ],
    'gzip',
  );
  const update = layer(
    [
      { path: 'var/lib/dpkg/status', content: withoutPackage(dpkgStatus, 'tzdata') },
      {
        path: 'usr/lib/node_modules/semver/package.json',
        content: JSON.stringify({ name: 'semver', version: '7.6.3' }),
      },
      {
        path: 'usr/lib/node_modules/@scope/left/package.json',
        content: JSON.stringify({ name: '@scope/left', version: '1.0.0' }),
      },
      {
        path: 'usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA',
        content: fixture('python/PyYAML-6.0.METADATA'),
      },
      {
        path: 'opt/py/PyJWT-2.6.0.egg-info/PKG-INFO',
        content: fixture('python/PyJWT-2.6.0.PKG-INFO'),
      },
      { path: 'opt/app/lib/commons-cli-1.5.0.jar', content: fixture('java/commons-cli-1.5.0.jar') },
    ],
    'zstd',
  );
  const cleanup = layer(
    [
      { path: 'usr/lib/node_modules/@scope/.wh.left', content: '' },
      { path: 'opt/py/.wh..wh..opq', content: '' },
      { path: 'opt/py/other.txt', content: 'kept' },
    ],
    'none',
  );
  const debian = buildImage({
    layers: [base, update, cleanup],
    env: ['PATH=/bin', 'NODE_VERSION=22.11.0', 'PYTHON_VERSION=3.12.7'],
  });

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({
      insecureRegistries: [registry.host],
      retries: 1,
      backoffBaseMs: 10,
    });
    cacheDir = mkdtempSync(join(tmpdir(), 'ki-cache-'));
    await pushImage(registry.url, 'debian-app', 'v1', debian);
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (cacheDir !== undefined) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('lists the OS packages of the top dpkg database with the layer that introduced each', async () => {
    const inv = inventoryOf(await scan('debian-app:v1'));
    expect(inv.os).toMatchObject({
      family: 'debian',
      version: '12',
      ecosystem: 'Debian:12',
      supported: true,
    });
    const debs = inv.packages.filter((p) => p.type === 'deb');
    const names = [...dpkgStatus.matchAll(/^Package: (.+)$/gm)]
      .map((m) => m[1])
      .filter((n) => n !== 'tzdata');
    expect(debs.map((p) => p.name).sort()).toEqual(names.sort());
    expect(new Set(debs.map((p) => p.layerDigest))).toEqual(new Set([base.digest]));
    const libc = debs.find((p) => p.name === 'libc6')!;
    expect(libc.purl).toBe(`pkg:deb/debian/libc6@${libc.version}?arch=amd64&distro=debian-12`);
    expect(libc.filePath).toBe('var/lib/dpkg/status');
  });

  it('honours whiteouts and opaque directories from later layers', async () => {
    const inv = inventoryOf(await scan('debian-app:v1'));
    const lang = inv.packages
      .filter((p) => p.type !== 'deb')
      .map((p) => `${p.type}:${p.name}@${p.version}`);
    expect(lang.sort()).toEqual(['maven:commons-cli@1.5.0', 'npm:semver@7.6.3', 'pypi:PyYAML@6.0']);
    const semver = inv.packages.find((p) => p.name === 'semver')!;
    expect(semver).toMatchObject({
      purl: 'pkg:npm/semver@7.6.3',
      filePath: 'usr/lib/node_modules/semver/package.json',
      layerDigest: update.digest,
    });
    expect(inv.packages.find((p) => p.type === 'maven')!.purl).toBe(
      'pkg:maven/commons-cli/commons-cli@1.5.0',
    );
  });

  it('reads runtimes from the config environment and reports what it read', async () => {
    const inv = inventoryOf(await scan('debian-app:v1'));
    expect(inv.runtimes).toEqual([
      { name: 'node', version: '22.11.0', source: 'env:NODE_VERSION' },
      { name: 'python', version: '3.12.7', source: 'env:PYTHON_VERSION' },
    ]);
    expect(inv.image).toMatchObject({ digest: debian.manifestDigest, platform: 'linux/amd64' });
    expect(inv.layers.map((l) => l.diffId)).toEqual([base.diffId, update.diffId, cleanup.diffId]);
    const raw = [base, update, cleanup].reduce(
      (n, l) => n + (l.compression === 'none' ? l.blob.length : 0),
      0,
    );
    expect(inv.stats.uncompressedBytes).toBeGreaterThan(raw);
    expect(inv.stats.bytesDownloaded).toBe(
      base.blob.length + update.blob.length + cleanup.blob.length,
    );
  });

  it('matches the golden inventory and CycloneDX document (UPDATE_GOLDEN=1 rewrites them)', async () => {
    const inv = inventoryOf(await scan('debian-app:v1'));
    // Stable across runs and machines: no registry port, no timings, digests as layer numbers.
    const names = new Map<string, string>();
    inv.layers.forEach((l, i) => names.set(l.digest, `<layer ${i + 1}>`));
    const normalise = (doc: unknown): unknown =>
      JSON.parse(
        JSON.stringify(doc, (key, value: unknown) => {
          // Timings and compressed sizes depend on the machine and the zlib version.
          if (['durationMs', 'compressedSize', 'bytesDownloaded', 'size'].includes(key)) return 0;
          if (typeof value !== 'string') return value;
          let v = value.split(registry.host).join('<registry>');
          for (const [digest, name] of names) v = v.split(digest).join(name);
          return v.replace(/sha256:[0-9a-f]{64}/g, '<digest>');
        }),
      );
    const cdx = toCycloneDx(inv, [], {
      timestamp: '2026-01-01T00:00:00Z',
      serial: 'urn:uuid:00000000-0000-4000-8000-000000000000',
      toolVersion: '0.0.0-test',
    });
    for (const [file, doc] of [
      ['debian-app.inventory.json', inv],
      ['debian-app.cdx.json', cdx],
    ] as const) {
      const path = join(fixtures, 'golden', file);
      const text = `${JSON.stringify(normalise(doc), null, 2)}\n`;
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
      expect(text).toBe(readFileSync(path, 'utf8'));
    }
  });

  it('serves a second scan from the layer cache with the same result, and survives its deletion', async () => {
    const cache = new LayerCache(cacheDir, DEFAULT_LIMITS);
    const first = inventoryOf(await scan('debian-app:v1', {}, { cache }));
    const second = inventoryOf(await scan('debian-app:v1', {}, { cache }));
    expect(first.layers.every((l) => !l.fromCache)).toBe(true);
    expect(second.layers.every((l) => l.fromCache)).toBe(true);
    expect(second.stats.bytesDownloaded).toBe(0);
    expect(second.packages).toEqual(first.packages);
    rmSync(cacheDir, { recursive: true, force: true });
    const third = inventoryOf(await scan('debian-app:v1', {}, { cache }));
    expect(third.packages).toEqual(first.packages);
  });

  it('reads an Alpine image in Docker format with origins and the distro qualifier', async () => {
    const image = buildImage({
      format: 'docker',
      layers: [
        [
          { path: 'etc/os-release', content: fixture('apk/os-release') },
          { path: 'lib/apk/db/installed', content: fixture('apk/installed') },
        ],
      ],
    });
    await pushImage(registry.url, 'alpine-app', '3.20', image);
    const inv = inventoryOf(await scan('alpine-app:3.20'));
    expect(inv.os?.ecosystem).toBe('Alpine:v3.20');
    const ssl = inv.packages.find((p) => p.name === 'ssl_client')!;
    expect(ssl).toMatchObject({ sourceName: 'busybox', version: '1.36.1-r29' });
    expect(ssl.purl).toBe('pkg:apk/alpine/ssl_client@1.36.1-r29?arch=x86_64&distro=alpine-3.20.1');
  });

  it('reads a real rpm sqlite database from an image', async () => {
    const image = buildImage({
      layers: [
        [
          { path: 'etc/os-release', content: 'ID="rocky"\nVERSION_ID="9.4"\nNAME="Rocky Linux"\n' },
          { path: 'var/lib/rpm/rpmdb.sqlite', content: fixture('rpm/rpmdb.sqlite') },
        ],
      ],
    });
    await pushImage(registry.url, 'rocky-app', '9', image);
    const inv = inventoryOf(await scan('rocky-app:9'));
    expect(inv.os?.ecosystem).toBe('Rocky Linux:9');
    const lib = inv.packages.find((p) => p.name === 'ki-lib')!;
    expect(lib.version).toBe('3:2.0~rc1-5.el9');
    expect(lib.purl).toBe(
      'pkg:rpm/rocky-linux/ki-lib@2.0~rc1-5.el9?arch=x86_64&distro=rocky-9.4&epoch=3',
    );
    expect(inv.packages.filter((p) => p.type === 'rpm')).toHaveLength(3);
  });

  it('reads distroless status.d files and Go build info', async () => {
    const goBinary = readFileSync('/usr/bin/umoci');
    const image = buildImage({
      layers: [
        [
          {
            path: 'etc/os-release',
            content: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Distroless"\n',
          },
          {
            path: 'var/lib/dpkg/status.d/base',
            content: 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n',
          },
          {
            path: 'var/lib/dpkg/status.d/libssl3',
            content: 'Package: libssl3\nSource: openssl\nVersion: 3.0.13-1~deb12u1\n',
          },
          { path: 'var/lib/dpkg/status.d/libssl3.md5sums', content: 'abc  usr/lib/x\n' },
          { path: 'usr/bin/umoci', content: goBinary, mode: 0o755 },
        ],
      ],
    });
    await pushImage(registry.url, 'distroless', 'v1', image);
    const inv = inventoryOf(await scan('distroless:v1'));
    expect(
      inv.packages
        .filter((p) => p.type === 'deb')
        .map((p) => `${p.name}<${p.sourceName}`)
        .sort(),
    ).toEqual(['base-files<base-files', 'libssl3<openssl']);
    const stdlib = inv.packages.find((p) => p.type === 'golang' && p.name === 'stdlib')!;
    expect(stdlib.filePath).toBe('usr/bin/umoci');
    expect(stdlib.version).toMatch(/^v1\.\d+\.\d+$/);
  });

  it('scans the platform asked for from a multi-arch index', async () => {
    const mk = (arch: string) =>
      buildImage({
        platform: `linux/${arch}`,
        layers: [
          [
            { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
            { path: 'lib/apk/db/installed', content: `P:only-${arch}\nV:1.0-r0\nA:${arch}\n` },
          ],
        ],
      });
    await pushIndex(registry.url, 'multi', 'v1', [mk('amd64'), mk('arm64')]);
    const arm = inventoryOf(
      await scanImage(`${registry.host}/multi:v1`, {
        client,
        platform: { os: 'linux', architecture: 'arm64' },
      }),
    );
    expect(arm.packages.map((p) => p.name)).toEqual(['only-arm64']);
    const amd = inventoryOf(await scan('multi:v1'));
    expect(amd.packages.map((p) => p.name)).toEqual(['only-amd64']);
    expect(amd.image?.indexDigest).toBeDefined();
  });

  it.each([
    ['-19', '--long=27'],
    ['--ultra', '-22'],
  ])('decodes zstd layers made by the zstd tool with %s %s', async (...flags) => {
    const raw = tar([
      { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
      { path: 'lib/apk/db/installed', content: fixture('apk/installed') },
      { path: 'usr/share/filler', content: Buffer.alloc(3 * 1024 * 1024, 'abcdefgh') },
    ]);
    const blob = execFileSync('zstd', ['-q', '-c', ...flags], {
      input: raw,
      maxBuffer: 64 * 1024 * 1024,
    });
    const l: BuiltLayer = {
      blob,
      digest: sha256(blob),
      diffId: sha256(raw),
      mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      compression: 'zstd',
    };
    const tag = flags.join('').replace(/[^a-z0-9]/g, '');
    await pushImage(registry.url, 'zstd-tool', tag, buildImage({ layers: [l] }));
    const inv = inventoryOf(await scan(`zstd-tool:${tag}`));
    expect(inv.packages.map((p) => p.name)).toContain('libcrypto3');
  });

  it('reports an image with neither an OS nor packages as UNSUPPORTED_OS', async () => {
    await pushImage(
      registry.url,
      'scratch',
      'v1',
      buildImage({ layers: [[{ path: 'hello', content: 'hi' }]] }),
    );
    const outcome = await scan('scratch:v1');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'UNSUPPORTED_OS' });
  });

  it('reports a Windows image as UNSUPPORTED_OS', async () => {
    await pushImage(
      registry.url,
      'win',
      'v1',
      buildImage({ platform: 'windows/amd64', layers: [[{ path: 'x', content: 'y' }]] }),
    );
    const outcome = await scanImage(`${registry.host}/win:v1`, {
      client,
      platform: { os: 'windows', architecture: 'amd64' },
    });
    expect(outcome).toMatchObject({ status: 'failed', reason: 'UNSUPPORTED_OS' });
  });

  it('reports an image whose layers are larger than the maximum as IMAGE_SIZE_EXCEEDED', async () => {
    const outcome = await scan('debian-app:v1', { maxCompressedBytes: 1000 });
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') {
      expect(outcome.reason).toBe('IMAGE_SIZE_EXCEEDED');
      expect(outcome.message).toContain('1000-byte maximum');
    }
  });

  it('reports a missing image as INTERNAL_ERROR naming it', async () => {
    const outcome = await scan('nothing:here');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'INTERNAL_ERROR' });
    if (outcome.status === 'failed') expect(outcome.message).toContain('not found');
  });
});

describe('scanImage on hostile images', { timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  const push = async (name: string, layers: BuiltLayer[], diffIds?: string[]): Promise<void> => {
    await pushImage(
      registry.url,
      name,
      'v1',
      buildImage(diffIds === undefined ? { layers } : { layers, diffIds }),
    );
  };
  const rawLayer = (
    blob: Buffer,
    diffId: string,
    mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip',
  ): BuiltLayer => ({
    blob,
    digest: sha256(blob),
    diffId,
    mediaType,
    compression: 'gzip',
  });
  const expectFailure = async (
    name: string,
    reason: string,
    message: RegExp,
    limits: Partial<ScanLimits> = {},
    maxMs = 10_000,
  ): Promise<void> => {
    const started = performance.now();
    const outcome = await scanImage(`${registry.host}/${name}:v1`, { client, limits });
    expect(performance.now() - started).toBeLessThan(maxMs);
    expect(outcome.status).toBe('failed');
    if (outcome.status === 'failed') {
      expect(outcome.reason).toBe(reason);
      expect(outcome.message).toMatch(message);
    }
  };

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host], retries: 0 });
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('reports corrupt gzip as a clear per-image error', async () => {
    const garbage = Buffer.from(
      '\x1f\x8b\x08\x00 this is not deflate data at all'.repeat(20),
      'latin1',
    );
    await push('corrupt-gzip', [rawLayer(garbage, sha256('x'))]);
    await expectFailure('corrupt-gzip', 'INTERNAL_ERROR', /corrupt gzip stream/);
  });

  it('reports gzip cut short inside a valid blob', async () => {
    const full = layer([{ path: 'etc/os-release', content: 'ID=alpine\n'.repeat(5000) }]);
    const cut = full.blob.subarray(0, Math.floor(full.blob.length / 2));
    await push('cut-gzip', [rawLayer(Buffer.from(cut), full.diffId)]);
    await expectFailure(
      'cut-gzip',
      'INTERNAL_ERROR',
      /layer sha256:[0-9a-f]+: corrupt gzip stream/,
    );
  });

  it('reports a blob truncated in storage as a digest failure', async () => {
    const l = layer([{ path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.3\n' }]);
    await push('truncated', [l]);
    const hex = l.digest.slice(7);
    truncateSync(
      join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'),
      10,
    );
    await expectFailure('truncated', 'INTERNAL_ERROR', /ended after 10 of/);
  });

  it('reports a layer whose content does not match the config diff_id', async () => {
    // Registries share blobs between repositories: every test here uses its own content.
    const l = layer([{ path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.1\n' }]);
    await push('wrong-diffid', [l], [sha256('something else')]);
    await expectFailure(
      'wrong-diffid',
      'INTERNAL_ERROR',
      /diff_id sha256:[0-9a-f]+, the config says/,
    );
  });

  it.each([
    ['parent-path', [{ path: '../../etc/shadow', content: 'x' }], /points outside the image root/],
    ['absolute-path', [{ path: '/etc/passwd', content: 'x' }], /is an absolute path/],
    [
      'hardlink-out',
      [{ path: 'var/lib/dpkg/status', type: 'hardlink', linkpath: '../../../etc/shadow' }],
      /hard link target .* points outside/,
    ],
  ] as [string, TarEntry[], RegExp][])(
    'refuses a layer with %s entries',
    async (name, entries, message) => {
      await push(name, [layer(entries)]);
      await expectFailure(name, 'INTERNAL_ERROR', message);
    },
  );

  it('ignores symlinks pointing outside the root: they are never followed', async () => {
    await push('symlink-out', [
      layer([
        { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
        { path: 'lib/apk/db/installed', type: 'symlink', linkpath: '/../../../../etc/shadow' },
        { path: 'usr/lib/apk/db/installed', content: 'P:real\nV:1-r0\n' },
      ]),
    ]);
    const outcome = await scanImage(`${registry.host}/symlink-out:v1`, { client });
    expect(inventoryOf(outcome).packages.map((p) => p.name)).toEqual(['real']);
  });

  it('reports a file that claims 10 GB but ends early as an invalid tar', async () => {
    await push('claims-10g', [
      layer([
        {
          path: 'var/lib/dpkg/status',
          content: 'Package: a\nVersion: 1\n',
          claimedSize: 10 * 1024 ** 3,
        },
      ]),
    ]);
    await expectFailure('claims-10g', 'INTERNAL_ERROR', /invalid tar/);
  });

  it('stops a tar bomb at the uncompressed-size limit', async () => {
    const bomb = layer([{ path: 'zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    expect(bomb.blob.length).toBeLessThan(1024 * 1024);
    await push('bomb', [bomb]);
    await expectFailure('bomb', 'IMAGE_SIZE_EXCEEDED', /uncompressed size/, {
      maxUncompressedBytes: 16 * 1024 * 1024,
    });
  });

  it('stops an image with a million entries at the entry limit', async () => {
    const gz = createGzip({ level: 1 });
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((resolve) => gz.on('end', resolve));
    const hash = createHash('sha256');
    const write = (b: Buffer): void => {
      hash.update(b);
      gz.write(b);
    };
    // One header template, renamed a million times (names of equal length keep it simple).
    const template = tar([{ path: 'f/0000000', content: '' }]).subarray(0, 512);
    const batch = Buffer.alloc(512 * 10_000);
    for (let start = 0; start < 1_000_000; start += 10_000) {
      for (let i = 0; i < 10_000; i++) {
        const h = batch.subarray(i * 512, (i + 1) * 512);
        template.copy(h);
        h.write(`f/${String(start + i).padStart(7, '0')}`, 0, 'latin1');
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (let j = 0; j < 512; j++) sum += h[j]!;
        h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      }
      write(Buffer.from(batch));
    }
    write(Buffer.alloc(1024));
    gz.end();
    await done;
    const blob = Buffer.concat(chunks);
    await push('million', [rawLayer(blob, `sha256:${hash.digest('hex')}`)]);
    await expectFailure('million', 'IMAGE_SIZE_EXCEEDED', /more than 500000 files/, {}, 30_000);
  });

  it('copes with very deep directory nesting', async () => {
    const deep = Array.from({ length: 5000 }, () => 'd').join('/');
    await push('deep', [
      layer([
        { path: `${deep}/node_modules/x/package.json`, content: '{"name":"x","version":"1.0.0"}' },
        { path: `${deep}/.wh..wh..opq`, content: '' },
      ]),
    ]);
    const outcome = await scanImage(`${registry.host}/deep:v1`, { client });
    expect(inventoryOf(outcome).packages.map((p) => p.purl)).toEqual(['pkg:npm/x@1.0.0']);
  });

  it('gives up when the whole scan takes longer than its time limit', async () => {
    const l = layer([{ path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.2\n' }]);
    await push('slow', [l]);
    const front = await startTokenFront(registry);
    front.setDelay(3000);
    const slowClient = new RegistryClient({ insecureRegistries: [front.host], retries: 0 });
    try {
      const started = performance.now();
      const outcome = await scanImage(`${front.host}/slow:v1`, {
        client: slowClient,
        limits: { timeoutMs: 500 },
      });
      expect(performance.now() - started).toBeLessThan(2500);
      expect(outcome).toMatchObject({
        status: 'failed',
        reason: 'INTERNAL_ERROR',
        message: 'scan did not finish within 500 ms',
      });
    } finally {
      await slowClient.close();
      await front.stop();
    }
  });

  it('downloads a layer again once when the connection breaks, and names it when that fails too', async () => {
    const l = layer([
      { path: 'usr/share/filler', content: randomBytes(200_000) },
      { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.4\n' },
      { path: 'lib/apk/db/installed', content: 'P:after-the-cut\nV:1.0-r0\n' },
    ]);
    await push('cut', [l]);
    const front = await startTokenFront(registry);
    const frontClient = new RegistryClient({ insecureRegistries: [front.host], retries: 0 });
    try {
      front.cutBlob(l.digest, 1);
      const recovered = await scanImage(`${front.host}/cut:v1`, { client: frontClient });
      expect(inventoryOf(recovered).packages.map((p) => p.name)).toEqual(['after-the-cut']);
      expect(inventoryOf(recovered).stats.entries).toBe(3);
      front.cutBlob(l.digest, 2);
      const outcome = await scanImage(`${front.host}/cut:v1`, { client: frontClient });
      expect(outcome.status).toBe('failed');
      if (outcome.status === 'failed') {
        expect(outcome.reason).toBe('INTERNAL_ERROR');
        expect(outcome.message).toContain(`layer ${l.digest}: download failed after 2 attempts`);
      }
    } finally {
      await frontClient.close();
      await front.stop();
    }
  });

  it('reports layers of a Helm chart as UNSUPPORTED_MEDIA_TYPE', async () => {
    const content = Buffer.from('chart');
    const cfg = Buffer.from('{}');
    await pushBlob(registry.url, 'helm', content);
    await pushBlob(registry.url, 'helm', cfg);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.cncf.helm.config.v1+json',
        digest: sha256(cfg),
        size: cfg.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
          digest: sha256(content),
          size: content.length,
        },
      ],
    });
    const res = await fetch(`${registry.url}/v2/helm/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    expect(res.status).toBe(201);
    const outcome = await scanImage(`${registry.host}/helm:v1`, { client });
    expect(outcome).toMatchObject({ status: 'failed', reason: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('reports an invalid reference without touching the network', async () => {
    const outcome = await scanImage('Not A Reference', { client });
    expect(outcome).toMatchObject({ status: 'failed', reason: 'INTERNAL_ERROR' });
  });
});
