import { describe, expect, it } from 'vitest';
import { NodeInventoryStatusSchema } from '../api/v1alpha1/node-inventory.ts';
import { operatingSystem } from '../scanner/analyzers/os-release.ts';
import type { Package } from '../scanner/types.ts';
import type { Collection } from './collect.ts';
import { nodeSettings } from './agent.ts';
import { CIS_CHECKS } from './cis/checks.ts';
import {
  cisResultsStatus,
  inventoryPackage,
  inventoryStatus,
  needsWrite,
  platformOf,
} from './inventory.ts';
import { realisticDebianPackages } from './testing.ts';

const os = (ID: string, VERSION_ID: string) => operatingSystem({ ID, VERSION_ID })!;
const deb = (name: string, version = '1.0-1', extra: Partial<Package> = {}): Package => ({
  type: 'deb',
  name,
  version,
  purl: `pkg:deb/debian/${name}@${version}`,
  filePath: 'var/lib/dpkg/status',
  ...extra,
});

function collection(packages: Package[], extra: Partial<Collection> = {}): Collection {
  return {
    os: os('debian', '12'),
    packages,
    kernelVersion: '6.1.0-18-amd64',
    architecture: 'amd64',
    errors: [],
    durationMs: 12,
    ...extra,
  };
}
const opts = {
  nodeName: 'n1',
  agentVersion: '0.1.0',
  collectedAt: new Date('2026-01-02T03:04:05.678Z'),
  packageLimit: 5000,
};

describe('NodeInventory packages', () => {
  it.each([
    ['debian', '12', 'Debian:12', 'DEBIAN_12'],
    ['alpine', '3.20.1', 'Alpine:v3.20', 'ALPINE_3_20'],
    ['rhel', '9.4', 'Red Hat:9', 'RHEL_9'],
    ['ubuntu', '22.04', 'Ubuntu:22.04:LTS', 'UBUNTU_22_04'],
    ['rocky', '9.3', 'Rocky Linux:9', 'ROCKY_LINUX_9_3'],
    ['fedora', '40', 'fedora:40', 'FEDORA_40'],
  ])(
    'OS packages of %s %s are filed under the ecosystem %s, platform %s',
    (id, v, eco, platform) => {
      expect(inventoryPackage(deb('openssl'), os(id, v))?.ecosystem).toBe(eco);
      expect(platformOf(os(id, v))).toBe(platform);
    },
  );

  it('language packages use their OSV ecosystems and say where they were found', () => {
    const found = (type: Package['type'], name: string, namespace?: string) =>
      inventoryPackage(
        {
          type,
          name,
          version: '1.2.3',
          purl: 'pkg:x/y@1',
          filePath: 'usr/lib/app/x',
          ...(namespace ? { namespace } : {}),
        },
        os('debian', '12'),
      );
    expect(found('pypi', 'PyYAML')).toMatchObject({
      ecosystem: 'PyPI',
      filePath: '/usr/lib/app/x',
    });
    expect(found('npm', '@scope/pkg')?.ecosystem).toBe('npm');
    expect(found('golang', 'golang.org/x/net')?.ecosystem).toBe('Go');
    expect(found('maven', 'commons-cli', 'commons-cli')).toMatchObject({
      name: 'commons-cli:commons-cli',
      ecosystem: 'Maven',
    });
  });

  it('source name and version are kept only when they differ from the binary package', () => {
    const same = inventoryPackage(
      deb('bash', '5.2-1', { sourceName: 'bash', sourceVersion: '5.2-1', arch: 'amd64' }),
      os('debian', '12'),
    );
    expect(same).toEqual({
      name: 'bash',
      version: '5.2-1',
      ecosystem: 'Debian:12',
      arch: 'amd64',
      purl: 'pkg:deb/debian/bash@5.2-1',
    });
    const differs = inventoryPackage(
      deb('libssl3', '3.0.15-1~deb12u1', { sourceName: 'openssl', sourceVersion: '3.0.15-1' }),
      os('debian', '12'),
    );
    expect(differs).toMatchObject({ sourceName: 'openssl', sourceVersion: '3.0.15-1' });
  });
});

describe('inventoryStatus', () => {
  it('sorts packages deterministically, OS packages first, and drops duplicates', () => {
    const status = inventoryStatus(
      collection([
        deb('zlib1g'),
        {
          type: 'pypi',
          name: 'attrs',
          version: '23.1',
          purl: 'pkg:pypi/attrs@23.1',
          filePath: 'usr/lib/a',
        },
        deb('apt'),
        deb('apt'),
      ]),
      opts,
    );
    expect(status.packages?.map((p) => p.name)).toEqual(['apt', 'zlib1g', 'attrs']);
    expect(status.packageCount).toBe(3);
    expect(status.truncated).toBe(false);
    expect(status.collectedAt).toBe('2026-01-02T03:04:05Z');
    expect(status.errors).toBeUndefined();
    expect(NodeInventoryStatusSchema.parse(status)).toEqual(status);
  });

  it('past the package limit lists the first packages and says PACKAGE_COLLECTION_LIMIT_EXCEEDED', () => {
    const pkgs = ['g', 'c', 'a', 'e', 'b', 'f', 'd'].map((n) => deb(n));
    const status = inventoryStatus(collection(pkgs), { ...opts, packageLimit: 5 });
    expect(status.packages?.map((p) => p.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(status).toMatchObject({ packageCount: 7, truncated: true });
    expect(status.errors).toEqual([
      {
        code: 'PACKAGE_COLLECTION_LIMIT_EXCEEDED',
        message: 'found 7 packages; the first 5 (the package limit) are listed',
      },
    ]);
  });

  it('leaves out packages whose fields the schema would refuse, and says how many', () => {
    const status = inventoryStatus(collection([deb('ok'), deb('x'.repeat(300))]), opts);
    expect(status.packages?.map((p) => p.name)).toEqual(['ok']);
    expect(status.errors?.[0]?.code).toBe('READ_ERROR');
    expect(status.errors?.[0]?.message).toMatch(/^1 packages .* left out/);
  });

  it('keeps at most 16 errors, the ones that decide coverage first, each at most 1024 characters', () => {
    const errors = Array.from({ length: 20 }, (_, i) => ({
      code: 'READ_ERROR' as const,
      message: `source ${i}: ${'x'.repeat(2000)}`,
    }));
    errors.push({ code: 'COLLECTION_TIME_LIMIT_EXCEEDED' as never, message: 'late' });
    const status = inventoryStatus(collection([], { errors }), opts);
    expect(status.errors).toHaveLength(16);
    expect(status.errors?.[0]).toEqual({ code: 'COLLECTION_TIME_LIMIT_EXCEEDED', message: 'late' });
    expect(Math.max(...status.errors!.map((e) => e.message.length))).toBe(1024);
    expect(() => NodeInventoryStatusSchema.parse(status)).not.toThrow();
  });

  it('5,000 realistic Debian packages make an object well under the API server request limit', () => {
    const status = inventoryStatus(collection(realisticDebianPackages(6000)), opts);
    expect(status.packages).toHaveLength(5000);
    const bytes = Buffer.byteLength(
      JSON.stringify({
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'NodeInventory',
        metadata: { name: 'n1' },
        status,
      }),
    );
    // Measured: about 1.0 MiB; the API server takes requests up to 3 MiB (etcd's limit is 1.5 MiB).
    expect(bytes).toBeLessThan(1.4 * 1024 * 1024);
    expect(bytes).toBeGreaterThan(500 * 1024);
  });
});

describe('needsWrite', () => {
  const base = inventoryStatus(collection([deb('apt')]), opts);
  const later = new Date('2026-01-02T09:00:00Z');
  const day = 86_400_000;

  it('writes a new inventory', () => {
    expect(needsWrite(base, undefined, later, 3.5 * day)).toEqual({ write: true, reason: 'new' });
  });

  it('writes nothing when only the collection time and duration changed', () => {
    const again = inventoryStatus(collection([deb('apt')], { durationMs: 99 }), {
      ...opts,
      collectedAt: later,
    });
    expect(needsWrite(again, base, later, 3.5 * day)).toEqual({
      write: false,
      reason: 'unchanged',
    });
  });

  it('writes when a package changed', () => {
    const changed = inventoryStatus(collection([deb('apt', '2.0-1')]), {
      ...opts,
      collectedAt: later,
    });
    expect(needsWrite(changed, base, later, 3.5 * day).reason).toBe('changed');
  });

  it('refreshes the collection time once the written one is older than the refresh age', () => {
    const muchLater = new Date(opts.collectedAt.getTime() + 4 * day);
    const again = inventoryStatus(collection([deb('apt')]), { ...opts, collectedAt: muchLater });
    expect(needsWrite(again, base, muchLater, 3.5 * day)).toEqual({
      write: true,
      reason: 'refresh',
    });
  });
});

describe('CIS results in the NodeInventory', () => {
  const config = (rulesPackages: string[]) =>
    ({ spec: { rulesPackages } }) as unknown as Parameters<typeof nodeSettings>[0];

  it('the checks run only while the ScanConfiguration switches cis on', () => {
    expect(nodeSettings(config(['cve', 'cis'])).cis).toBe(true);
    expect(nodeSettings(config(['cve'])).cis).toBe(false);
    expect(nodeSettings(undefined).cis).toBe(false);
    // An invalid configuration falls back to the defaults, which do not include cis.
    expect(nodeSettings(config(['cis', 'cis'])).cis).toBe(false);
  });

  it('a result of every check fits the schema, a long found value is cut to its bound', () => {
    const results = cisResultsStatus(
      CIS_CHECKS.map((c, i) => ({
        id: c.id,
        status: 'FAILED' as const,
        found: i === 0 ? 'x'.repeat(5000) : 'mode 644',
      })),
    );
    expect(results[0]!.found).toHaveLength(256);
    expect(results[0]!.found.endsWith('…')).toBe(true);
    const status = { ...inventoryStatus(collection([]), opts), cisResults: results };
    expect(NodeInventoryStatusSchema.safeParse(status).success).toBe(true);
    // Bounded etcd size: the results of every check are a few kilobytes at most.
    expect(JSON.stringify(results).length).toBeLessThan(8 * 1024);
  });

  it('refuses more results than the schema holds instead of writing a truncated list', () => {
    const many = Array.from({ length: 129 }, (_, i) => ({
      id: String(i),
      status: 'PASSED' as const,
      found: '',
    }));
    expect(() => cisResultsStatus(many)).toThrow(/129 CIS results, more than the 128/);
  });
});
