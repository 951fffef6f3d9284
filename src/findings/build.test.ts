import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FindingStatusSchema, type Finding } from '../api/v1alpha1/finding.ts';
import { LABELS } from '../api/v1alpha1/common.ts';
import type { VulnDatabase } from '../vulndb/database.ts';
import { loadDirectory } from '../vulndb/loader.ts';
import { matchPackages, type PackageFinding } from '../vulndb/match.ts';
import {
  buildPackageFinding,
  buildPackageFindings,
  countBySeverity,
  deleteAt,
  findingName,
  labelValue,
  mergeFinding,
  resuppress,
  type FindingResource,
} from './build.ts';

const fixtures = join(import.meta.dirname, '..', 'vulndb', 'testdata', 'osv');
let db: VulnDatabase;
beforeAll(async () => {
  db = await loadDirectory(fixtures);
});

const node: FindingResource = { resourceType: 'NODE', id: 'node-1', kind: 'Node', name: 'node-1' };
const image: FindingResource = {
  resourceType: 'CONTAINER_IMAGE',
  id: `registry.test/app@sha256:${'a'.repeat(64)}`,
  imageRepository: 'registry.test/app',
  imageDigest: `sha256:${'a'.repeat(64)}`,
  imageTags: ['1.0'],
};

function debianMatches(): PackageFinding[] {
  return matchPackages(db, [
    { ecosystem: 'Debian:12', name: 'libssl3', sourceName: 'openssl', version: '3.0.11-1~deb12u1' },
    { ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u1' },
    { ecosystem: 'Debian:12', name: 'libc6', sourceName: 'glibc', version: '2.36-9+deb12u1' },
    { ecosystem: 'Debian:12', name: 'apt', version: '2.6.1' },
  ]).findings;
}

const t0 = new Date('2026-01-10T12:00:00Z');
const days = (n: number): Date => new Date(t0.getTime() + n * 86_400_000);

function stored(status: Finding['status']): Finding {
  return {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: { name: 'f', namespace: 'kube-inspector-system' },
    status,
  };
}

describe('findingName', () => {
  it('is the same for the same resource, vulnerability and package', () => {
    expect(findingName('node-1', 'CVE-2024-6387', 'Debian:12/openssh')).toBe(
      findingName('node-1', 'CVE-2024-6387', 'Debian:12/openssh'),
    );
  });

  it('differs when any of the three differs', () => {
    const names = new Set([
      findingName('node-1', 'CVE-2024-6387', 'Debian:12/openssh'),
      findingName('node-2', 'CVE-2024-6387', 'Debian:12/openssh'),
      findingName('node-1', 'CVE-2023-4911', 'Debian:12/openssh'),
      findingName('node-1', 'CVE-2024-6387', 'Debian:12/glibc'),
    ]);
    expect(names.size).toBe(4);
  });

  it('is a readable, valid DNS subdomain of at most 253 characters for any input', () => {
    const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const inputs: [string, string, string][] = [
      ['node-1', 'CVE-2024-6387', 'Debian:12/openssh'],
      ['x', 'RHSA-2024:4312', 'Red Hat:9/openssl'],
      ['x', '---', '///'],
      ['y'.repeat(2000), 'GHSA-'.repeat(100), `npm/${'@scope/'.repeat(200)}`],
      ['z', 'ÜBER', 'PyPI/Django_Rest'],
    ];
    for (const [r, v, p] of inputs) {
      const n = findingName(r, v, p);
      expect(n.length).toBeLessThanOrEqual(253);
      expect(n).toMatch(subdomain);
    }
    expect(findingName('node-1', 'CVE-2024-6387', 'Debian:12/openssh')).toMatch(
      /^cve-2024-6387-openssh-[0-9a-f]{16}$/,
    );
  });
});

describe('labelValue', () => {
  it('turns any id into a valid label value', () => {
    expect(labelValue('CVE-2024-6387')).toBe('CVE-2024-6387');
    expect(labelValue('RHSA-2024:4312')).toBe('RHSA-2024_4312');
    expect(labelValue(`${'a'.repeat(70)}`)).toHaveLength(63);
    expect(labelValue('-x-')).toBe('x');
  });
});

describe('buildPackageFindings', () => {
  it('makes one finding per vulnerability and source package, listing every binary', () => {
    const built = buildPackageFindings(
      image,
      debianMatches().map((match) => ({
        match,
        location: { filePath: 'var/lib/dpkg/status', layerDigest: `sha256:${'b'.repeat(64)}` },
      })),
    );
    const openssl = built.find((b) => b.status.vulnerabilityId === 'CVE-2023-5363')!;
    expect(openssl.status.packages?.map((p) => p.name)).toEqual(['libssl3', 'openssl']);
    expect(openssl.status.title).toBe('CVE-2023-5363 - libssl3, openssl');
    expect(openssl.status.packages?.[0]).toMatchObject({
      version: '3.0.11-1~deb12u1',
      fixedInVersion: '3.0.11-1~deb12u2',
      ecosystem: 'Debian:12',
      packageManager: 'OS',
      sourceLayerHash: `sha256:${'b'.repeat(64)}`,
      remediation: 'apt-get install --only-upgrade libssl3',
    });
    // OS packages all come from the dpkg database: no per-package file path.
    expect(openssl.status.packages?.[0]?.filePath).toBeUndefined();
    expect(openssl.status.fixAvailable).toBe('YES');
    expect(openssl.status.resource).toEqual({
      type: 'CONTAINER_IMAGE',
      id: image.id,
      imageRepository: 'registry.test/app',
      imageDigest: image.imageDigest,
      imageTags: ['1.0'],
    });
    expect(built.map((b) => b.status.vulnerabilityId).sort()).toEqual([
      'CVE-2011-3374',
      'CVE-2023-4911',
      'CVE-2023-5363',
    ]);
  });

  it('writes the selection labels and a status the API schema accepts', () => {
    for (const b of buildPackageFindings(
      node,
      debianMatches().map((match) => ({ match })),
    )) {
      expect(b.labels).toMatchObject({
        [LABELS.type]: 'PACKAGE_VULNERABILITY',
        [LABELS.status]: 'ACTIVE',
        [LABELS.resourceType]: 'NODE',
        [LABELS.severity]: b.status.severity,
        [LABELS.vulnerabilityId]: b.status.vulnerabilityId,
      });
      expect(() => FindingStatusSchema.parse(mergeFinding(undefined, b.status, t0))).not.toThrow();
    }
  });

  it('sorts by severity, highest first', () => {
    const built = buildPackageFindings(
      node,
      debianMatches().map((match) => ({ match })),
    );
    const ranks = built.map((b) =>
      ['UNTRIAGED', 'INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].indexOf(
        b.status.severity!,
      ),
    );
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
  });

  it('buildPackageFinding gives the same object as the grouped build for one match', () => {
    const m = debianMatches().find((f) => f.id === 'CVE-2023-4911')!;
    const one = buildPackageFinding(node, m, {});
    expect(one).toEqual(buildPackageFindings(node, [{ match: m }])[0]);
    expect(one.status.recommendation?.text).toBe('Upgrade libc6 to 2.36-9+deb12u3 or later.');
  });

  it('says when no fix is known', () => {
    const m = debianMatches().find((f) => f.id === 'CVE-2011-3374')!;
    const b = buildPackageFinding(node, m, {});
    expect(b.status.fixAvailable).toBe('NO');
    expect(b.status.recommendation?.text).toMatch(/No fixed version is known/);
  });
});

describe('mergeFinding', () => {
  const computed = () =>
    buildPackageFinding(
      node,
      debianMatches().find((f) => f.id === 'CVE-2023-4911')!,
      {},
    ).status;

  it('starts a new finding ACTIVE with all three times now', () => {
    const s = mergeFinding(undefined, computed(), t0);
    expect(s).toMatchObject({
      status: 'ACTIVE',
      firstObservedAt: '2026-01-10T12:00:00Z',
      lastObservedAt: '2026-01-10T12:00:00Z',
      updatedAt: '2026-01-10T12:00:00Z',
    });
  });

  it('moves lastObservedAt but not updatedAt when nothing changed', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const again = mergeFinding(stored(first), computed(), days(1));
    expect(again.firstObservedAt).toBe(first.firstObservedAt);
    expect(again.lastObservedAt).toBe('2026-01-11T12:00:00Z');
    expect(again.updatedAt).toBe(first.updatedAt);
  });

  it('moves updatedAt when a computed field changed (a new fixed version)', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const changed = computed();
    changed.packages = changed.packages!.map((p) => ({ ...p, fixedInVersion: '2.36-9+deb12u9' }));
    const again = mergeFinding(stored(first), changed, days(1));
    expect(again.updatedAt).toBe('2026-01-11T12:00:00Z');
    expect(again.firstObservedAt).toBe(first.firstObservedAt);
  });

  it('suppresses and restores, moving updatedAt each time', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const sup = mergeFinding(stored(first), computed(), days(1), { suppressedBy: 'ns/rule' });
    expect(sup.status).toBe('SUPPRESSED');
    expect(sup.updatedAt).toBe('2026-01-11T12:00:00Z');
    const back = mergeFinding(stored(sup), computed(), days(2));
    expect(back.status).toBe('ACTIVE');
    expect(back.updatedAt).toBe('2026-01-12T12:00:00Z');
  });

  it('closes a finding no longer seen, and leaves a closed one alone', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const closed = mergeFinding(stored(first), undefined, days(1));
    expect(closed).toMatchObject({
      status: 'CLOSED',
      updatedAt: '2026-01-11T12:00:00Z',
      lastObservedAt: first.lastObservedAt,
    });
    expect(mergeFinding(stored(closed), undefined, days(2))).toBe(closed);
    expect(deleteAt(closed, 30)?.toISOString()).toBe('2026-02-10T12:00:00.000Z');
    expect(deleteAt(first, 30)).toBeUndefined();
  });

  it('reopens a finding within the window with the same firstObservedAt', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const closed = mergeFinding(stored(first), undefined, days(1));
    const reopened = mergeFinding(stored(closed), computed(), days(8));
    expect(reopened).toMatchObject({
      status: 'ACTIVE',
      firstObservedAt: first.firstObservedAt,
      updatedAt: '2026-01-18T12:00:00Z',
    });
  });

  it('starts over when it reappears after the window', () => {
    const first = mergeFinding(undefined, computed(), t0);
    const closed = mergeFinding(stored(first), undefined, days(1));
    const fresh = mergeFinding(stored(closed), computed(), days(8.5));
    expect(fresh.firstObservedAt).toBe('2026-01-19T00:00:00Z');
    expect(
      mergeFinding(stored(closed), computed(), days(3), { reopenWindowDays: 1 }).firstObservedAt,
    ).toBe('2026-01-13T12:00:00Z');
  });

  it('refuses to close what does not exist', () => {
    expect(() => mergeFinding(undefined, undefined, t0)).toThrow(/nothing to close/);
  });
});

describe('resuppress', () => {
  it('changes only the status and updatedAt, never of a CLOSED finding', () => {
    const first = mergeFinding(
      undefined,
      buildPackageFinding(node, debianMatches()[0]!, {}).status,
      t0,
    );
    const sup = resuppress(first, 'a/b', days(1));
    expect(sup).toEqual({ ...first, status: 'SUPPRESSED', updatedAt: '2026-01-11T12:00:00Z' });
    expect(resuppress(sup, 'a/b', days(2))).toBe(sup);
    const closed = { ...first, status: 'CLOSED' as const };
    expect(resuppress(closed, 'a/b', days(2))).toBe(closed);
  });
});

describe('countBySeverity', () => {
  it('counts every severity and the total', () => {
    expect(countBySeverity(['CRITICAL', 'HIGH', 'HIGH', 'UNTRIAGED', undefined, 'LOW'])).toEqual({
      critical: 1,
      high: 2,
      medium: 0,
      low: 1,
      informational: 0,
      untriaged: 2,
      total: 6,
    });
  });
});

describe('the size of a Finding', () => {
  it('stays bounded however large the advisory and the package set', () => {
    const base = debianMatches().find((f) => f.id === 'CVE-2023-4911')!;
    const vector = (i: number) =>
      `CVSS:3.1/AV:${'NALP'[i % 4]}/AC:L/PR:N/UI:N/S:U/C:H/I:${'NLH'[i % 3]}/A:${'NLH'[(i >> 2) % 3]}`;
    const matches = Array.from({ length: 200 }, (_, i) => ({
      match: {
        ...base,
        package: {
          ...base.package,
          name: `libglibc-extra-${'x'.repeat(40)}-${i}`,
          purl: `pkg:deb/debian/libglibc-extra-${i}@2.36-9?arch=amd64&distro=debian-12`,
        },
        aliases: Array.from(
          { length: 100 },
          (_, j) => `GHSA-${String(j).padStart(4, '0')}-aaaa-bbbb`,
        ),
        scores: Array.from({ length: 30 }, (_, j) => ({
          version: '3.1' as const,
          vector: vector(j),
          baseScore: 5 + (j % 5),
          severity: 'HIGH' as const,
        })),
        references: Array.from(
          { length: 100 },
          (_, j) => `https://security.example/advisories/${'y'.repeat(200)}/${j}`,
        ),
        summary: 'z'.repeat(20_000),
      },
      location: { layerDigest: `sha256:${'d'.repeat(64)}` },
    }));
    const [built] = buildPackageFindings(image, matches);
    const status = mergeFinding(undefined, built!.status, t0);
    expect(() => FindingStatusSchema.parse(status)).not.toThrow();
    expect(status.packages).toHaveLength(64);
    expect(status.aliases).toHaveLength(32);
    expect(status.cvss).toHaveLength(8);
    expect(status.referenceUrls).toHaveLength(32);
    const bytes = Buffer.byteLength(
      JSON.stringify({ metadata: { labels: built!.labels }, status }),
    );
    console.log(`largest possible Finding status: ${bytes} bytes`);
    expect(bytes).toBeLessThan(64 * 1024);
  });
});
