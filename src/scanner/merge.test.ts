import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LayerCache } from './cache.ts';
import type { LayerAnalysis } from './layer.ts';
import { mergeLayers, type MergeInput } from './merge.ts';
import { DEFAULT_LIMITS, type RawPackage } from './types.ts';

const deb = (name: string, version: string): RawPackage => ({
  type: 'deb',
  name,
  version,
  arch: 'amd64',
});
const osRelease = {
  path: 'etc/os-release',
  analyzer: 'os-release',
  osRelease: { ID: 'debian', VERSION_ID: '12' },
};
const digest = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

function layer(
  n: number,
  files: LayerAnalysis['files'],
  removed: string[] = [],
  opaqueDirs: string[] = [],
): MergeInput {
  return { digest: digest(n), analysis: { files, removed, opaqueDirs } };
}

const status = (...pkgs: RawPackage[]) => ({
  path: 'var/lib/dpkg/status',
  analyzer: 'dpkg',
  packages: pkgs,
});

describe('mergeLayers', () => {
  it('attributes each package to the layer whose database first listed it unchanged', () => {
    const { packages } = mergeLayers([
      layer(1, [osRelease, status(deb('libc6', '2.36-9'), deb('zlib1g', '1.2.13'))]),
      layer(
        2,
        [status(deb('libc6', '2.36-9'), deb('zlib1g', '1.2.13'), deb('curl', '7.88'))],
        ['var/lib/dpkg/status'],
      ),
      layer(
        3,
        [status(deb('libc6', '2.36-9+deb12u4'), deb('zlib1g', '1.2.13'), deb('curl', '7.88'))],
        ['var/lib/dpkg/status'],
      ),
    ]);
    const origin = Object.fromEntries(packages.map((p) => [p.name, p.layerDigest]));
    expect(origin).toEqual({ libc6: digest(3), zlib1g: digest(1), curl: digest(2) });
    expect(packages.find((p) => p.name === 'libc6')?.version).toBe('2.36-9+deb12u4');
  });

  it('starts attribution afresh after the database was whited out', () => {
    const { packages } = mergeLayers([
      layer(1, [osRelease, status(deb('a', '1'))]),
      layer(2, [], ['var/lib/dpkg']),
      layer(3, [status(deb('a', '1'))]),
    ]);
    expect(packages.map((p) => p.layerDigest)).toEqual([digest(3)]);
  });

  it('hides lower-layer files under an opaque directory but keeps the same layer’s own', () => {
    const pkgJson = (dir: string, name: string) => ({
      path: `${dir}/node_modules/${name}/package.json`,
      analyzer: 'npm',
      packages: [{ type: 'npm' as const, name, version: '1.0.0' }],
    });
    const { packages } = mergeLayers([
      layer(1, [osRelease, pkgJson('app', 'old'), pkgJson('other', 'kept')]),
      layer(2, [pkgJson('app', 'new')], [], ['app']),
    ]);
    expect(packages.map((p) => p.name).sort()).toEqual(['kept', 'new']);
  });

  it('removes a whiteout target and everything below it, but not its namesakes', () => {
    const file = (path: string, name: string) => ({
      path,
      analyzer: 'python',
      packages: [{ type: 'pypi' as const, name, version: '1' }],
    });
    const { packages } = mergeLayers([
      layer(1, [
        osRelease,
        file('lib/py/a.dist-info/METADATA', 'a'),
        file('lib/py/a.dist-info2/METADATA', 'b'),
      ]),
      layer(2, [], ['lib/py/a.dist-info']),
    ]);
    expect(packages.map((p) => p.name)).toEqual(['b']);
  });

  it('prefers etc/os-release over usr/lib/os-release and lists OS packages first', () => {
    const { os, packages } = mergeLayers([
      layer(1, [
        {
          path: 'usr/lib/os-release',
          analyzer: 'os-release',
          osRelease: { ID: 'alpine', VERSION_ID: '3.20.0' },
        },
        {
          path: 'etc/os-release',
          analyzer: 'os-release',
          osRelease: { ID: 'debian', VERSION_ID: '12' },
        },
        {
          path: 'app/node_modules/x/package.json',
          analyzer: 'npm',
          packages: [{ type: 'npm', name: 'x', version: '1' }],
        },
        status(deb('z', '1')),
      ]),
    ]);
    expect(os?.ecosystem).toBe('Debian:12');
    expect(packages.map((p) => p.type)).toEqual(['deb', 'npm']);
  });
});

describe('LayerCache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ki-layer-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const analysis: LayerAnalysis = {
    diffId: digest(9),
    entries: 3,
    uncompressedBytes: 100,
    files: [status(deb('a', '1'))],
    removed: [],
    opaqueDirs: [],
    warnings: [],
  };

  it('returns what was stored, and nothing for another analyzer version or cap', async () => {
    const cache = new LayerCache(dir, DEFAULT_LIMITS);
    await cache.put(digest(1), analysis);
    expect(await cache.get(digest(1))).toEqual(analysis);
    expect(await cache.get(digest(2))).toBeUndefined();
    expect(
      await new LayerCache(dir, DEFAULT_LIMITS, 'other-analyzers').get(digest(1)),
    ).toBeUndefined();
    expect(
      await new LayerCache(dir, { ...DEFAULT_LIMITS, maxFileBytes: 1 }).get(digest(1)),
    ).toBeUndefined();
  });

  it('treats a damaged entry as a miss and removes it', async () => {
    const cache = new LayerCache(dir, DEFAULT_LIMITS);
    await cache.put(digest(3), analysis);
    const keyDir = join(dir, 'layers', readdirSync(join(dir, 'layers'))[0]!);
    const file = join(keyDir, `${digest(3).slice(7)}.json`);
    writeFileSync(file, '{"digest": "sha256:tru');
    expect(await cache.get(digest(3))).toBeUndefined();
    expect(readdirSync(keyDir)).not.toContain(`${digest(3).slice(7)}.json`);
  });

  it('ignores digests that are not sha256', async () => {
    const cache = new LayerCache(dir, DEFAULT_LIMITS);
    await cache.put('sha512:abc', analysis);
    expect(await cache.get('sha512:abc')).toBeUndefined();
  });
});
