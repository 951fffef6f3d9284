import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatabaseBuilder, type VulnDatabase } from './database.ts';
import type { InstalledPackage } from './ecosystem.ts';
import { makeEnrichment } from './enrichment.ts';
import { loadDirectory } from './loader.ts';
import { evaluateRange, matchPackage, matchPackages } from './match.ts';
import { versionOrderFor } from './version/index.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'osv');
let db: VulnDatabase;

beforeAll(async () => {
  db = await loadDirectory(fixtures);
});

function pkg(
  ecosystem: string,
  name: string,
  version: string,
  sourceName?: string,
): InstalledPackage {
  return { ecosystem, name, version, sourceName };
}

/** [ecosystem, name, source, installed version, expected finding ids, expected fixed version]. */
type Case = [string, string, string | undefined, string, string[], string | undefined];

const cases: Case[] = [
  // Debian: source packages, tildes, epochs, unfixed, release mismatch
  ['Debian:12', 'libssl3', 'openssl', '3.0.11-1~deb12u1', ['CVE-2023-5363'], '3.0.11-1~deb12u2'],
  ['Debian:12', 'openssl', undefined, '3.0.9-1', ['CVE-2023-5363'], '3.0.11-1~deb12u2'],
  ['Debian:12', 'libssl3', 'openssl', '3.0.11-1~deb12u2', [], undefined],
  ['Debian:12', 'libssl3', 'openssl', '3.0.11-1', [], undefined],
  ['Debian:12', 'libssl3', 'openssl', '3.0.13-1~deb12u1', [], undefined],
  ['Debian:12', 'libssl3', undefined, '3.0.11-1~deb12u1', [], undefined],
  ['Debian:11', 'libssl1.1', 'openssl', '1.1.1n-0+deb11u5', ['CVE-2023-5363'], '1.1.1w-0+deb11u1'],
  ['Debian:11', 'libssl1.1', 'openssl', '1.1.1w-0+deb11u1', [], undefined],
  ['Debian:12', 'libc6', 'glibc', '2.36-9+deb12u1', ['CVE-2023-4911'], '2.36-9+deb12u3'],
  ['Debian:12', 'libc6', 'glibc', '2.36-9+deb12u3', [], undefined],
  ['Debian:12', 'libc6', 'glibc', '2.36-9+deb12u10', [], undefined],
  ['Debian:12', 'libc-bin', 'glibc', '2.36-9', ['CVE-2023-4911'], '2.36-9+deb12u3'],
  [
    'Debian:12',
    'openssh-server',
    'openssh',
    '1:9.2p1-2+deb12u2',
    ['CVE-2024-6387'],
    '1:9.2p1-2+deb12u3',
  ],
  ['Debian:12', 'openssh-client', 'openssh', '1:9.2p1-2', ['CVE-2024-6387'], '1:9.2p1-2+deb12u3'],
  ['Debian:12', 'openssh-server', 'openssh', '1:9.2p1-2+deb12u3', [], undefined],
  // without its epoch the installed version is older than any 1: version
  ['Debian:12', 'openssh-server', 'openssh', '9.9p1-1', ['CVE-2024-6387'], '1:9.2p1-2+deb12u3'],
  ['Debian:12', 'openssh-server', 'openssh', '1:9.3p1-1', [], undefined],
  ['Debian:12', 'curl', undefined, '7.88.1-10+deb12u1', ['DSA-5523-1'], '7.88.1-10+deb12u3'],
  ['Debian:12', 'libcurl4', 'curl', '7.88.1-10+deb12u3', [], undefined],
  ['Debian:12', 'apt', undefined, '2.6.1', ['CVE-2011-3374'], undefined],
  ['Debian:12', 'libapt-pkg6.0', 'apt', '2.6.1', ['CVE-2011-3374'], undefined],
  ['Debian:12', 'xz-utils', undefined, '5.4.1-0.2', [], undefined],
  ['Debian:13', 'xz-utils', undefined, '5.6.0-0.2', ['CVE-2024-3094'], '5.6.1+really5.4.5-1'],
  ['Debian:13', 'liblzma5', 'xz-utils', '5.6.1-1', ['CVE-2024-3094'], '5.6.1+really5.4.5-1'],
  ['Debian:13', 'liblzma5', 'xz-utils', '5.4.5-0.3', [], undefined],
  ['Debian:13', 'liblzma5', 'xz-utils', '5.6.1+really5.4.5-1', [], undefined],
  ['Debian:10', 'libssl1.1', 'openssl', '1.1.1n-0+deb10u1', [], undefined],
  // Ubuntu: release from the ecosystem, LTS suffix ignored
  [
    'Ubuntu:22.04',
    'openssh-server',
    'openssh',
    '1:8.9p1-3ubuntu0.7',
    ['CVE-2024-6387'],
    '1:8.9p1-3ubuntu0.10',
  ],
  ['Ubuntu:22.04', 'openssh-server', 'openssh', '1:8.9p1-3ubuntu0.10', [], undefined],
  [
    'Ubuntu:24.04',
    'openssh-server',
    'openssh',
    '1:9.6p1-3ubuntu13',
    ['CVE-2024-6387'],
    '1:9.6p1-3ubuntu13.3',
  ],
  ['Ubuntu:24.04', 'openssh-server', 'openssh', '1:9.6p1-3ubuntu13.3', [], undefined],
  ['Ubuntu:20.04', 'openssh-server', 'openssh', '1:8.2p1-4ubuntu0.5', [], undefined],
  ['Ubuntu:22.04', 'libc6', 'glibc', '2.35-0ubuntu3.1', ['CVE-2023-4911'], '2.35-0ubuntu3.4'],
  ['Ubuntu:22.04', 'libc6', 'glibc', '2.35-0ubuntu3.4', [], undefined],
  ['Ubuntu:22.04', 'libc6', 'glibc', '2.35-0ubuntu3.10', [], undefined],
  // Alpine: origin packages, _p and -r
  ['Alpine:v3.20', 'openssh-server', 'openssh', '9.7_p1-r3', ['CVE-2024-6387'], '9.7_p1-r4'],
  ['Alpine:v3.20', 'openssh-client-default', 'openssh', '9.7_p1-r4', [], undefined],
  ['Alpine:v3.20', 'openssh', undefined, '9.7_p1-r10', [], undefined],
  ['Alpine:v3.20', 'openssh', undefined, '9.7-r0', ['CVE-2024-6387'], '9.7_p1-r4'],
  ['Alpine:v3.20', 'openssh', undefined, '9.8_p1-r0', [], undefined],
  ['Alpine:v3.19', 'openssh', undefined, '9.6_p1-r0', ['CVE-2024-6387'], '9.6_p1-r1'],
  ['Alpine:v3.19', 'openssh', undefined, '9.6_p1-r1', [], undefined],
  ['Alpine:v3.18', 'openssh', undefined, '9.3_p2-r1', [], undefined],
  ['Alpine:v3.20', 'libcrypto3', 'openssl', '3.3.0-r2', ['CVE-2024-4741'], '3.3.1-r0'],
  ['Alpine:v3.20', 'libssl3', 'openssl', '3.3.1-r0', [], undefined],
  ['Alpine:v3.20', 'libssl3', 'openssl', '3.3.1_rc1-r0', ['CVE-2024-4741'], '3.3.1-r0'],
  ['Alpine:v3.20', 'busybox', undefined, '1.36.1-r28', ['CVE-2023-42366'], '1.36.1-r29'],
  ['Alpine:v3.20', 'ssl_client', 'busybox', '1.36.1-r29', [], undefined],
  ['Alpine:v3.20', 'busybox-binsh', 'busybox', '1.36.1-r5', ['CVE-2023-42366'], '1.36.1-r29'],
  // RPM distributions: binary names, source rpm names, epochs, dist tags
  [
    'AlmaLinux:9',
    'openssh-server',
    'openssh-8.7p1-38.el9.src.rpm',
    '8.7p1-38.el9',
    ['ALSA-2024:4312'],
    '8.7p1-38.el9_4.1',
  ],
  ['AlmaLinux:9', 'openssh-server', undefined, '8.7p1-38.el9_4.1', [], undefined],
  [
    'AlmaLinux:9',
    'openssh-clients',
    'openssh',
    '8.7p1-34.el9',
    ['ALSA-2024:4312'],
    '8.7p1-38.el9_4.1',
  ],
  ['AlmaLinux:9', 'openssh-server', undefined, '8.7p1-38.el9_4.4', [], undefined],
  ['AlmaLinux:9', 'openssh-server', undefined, '8.7p1-43.el9', [], undefined],
  ['AlmaLinux:8', 'openssh-server', undefined, '8.0p1-19.el8_8', [], undefined],
  [
    'Rocky Linux:9',
    'openssh-server',
    undefined,
    '8.7p1-38.el9',
    ['RLSA-2024:4312'],
    '8.7p1-38.el9_4.1',
  ],
  ['Rocky Linux:9', 'openssh-server', undefined, '8.7p1-38.el9_4.1', [], undefined],
  [
    'Red Hat:9',
    'openssl-libs',
    'openssl-3.0.7-24.el9.src.rpm',
    '1:3.0.7-24.el9',
    ['RHSA-2024:2447'],
    '1:3.0.7-27.el9',
  ],
  ['Red Hat:9', 'openssl-libs', undefined, '1:3.0.7-27.el9', [], undefined],
  ['Red Hat:9', 'openssl-libs', undefined, '1:3.0.7-28.el9_4', [], undefined],
  ['Red Hat:9', 'openssl-libs', undefined, '3.0.7-28.el9', ['RHSA-2024:2447'], '1:3.0.7-27.el9'],
  [
    'Red Hat:9',
    'openssh-server',
    undefined,
    '0:8.7p1-38.el9',
    ['RHSA-2024:4312'],
    '0:8.7p1-38.el9_4.1',
  ],
  ['Red Hat:9', 'openssh-server', undefined, '8.7p1-38.el9_4.1', [], undefined],
  ['Red Hat:8', 'openssl-libs', undefined, '1:1.1.1k-9.el8_7', [], undefined],
  // npm: several advisories, branches, the smallest fix above the installed version
  ['npm', 'lodash', undefined, '4.17.15', ['CVE-2020-8203', 'CVE-2021-23337'], '4.17.19'],
  ['npm', 'lodash', undefined, '4.17.19', ['CVE-2021-23337'], '4.17.21'],
  ['npm', 'lodash', undefined, '4.17.21', [], undefined],
  ['npm', 'lodash', undefined, '3.6.0', ['CVE-2021-23337'], '4.17.21'],
  ['npm', 'lodash', undefined, '3.7.0', ['CVE-2020-8203', 'CVE-2021-23337'], '4.17.19'],
  ['npm', 'lodash', undefined, '4.17.21-rc.1', ['CVE-2021-23337'], '4.17.21'],
  ['npm', 'minimist', undefined, '0.0.8', ['CVE-2021-44906'], '0.2.4'],
  ['npm', 'minimist', undefined, '0.2.4', [], undefined],
  ['npm', 'minimist', undefined, '0.2.5', [], undefined],
  ['npm', 'minimist', undefined, '1.2.5', ['CVE-2021-44906'], '1.2.6'],
  ['npm', 'minimist', undefined, '1.2.6', [], undefined],
  ['npm', 'minimist', undefined, '1.0.0', ['CVE-2021-44906'], '1.2.6'],
  ['npm', 'semver', undefined, '5.7.1', ['CVE-2022-25883'], '5.7.2'],
  ['npm', 'semver', undefined, '5.7.2', [], undefined],
  ['npm', 'semver', undefined, '6.3.0', ['CVE-2022-25883'], '6.3.1'],
  ['npm', 'semver', undefined, '6.3.1', [], undefined],
  ['npm', 'semver', undefined, '7.5.1', ['CVE-2022-25883'], '7.5.2'],
  ['npm', 'semver', undefined, '7.5.2', [], undefined],
  ['npm', 'semver', undefined, '7.6.0', [], undefined],
  // a pre-release of 7.0.0 sorts before 7.0.0, so it is past the 6.x fix and before the 7.x range
  ['npm', 'semver', undefined, '7.0.0-rc.1', [], undefined],
  ['npm', 'Lodash', undefined, '4.17.15', [], undefined],
  // PyPI: PEP 503 names, pre-releases, aliases collapsed across GHSA and PYSEC
  ['PyPI', 'requests', undefined, '2.30.0', ['CVE-2023-32681'], '2.31.0'],
  ['PyPI', 'Requests', undefined, '2.25.1', ['CVE-2023-32681'], '2.31.0'],
  ['PyPI', 'requests', undefined, '2.31.0', [], undefined],
  ['PyPI', 'requests', undefined, '2.31.0rc1', ['CVE-2023-32681'], '2.31.0'],
  ['PyPI', 'requests', undefined, '2.2.1', [], undefined],
  ['PyPI', 'requests', undefined, '2.3.0', ['CVE-2023-32681'], '2.31.0'],
  ['PyPI', 'pyyaml', undefined, '5.3.1', ['CVE-2020-14343'], '5.4'],
  ['PyPI', 'PyYAML', undefined, '5.4', [], undefined],
  ['PyPI', 'py_yaml', undefined, '5.3', [], undefined],
  ['PyPI', 'pyyaml', undefined, '5.4b2', ['CVE-2020-14343'], '5.4'],
  ['PyPI', 'pyyaml', undefined, '5.3.1.post1', ['CVE-2020-14343'], '5.4'],
  ['PyPI', 'Jinja2', undefined, '3.1.2', ['CVE-2024-22195'], '3.1.3'],
  ['PyPI', 'jinja2', undefined, '3.1.3', [], undefined],
  ['PyPI', 'JINJA2', undefined, '2.11.3', ['CVE-2024-22195'], '3.1.3'],
  // Go: modules, pseudo-versions, +incompatible, the standard library
  ['Go', 'golang.org/x/crypto', undefined, 'v0.16.0', ['CVE-2023-48795'], '0.17.0'],
  ['Go', 'golang.org/x/crypto', undefined, 'v0.17.0', [], undefined],
  [
    'Go',
    'golang.org/x/crypto',
    undefined,
    'v0.0.0-20211202192323-5770296d904e',
    ['CVE-2023-48795'],
    '0.17.0',
  ],
  ['Go', 'golang.org/x/crypto', undefined, 'v0.17.1-0.20240101000000-abcdefabcdef', [], undefined],
  ['Go', 'golang.org/x/net', undefined, 'v0.15.0', ['CVE-2023-39325'], '0.17.0'],
  ['Go', 'stdlib', undefined, 'go1.21.1', ['CVE-2023-39325'], '1.21.3'],
  ['Go', 'stdlib', undefined, 'go1.20', ['CVE-2023-39325'], '1.20.10'],
  ['Go', 'stdlib', undefined, 'go1.20.10', [], undefined],
  ['Go', 'stdlib', undefined, 'go1.21rc2', ['CVE-2023-39325'], '1.21.3'],
  ['Go', 'stdlib', undefined, 'go1.21.3', [], undefined],
  ['Go', 'stdlib', undefined, 'go1.22.0', [], undefined],
  [
    'Go',
    'github.com/docker/docker',
    undefined,
    'v24.0.9+incompatible',
    ['CVE-2024-41110'],
    '25.0.6',
  ],
  [
    'Go',
    'github.com/docker/docker',
    undefined,
    'v20.10.27+incompatible',
    ['CVE-2024-41110'],
    '23.0.15',
  ],
  ['Go', 'github.com/docker/docker', undefined, 'v23.0.15+incompatible', [], undefined],
  ['Go', 'github.com/docker/docker', undefined, 'v26.1.5+incompatible', [], undefined],
  [
    'Go',
    'github.com/docker/docker',
    undefined,
    'v27.0.3+incompatible',
    ['CVE-2024-41110'],
    '27.1.1',
  ],
  // Maven: qualifiers and multiple branches
  [
    'Maven',
    'org.apache.logging.log4j:log4j-core',
    undefined,
    '2.14.1',
    ['CVE-2021-44228'],
    '2.15.0',
  ],
  ['Maven', 'org.apache.logging.log4j:log4j-core', undefined, '2.15.0', [], undefined],
  [
    'Maven',
    'org.apache.logging.log4j:log4j-core',
    undefined,
    '2.12.1',
    ['CVE-2021-44228'],
    '2.12.2',
  ],
  ['Maven', 'org.apache.logging.log4j:log4j-core', undefined, '2.12.2', [], undefined],
  ['Maven', 'org.apache.logging.log4j:log4j-core', undefined, '2.3', ['CVE-2021-44228'], '2.3.1'],
  ['Maven', 'org.apache.logging.log4j:log4j-core', undefined, '2.3.1', [], undefined],
  [
    'Maven',
    'org.apache.logging.log4j:log4j-core',
    undefined,
    '2.0-beta9',
    ['CVE-2021-44228'],
    '2.3.1',
  ],
  ['Maven', 'org.apache.logging.log4j:log4j-core', undefined, '2.0-beta8', [], undefined],
  [
    'Maven',
    'org.apache.logging.log4j:log4j-core',
    undefined,
    '2.0-rc1',
    ['CVE-2021-44228'],
    '2.3.1',
  ],
  [
    'Maven',
    'org.apache.logging.log4j:log4j-core',
    undefined,
    '2.15.0-rc1',
    ['CVE-2021-44228'],
    '2.15.0',
  ],
  ['Maven', 'org.apache.logging.log4j:log4j-api', undefined, '2.14.1', [], undefined],
  [
    'Maven',
    'com.fasterxml.jackson.core:jackson-databind',
    undefined,
    '2.13.2',
    ['CVE-2020-36518'],
    '2.13.2.1',
  ],
  ['Maven', 'com.fasterxml.jackson.core:jackson-databind', undefined, '2.13.2.1', [], undefined],
  [
    'Maven',
    'com.fasterxml.jackson.core:jackson-databind',
    undefined,
    '2.12.6',
    ['CVE-2020-36518'],
    '2.12.6.1',
  ],
  ['Maven', 'com.fasterxml.jackson.core:jackson-databind', undefined, '2.12.7', [], undefined],
  [
    'Maven',
    'com.fasterxml.jackson.core:jackson-databind',
    undefined,
    '2.9.10.8',
    ['CVE-2020-36518'],
    '2.12.6.1',
  ],
  // crates.io: SEMVER, last_affected
  ['crates.io', 'time', undefined, '0.2.22', ['CVE-2020-26235'], '0.2.23'],
  ['crates.io', 'time', undefined, '0.2.23', [], undefined],
  ['crates.io', 'time', undefined, '0.2.6', [], undefined],
  ['crates.io', 'time', undefined, '0.1.45', [], undefined],
  ['crates.io', 'atty', undefined, '0.2.14', ['GHSA-g98v-hv3f-hcfr'], undefined],
  ['crates.io', 'atty', undefined, '0.2.13', ['GHSA-g98v-hv3f-hcfr'], undefined],
  ['crates.io', 'atty', undefined, '0.2.15', [], undefined],
  ['crates.io', 'atty', undefined, '0.3.0', [], undefined],
];

describe('matching the fixture advisories', () => {
  it.each(cases)(
    '%s %s (source %s) at %s has %j, fixed in %s',
    (eco, name, source, version, ids, fixed) => {
      const findings = matchPackage(db, pkg(eco, name, version, source));
      expect(findings.map((f) => f.id).sort()).toEqual([...ids].sort());
      if (ids.length > 0) {
        const smallestFix = findings
          .map((f) => f.fixedVersion)
          .filter((v) => v !== undefined)
          .sort((a, b) => versionOrderFor(eco)!.compare(a, b))[0];
        expect(smallestFix).toBe(fixed);
      }
    },
  );
});

describe('findings', () => {
  it('collapse advisories that name each other into one finding carrying every id', () => {
    const [f, ...rest] = matchPackage(db, pkg('PyPI', 'requests', '2.30.0'));
    expect(rest).toEqual([]);
    expect(f!.id).toBe('CVE-2023-32681');
    expect(f!.records).toEqual(['GHSA-j8r2-6x86-q33q', 'PYSEC-2023-74']);
    expect(f!.aliases).toEqual(['GHSA-j8r2-6x86-q33q', 'PYSEC-2023-74']);
  });

  it('collapse a distribution record and its advisory through their one upstream id', () => {
    const [f, ...rest] = matchPackage(
      db,
      pkg('Debian:12', 'libssl3', '3.0.11-1~deb12u1', 'openssl'),
    );
    expect(rest).toEqual([]);
    expect(f!.id).toBe('CVE-2023-5363');
    expect(f!.records).toEqual(['DEBIAN-CVE-2023-5363', 'DSA-5532-1']);
    expect(f!.severity).toBe('HIGH');
  });

  it('keep an advisory with several upstream ids apart from each of them', () => {
    const [f] = matchPackage(db, pkg('Debian:12', 'curl', '7.88.1-10'));
    expect(f!.id).toBe('DSA-5523-1');
    expect(f!.aliases).toEqual([]);
  });

  it('say YES when a fix exists, NO when none does', () => {
    expect(matchPackage(db, pkg('npm', 'lodash', '4.17.20'))[0]!.fixAvailable).toBe('YES');
    expect(matchPackage(db, pkg('Debian:12', 'apt', '2.6.1'))[0]!.fixAvailable).toBe('NO');
    expect(matchPackage(db, pkg('crates.io', 'atty', '0.2.14'))[0]!.fixAvailable).toBe('NO');
  });

  it('say PARTIAL when only some of the collapsed advisories have a fix', () => {
    const b = new DatabaseBuilder('memory');
    b.addRecord(
      {
        id: 'GHSA-aaaa-bbbb-cccc',
        modified: '2024-01-01T00:00:00Z',
        aliases: ['CVE-2024-0001'],
        affected: [
          {
            package: { ecosystem: 'npm', name: 'pkg' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }],
          },
        ],
      },
      'a',
    );
    b.addRecord(
      {
        id: 'OTHER-2024-0001',
        modified: '2024-01-01T00:00:00Z',
        aliases: ['CVE-2024-0001'],
        affected: [
          {
            package: { ecosystem: 'npm', name: 'pkg' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { last_affected: '1.9.0' }] }],
          },
        ],
      },
      'b',
    );
    const [f, ...rest] = matchPackage(b.build(), pkg('npm', 'pkg', '1.0.0'));
    expect(rest).toEqual([]);
    expect(f!.fixAvailable).toBe('PARTIAL');
    expect(f!.fixedVersion).toBe('2.0.0');
  });

  it('ignore withdrawn records', () => {
    expect(db.get('KI-TEST-WITHDRAWN-1')).toBeUndefined();
    const ids = matchPackage(db, pkg('npm', 'lodash', '4.17.21')).map((f) => f.id);
    expect(ids).toEqual([]);
  });

  it('carry the severity and the vector it came from', () => {
    const [f] = matchPackage(db, pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.14.1'));
    expect(f!.severity).toBe('CRITICAL');
    expect(f!.cvss).toMatchObject({ version: '3.1', baseScore: 10 });
  });

  it('use the database severity when a record has no vector', () => {
    const [f] = matchPackage(db, pkg('PyPI', 'jinja2', '3.1.2'));
    expect(f!.severity).toBe('MEDIUM');
    expect(f!.cvss).toBeUndefined();
  });

  it('use the Ubuntu priority when there is no vector', () => {
    const [f] = matchPackage(
      db,
      pkg('Ubuntu:22.04', 'openssh-server', '1:8.9p1-3ubuntu0.7', 'openssh'),
    );
    expect(f!.severity).toBe('HIGH');
  });

  it('are UNTRIAGED when nothing rates them', () => {
    const [f] = matchPackage(db, pkg('Go', 'golang.org/x/crypto', 'v0.16.0'));
    expect(f!.severity).toBe('UNTRIAGED');
  });

  it('carry EPSS and exploit availability from the enrichment files', () => {
    const enrichment = makeEnrichment({
      epss: new Map([['CVE-2021-44228', 0.97565]]),
      knownExploited: new Set(['CVE-2021-44228']),
    });
    const [f] = matchPackage(
      db,
      pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.14.1'),
      enrichment,
    );
    expect(f!.epss).toBe(0.97565);
    expect(f!.exploitAvailable).toBe('YES');
    const [g] = matchPackage(db, pkg('npm', 'lodash', '4.17.20'), enrichment);
    expect(g!.epss).toBeUndefined();
    expect(g!.exploitAvailable).toBe('NO');
  });

  it('count packages whose version their ecosystem cannot read, and ecosystems without an order', () => {
    const summary = matchPackages(db, [
      pkg('npm', 'lodash', 'latest'),
      pkg('Debian:12', 'apt', 'not-a-version'),
      pkg('NuGet', 'Newtonsoft.Json', '12.0.1'),
      pkg('npm', 'lodash', '4.17.20'),
    ]);
    expect(summary.unreadableVersions.map((p) => p.version)).toEqual(['latest', 'not-a-version']);
    expect(summary.unsupportedEcosystem).toBe(1);
    expect(summary.findings.map((f) => f.id)).toEqual(['CVE-2021-23337']);
  });

  it('are sorted by severity, highest first, when many packages are matched', () => {
    const { findings, packages } = matchPackages(db, [
      pkg('crates.io', 'atty', '0.2.14'),
      pkg('Maven', 'org.apache.logging.log4j:log4j-core', '2.14.1'),
      pkg('npm', 'semver', '7.5.1'),
    ]);
    expect(packages).toBe(3);
    expect(findings.map((f) => f.severity)).toEqual(['CRITICAL', 'MEDIUM', 'LOW']);
  });
});

describe('range evaluation', () => {
  const order = versionOrderFor('npm')!;
  const range = (events: { kind: string; version: string }[], limits: string[] = []) =>
    ({ order, events, limits }) as Parameters<typeof evaluateRange>[0];

  it('treats introduced "0" as the start of everything', () => {
    expect(evaluateRange(range([{ kind: 'introduced', version: '0' }]), '0.0.1').affected).toBe(
      true,
    );
  });

  it('excludes the fixed version and includes last_affected', () => {
    const fixed = range([
      { kind: 'introduced', version: '1.0.0' },
      { kind: 'fixed', version: '1.2.0' },
    ]);
    expect(evaluateRange(fixed, '1.1.9').affected).toBe(true);
    expect(evaluateRange(fixed, '1.2.0').affected).toBe(false);
    expect(evaluateRange(fixed, '0.9.0').affected).toBe(false);
    const last = range([
      { kind: 'introduced', version: '1.0.0' },
      { kind: 'last_affected', version: '1.2.0' },
    ]);
    expect(evaluateRange(last, '1.2.0').affected).toBe(true);
    expect(evaluateRange(last, '1.2.1').affected).toBe(false);
  });

  it('bounds a range by its limit', () => {
    const limited = range([{ kind: 'introduced', version: '0' }], ['2.0.0']);
    expect(evaluateRange(limited, '1.9.9').affected).toBe(true);
    expect(evaluateRange(limited, '2.0.0').affected).toBe(false);
  });

  it('does not evaluate versions the order cannot read', () => {
    expect(
      evaluateRange(range([{ kind: 'introduced', version: '0' }]), 'not-a-version').affected,
    ).toBe(false);
  });
});
