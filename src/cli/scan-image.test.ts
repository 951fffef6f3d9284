import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { runScanTarget } from './scan-image.ts';

const fixtures = join(import.meta.dirname, '../../test/fixtures/images');
const osvDebian = join(import.meta.dirname, '../vulndb/testdata/osv/debian');

/** A Debian 12 system whose glibc predates DSA-5514-1. */
const status = [
  'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u1\n',
  'Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u1\n',
].join('\n');

// The advisory index of these scans lives in a cache directory of their own.
const cacheHome = mkdtempSync(join(tmpdir(), 'ki-scan-cache-'));
process.env.XDG_CACHE_HOME = cacheHome;
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));
/** A directory with no index: a scan given it runs without a database. */
const noIndex = join(cacheHome, 'none');

async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi
    .spyOn(console, 'log')
    .mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await fn();
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('kube-inspector scan image', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let ref = '';

  beforeAll(async () => {
    registry = await startRegistry();
    const image = buildImage({
      layers: [
        [
          { path: 'etc/os-release', content: readFileSync(join(fixtures, 'dpkg/os-release')) },
          { path: 'var/lib/dpkg/status', content: status },
          {
            path: 'app/node_modules/semver/package.json',
            content: '{"name":"semver","version":"7.6.3"}',
          },
        ],
      ],
    });
    await pushImage(registry.url, 'cli/app', 'v1', image);
    ref = `${registry.host}/cli/app:v1`;
  }, 30_000);
  afterAll(async () => registry?.stop());

  const scan = (...args: string[]) =>
    capture(() => runScanTarget('image', [ref, '--insecure-registry', registry.host, ...args]));

  it('prints the packages as a table and exits 0 without a database', async () => {
    const { code, out, err } = await scan('--db-dir', noIndex);
    expect(code).toBe(0);
    expect(out).toContain('Debian GNU/Linux 12 (bookworm)');
    expect(out).toMatch(/deb\s+libc6\s+2\.36-9\+deb12u1\s+glibc/);
    expect(out).toMatch(/npm\s+semver\s+7\.6\.3/);
    expect(err).toMatch(/3 packages \(2 deb, 1 npm\)/);
  });

  it('exits 1 when a finding reaches the threshold and 0 when none does', async () => {
    const hit = await scan('--db', osvDebian, '--severity-threshold', 'UNTRIAGED');
    expect(hit.code).toBe(1);
    expect(hit.out).toMatch(/libc6\s+2\.36-9\+deb12u1\s+2\.36-9\+deb12u3\s+Debian:12/);
    const json = await scan('--db', osvDebian, '--format', 'json');
    const doc = JSON.parse(json.out) as { findings: { package: { name: string } }[] };
    expect(doc.findings.map((f) => f.package.name)).toEqual(['libc6']);
  });

  it('writes CycloneDX 1.6 that the CycloneDX schema accepts, with the vulnerability', async () => {
    const { code, out } = await scan(
      '--db',
      osvDebian,
      '--format',
      'cyclonedx',
      '--severity-threshold',
      'CRITICAL',
    );
    expect([0, 1]).toContain(code);
    const errors: unknown = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(
      out,
    );
    expect(errors).toBeNull();
    const bom = JSON.parse(out) as {
      components: { purl?: string }[];
      vulnerabilities: { affects: { ref: string }[] }[];
    };
    expect(bom.components.map((c) => c.purl).filter(Boolean)).toContain(
      'pkg:deb/debian/libc6@2.36-9+deb12u1?arch=amd64&distro=debian-12',
    );
    expect(bom.vulnerabilities[0]!.affects[0]!.ref).toContain('pkg:deb/debian/libc6');
  });

  it('writes SPDX 2.3 JSON with a purl for every package', async () => {
    const { code, out } = await scan('--format', 'spdx', '--db-dir', noIndex);
    expect(code).toBe(0);
    const doc = JSON.parse(out) as {
      spdxVersion: string;
      packages: {
        SPDXID: string;
        externalRefs?: { referenceType: string; referenceLocator: string }[];
      }[];
      relationships: { relationshipType: string; relatedSpdxElement: string }[];
    };
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    const purls = doc.packages.flatMap((p) => p.externalRefs ?? []).map((r) => r.referenceLocator);
    expect(purls).toHaveLength(3);
    const ids = new Set(doc.packages.map((p) => p.SPDXID));
    expect(ids.size).toBe(doc.packages.length);
    expect(doc.relationships.every((r) => ids.has(r.relatedSpdxElement))).toBe(true);
  });

  it('exits 2 with the reason when the image cannot be scanned', async () => {
    const { code, err } = await capture(() =>
      runScanTarget('image', [
        `${registry.host}/cli/missing:v1`,
        '--insecure-registry',
        registry.host,
      ]),
    );
    expect(code).toBe(2);
    expect(err).toMatch(/INTERNAL_ERROR: .*not found/);
  });

  it('exits 2 on bad usage', async () => {
    expect((await capture(() => runScanTarget('image', []))).code).toBe(2);
    expect((await scan('--format', 'xml')).code).toBe(2);
    expect((await scan('--severity-threshold', 'SEVERE')).code).toBe(2);
    expect((await scan('--platform', 'linux')).code).toBe(2);
  });
});

describe('kube-inspector scan rootfs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ki-rootfs-'));
    mkdirSync(join(dir, 'etc'));
    mkdirSync(join(dir, 'lib/apk/db'), { recursive: true });
    writeFileSync(join(dir, 'etc/os-release'), readFileSync(join(fixtures, 'apk/os-release')));
    writeFileSync(join(dir, 'lib/apk/db/installed'), readFileSync(join(fixtures, 'apk/installed')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the packages of an unpacked root filesystem', async () => {
    const { code, out } = await capture(() =>
      runScanTarget('rootfs', [dir, '--format', 'json', '--db-dir', noIndex]),
    );
    expect(code).toBe(0);
    const doc = JSON.parse(out) as {
      inventory: { os: { ecosystem: string }; packages: { name: string; filePath: string }[] };
    };
    expect(doc.inventory.os.ecosystem).toBe('Alpine:v3.20');
    expect(doc.inventory.packages.map((p) => p.name)).toEqual([
      'musl',
      'busybox',
      'ssl_client',
      'libcrypto3',
    ]);
    expect(doc.inventory.packages[0]!.filePath).toBe('lib/apk/db/installed');
  });
});
