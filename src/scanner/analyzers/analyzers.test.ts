import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../types.ts';
import { parseApkInstalled } from './apk.ts';
import { parseDpkgStatus } from './dpkg.ts';
import { analyzeArchive, parsePomProperties } from './java.ts';
import { npmAnalyzer, parsePackageJson } from './npm.ts';
import { operatingSystem, parseOsRelease } from './os-release.ts';
import { parsePythonMetadata } from './python.ts';
import { readRpmSqlite, rpmAnalyzer } from './rpm.ts';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/images');
const fixture = (p: string): Buffer => readFileSync(join(fixtures, p));

describe('dpkg status', () => {
  const text = fixture('dpkg/status').toString('utf8');

  it('lists every package stanza of a real status file in order', () => {
    const pkgs = parseDpkgStatus(text, true);
    const fromGrep = [...text.matchAll(/^Package: (.+)$/gm)].map((m) => m[1]);
    expect(pkgs.map((p) => p.name)).toEqual(fromGrep);
    expect(pkgs.length).toBe(12);
  });

  it('reads the source package with and without its own version', () => {
    const pkgs = parseDpkgStatus(text, true);
    const dmsetup = pkgs.find((p) => p.name === 'dmsetup')!;
    expect(dmsetup).toMatchObject({
      version: '2:1.02.185-2',
      sourceName: 'lvm2',
      sourceVersion: '2.03.16-2',
    });
    const libc = pkgs.find((p) => p.name === 'libc6')!;
    expect(libc.sourceName).toBe('glibc');
    expect(libc.sourceVersion).toBe(libc.version);
    const coreutils = pkgs.find((p) => p.name === 'coreutils')!;
    expect(coreutils.sourceName).toBe('coreutils');
    expect(coreutils.arch).toBe('amd64');
  });

  it('skips packages that are removed but keep their configuration files', () => {
    const stanza =
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0-1\n\nPackage: here\nVersion: 2\n';
    expect(parseDpkgStatus(stanza, true).map((p) => p.name)).toEqual([]);
    expect(parseDpkgStatus(stanza, false).map((p) => p.name)).toEqual(['here']);
  });
});

describe('dpkg status agrees with dpkg-query', () => {
  it('finds the same name/version pairs as dpkg-query on the fixture', () => {
    // dpkg-query reads <admindir>/status; point it at the fixture folder.
    const out = execFileSync(
      'dpkg-query',
      ['--admindir', join(fixtures, 'dpkg'), '-W', '-f', '${Package} ${Version}\n'],
      {
        encoding: 'utf8',
      },
    );
    const want = out.trim().split('\n').sort();
    const got = parseDpkgStatus(fixture('dpkg/status').toString('utf8'), true)
      .map((p) => `${p.name} ${p.version}`)
      .sort();
    expect(got).toEqual(want);
  });
});

describe('apk installed', () => {
  it('reads names, versions, architectures and origins', () => {
    const pkgs = parseApkInstalled(fixture('apk/installed').toString('utf8'));
    expect(pkgs.map((p) => `${p.name}@${p.version}<${p.sourceName}`)).toEqual([
      'musl@1.2.5-r0<musl',
      'busybox@1.36.1-r29<busybox',
      'ssl_client@1.36.1-r29<busybox',
      'libcrypto3@3.3.1-r0<openssl',
    ]);
    expect(pkgs.every((p) => p.arch === 'x86_64')).toBe(true);
  });
});

describe('rpm databases', () => {
  it('reads a real rpmdb.sqlite in memory with the same packages as rpm -qa', async () => {
    const pkgs = await readRpmSqlite(fixture('rpm/rpmdb.sqlite'));
    const want = fixture('rpm/rpmdb.expected')
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [name, evr, arch] = line.split(' ') as [string, string, string];
        return `${name} ${evr.replace(/^0:/, '')} ${arch}`;
      })
      .sort();
    expect(pkgs.map((p) => `${p.name} ${p.version} ${p.arch}`).sort()).toEqual(want);
    expect(pkgs.find((p) => p.name === 'ki-lib')).toMatchObject({
      sourceName: 'ki-lib',
      sourceVersion: '2.0~rc1-5.el9',
    });
  });

  it.each([
    ['var/lib/rpm/Packages', 'Berkeley DB'],
    ['usr/lib/sysimage/rpm/Packages.db', 'NDB'],
    ['var/lib/rpm/rpmdb.sqlite', 'SQLite'],
  ])('gives an "unsupported rpm database" warning for an unreadable %s', async (path, kind) => {
    const result = await rpmAnalyzer.analyze!(
      Buffer.alloc(8192, 7),
      { path, size: 8192, mode: 0o644 },
      DEFAULT_LIMITS,
    );
    expect(result.packages).toEqual([]);
    expect(result.warnings?.[0]).toContain(`unsupported rpm database ${path} (${kind})`);
  });

  it('refuses a file that is not SQLite', async () => {
    await expect(
      readRpmSqlite(Buffer.from('not a database at all, just text'.repeat(10))),
    ).rejects.toThrow(/SQLite/);
  });
});

describe('os-release', () => {
  it.each([
    ['dpkg/os-release', 'debian', '12', 'Debian:12', 'bookworm'],
    ['apk/os-release', 'alpine', '3.20.1', 'Alpine:v3.20', undefined],
  ])('reads %s as %s %s (%s)', (file, family, version, ecosystem, codename) => {
    const os = operatingSystem(parseOsRelease(fixture(file).toString('utf8')))!;
    expect(os).toMatchObject({ family, version, ecosystem, supported: true });
    expect(os.codename).toBe(codename);
  });

  it('handles quoting, comments and escapes', () => {
    const rel = parseOsRelease(
      '# c\nNAME="A \\"B\\""\nID=ubuntu\nVERSION_ID=\'22.04\'\nbad line\n',
    );
    expect(rel).toEqual({ NAME: 'A "B"', ID: 'ubuntu', VERSION_ID: '22.04' });
    expect(operatingSystem(rel)?.ecosystem).toBe('Ubuntu:22.04:LTS');
    expect(operatingSystem({ ID: 'ubuntu', VERSION_ID: '23.10' })?.ecosystem).toBe('Ubuntu:23.10');
  });

  it('marks an unknown distribution or a missing version as unsupported', () => {
    expect(operatingSystem({ ID: 'gentoo', VERSION_ID: '2.15' })?.supported).toBe(false);
    expect(operatingSystem({ ID: 'debian' })?.supported).toBe(false);
    expect(operatingSystem({ NAME: 'x' })).toBeUndefined();
  });
});

describe('npm package.json', () => {
  it('reads a real package.json from node_modules', () => {
    const text = readFileSync(
      join(import.meta.dirname, '../../../node_modules/semver/package.json'),
      'utf8',
    );
    const version = (JSON.parse(text) as { version: string }).version;
    expect(parsePackageJson(text, 'semver').packages).toEqual([
      { type: 'npm', name: 'semver', version },
    ]);
  });

  it.each([
    ['usr/lib/node_modules/npm/package.json', true],
    ['app/node_modules/@scope/pkg/package.json', true],
    ['app/node_modules/a/node_modules/b/package.json', true],
    ['app/package.json', false],
    ['app/node_modules/a/lib/package.json', false],
    ['app/node_modules/@scope/package.json', false],
  ])('matches %s: %s', (path, want) => {
    expect(npmAnalyzer.matches({ path, size: 10, mode: 0o644 })).toBe(want);
  });

  it('ignores manifests whose name is not their folder and broken JSON', () => {
    expect(parsePackageJson('{"name":"other","version":"1.0.0"}', 'pkg')).toEqual({});
    expect(parsePackageJson('{', 'pkg')).toEqual({});
  });
});

describe('Python metadata', () => {
  it.each([
    ['python/PyYAML-6.0.METADATA', 'PyYAML', '6.0'],
    ['python/PyJWT-2.6.0.PKG-INFO', 'PyJWT', '2.6.0'],
  ])('reads %s as %s %s', (file, name, version) => {
    expect(parsePythonMetadata(fixture(file).toString('utf8')).packages).toEqual([
      { type: 'pypi', name, version },
    ]);
  });

  it('stops at the end of the header block', () => {
    expect(parsePythonMetadata('Name: a\n\nVersion: 1\n')).toEqual({});
  });
});

describe('Java archives', () => {
  const jar = fixture('java/commons-cli-1.5.0.jar');

  it('reads pom.properties from a real jar', () => {
    expect(analyzeArchive(jar, 'x.jar', DEFAULT_LIMITS).packages).toEqual([
      { type: 'maven', namespace: 'commons-cli', name: 'commons-cli', version: '1.5.0' },
    ]);
  });

  it('reads jars nested in a Spring Boot style jar, but not deeper than the bound', () => {
    const props = (g: string, a: string, v: string): Uint8Array =>
      Buffer.from(`groupId=${g}\nartifactId=${a}\nversion=${v}\n`);
    const level4 = zipSync({
      'META-INF/maven/t/too-deep/pom.properties': props('t', 'too-deep', '4'),
    });
    const level3 = zipSync({
      'lib/too-deep.jar': level4,
      'META-INF/maven/d/deep/pom.properties': props('d', 'deep', '3'),
    });
    const level2 = zipSync({
      'lib/deep.jar': level3,
      'META-INF/maven/m/mid/pom.properties': props('m', 'mid', '2'),
    });
    const app = zipSync({
      'BOOT-INF/lib/commons-cli-1.5.0.jar': new Uint8Array(jar),
      'BOOT-INF/lib/mid.jar': level2,
      'META-INF/maven/com.example/app/pom.properties': props('com.example', 'app', '1.0'),
    });
    const names = analyzeArchive(Buffer.from(app), 'app.jar', DEFAULT_LIMITS)
      .packages!.map((p) => `${p.namespace}:${p.name}:${p.version}`)
      .sort();
    expect(names).toEqual([
      'com.example:app:1.0',
      'commons-cli:commons-cli:1.5.0',
      'd:deep:3',
      'm:mid:2',
    ]);
  });

  it('reports a damaged archive as a warning', () => {
    const result = analyzeArchive(
      Buffer.from('PK\x03\x04 not really a zip'),
      'bad.jar',
      DEFAULT_LIMITS,
    );
    expect(result.packages).toEqual([]);
    expect(result.warnings?.[0]).toContain('bad.jar');
  });

  it('needs group, artifact and version in pom.properties', () => {
    expect(parsePomProperties('groupId=a\nversion=1')).toBeUndefined();
  });
});
