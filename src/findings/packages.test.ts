import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { operatingSystem } from '../scanner/analyzers/os-release.ts';
import type { Inventory, Package } from '../scanner/types.ts';
import type { VulnDatabase } from '../vulndb/database.ts';
import { loadDirectory } from '../vulndb/loader.ts';
import { buildPackageFindings, type FindingResource } from './build.ts';
import { imagePackages, matchLocated, nodePackages, osEcosystem } from './packages.ts';

const fixtures = join(import.meta.dirname, '..', 'vulndb', 'testdata', 'osv');
let db: VulnDatabase;
beforeAll(async () => {
  db = await loadDirectory(fixtures);
});

const layer = `sha256:${'c'.repeat(64)}`;

function deb(name: string, version: string, sourceName?: string): Package {
  return {
    type: 'deb',
    name,
    version,
    ...(sourceName !== undefined ? { sourceName } : {}),
    purl: `pkg:deb/ubuntu/${name}@${version}`,
    filePath: 'var/lib/dpkg/status',
    layerDigest: layer,
  };
}

function inventory(os: Inventory['os'], packages: Package[]): Inventory {
  return {
    kind: 'image',
    target: 'registry.test/app:1',
    ...(os !== undefined ? { os } : {}),
    packages,
    runtimes: [],
    layers: [],
    warnings: [],
    stats: { durationMs: 0, bytesDownloaded: 0, uncompressedBytes: 0, entries: 0 },
  };
}

const ubuntu = operatingSystem({ ID: 'ubuntu', VERSION_ID: '22.04', NAME: 'Ubuntu' });
const resource: FindingResource = { resourceType: 'CONTAINER_IMAGE', id: 'registry.test/app@x' };

describe('image packages', () => {
  it('uses the ecosystem the scanner read, spelled as OSV spells Ubuntu LTS releases', () => {
    expect(ubuntu?.ecosystem).toBe('Ubuntu:22.04:LTS');
    const inv = inventory(ubuntu, [deb('libc6', '2.35-0ubuntu3.1', 'glibc')]);
    expect(osEcosystem(inv)).toBe('Ubuntu:22.04:LTS');
    const [p] = imagePackages(inv);
    expect(p).toEqual({
      pkg: {
        ecosystem: 'Ubuntu:22.04:LTS',
        name: 'libc6',
        sourceName: 'glibc',
        version: '2.35-0ubuntu3.1',
        purl: 'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.1',
      },
      location: { filePath: 'var/lib/dpkg/status', layerDigest: layer },
    });
  });

  it('matches the Ubuntu advisories under the scanner spelling, with the same finding names as the short one', () => {
    const pkgs = [
      deb('libc6', '2.35-0ubuntu3.1', 'glibc'),
      deb('openssh-server', '1:8.9p1-3ubuntu0.1', 'openssh'),
    ];
    const long = matchLocated(db, imagePackages(inventory(ubuntu, pkgs)));
    expect(long.map((m) => m.match.id).sort()).toEqual(['CVE-2023-4911', 'CVE-2024-6387']);
    expect(long[0]?.location.layerDigest).toBe(layer);
    const short = matchLocated(
      db,
      imagePackages(inventory({ ...ubuntu!, ecosystem: 'Ubuntu:22.04' }, pkgs)),
    );
    const names = (ms: typeof long) =>
      buildPackageFindings(resource, ms)
        .map((b) => b.name)
        .sort();
    expect(names(short)).toEqual(names(long));
  });

  it('matches no OS package of an OS the scanner does not support', () => {
    const os = operatingSystem({ ID: 'plan9', VERSION_ID: '4', NAME: 'Plan 9' });
    expect(os?.supported).toBe(false);
    const inv = inventory(os, [
      deb('libc6', '2.35'),
      {
        type: 'npm',
        name: 'lodash',
        version: '4.17.20',
        purl: 'pkg:npm/lodash@4.17.20',
        filePath: 'app/node_modules/lodash/package.json',
      },
    ]);
    expect(imagePackages(inv).map((p) => `${p.pkg.ecosystem}/${p.pkg.name}`)).toEqual([
      'npm/lodash',
    ]);
  });
});

describe('node packages', () => {
  it('takes the ecosystem each package carries', () => {
    const pkgs = nodePackages([
      {
        name: 'libssl3',
        version: '3.0.11-1~deb12u1',
        sourceName: 'openssl',
        ecosystem: 'Debian:12',
      },
    ]);
    expect(matchLocated(db, pkgs).map((m) => m.match.id)).toEqual(['CVE-2023-5363']);
    expect(nodePackages(undefined)).toEqual([]);
  });
});
