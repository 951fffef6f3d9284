import { describe, expect, it } from 'vitest';
import {
  advisoryNames,
  ecosystemForOs,
  normalizeEcosystem,
  normalizePackageName,
  normalizePypiName,
  rpmSourceName,
} from './ecosystem.ts';

describe('the OS release', () => {
  it.each([
    ['debian', '12', 'Debian:12'],
    ['debian', '11', 'Debian:11'],
    ['ubuntu', '22.04', 'Ubuntu:22.04'],
    ['alpine', '3.20.3', 'Alpine:v3.20'],
    ['alpine', '3.19', 'Alpine:v3.19'],
    ['rhel', '9.4', 'Red Hat:9'],
    ['almalinux', '9.3', 'AlmaLinux:9'],
    ['rocky', '8.9', 'Rocky Linux:8'],
  ])('%s %s selects the advisory ecosystem %s', (id, versionId, ecosystem) => {
    expect(ecosystemForOs({ id, versionId })).toBe(ecosystem);
  });

  it('selects the one ecosystem of a rolling distribution whatever its version', () => {
    expect(ecosystemForOs({ id: 'wolfi', versionId: '20230201' })).toBe('Wolfi');
    expect(ecosystemForOs({ id: 'chainguard', versionId: '' })).toBe('Chainguard');
  });

  it('selects nothing for a distribution without advisories or without a version', () => {
    expect(ecosystemForOs({ id: 'gentoo', versionId: '2.15' })).toBeUndefined();
    expect(ecosystemForOs({ id: 'debian', versionId: '' })).toBeUndefined();
  });
});

describe('ecosystem names', () => {
  it.each([
    ['Ubuntu:22.04:LTS', 'Ubuntu:22.04'],
    ['Ubuntu:24.10', 'Ubuntu:24.10'],
    ['Ubuntu:Pro:18.04:LTS', 'Ubuntu:Pro:18.04'],
    ['Red Hat:enterprise_linux:9::appstream', 'Red Hat:9'],
    ['Red Hat:rhel_eus:8.6::baseos', 'Red Hat:8'],
    ['AlmaLinux:9', 'AlmaLinux:9'],
    ['Alpine:v3.20', 'Alpine:v3.20'],
    ['Alpine:3.20', 'Alpine:v3.20'],
    ['Debian:12', 'Debian:12'],
    ['npm', 'npm'],
  ])('%s is indexed as %s', (ecosystem, key) => {
    expect(normalizeEcosystem(ecosystem)).toBe(key);
  });
});

describe('package names', () => {
  it.each([
    ['Django', 'django'],
    ['zope.interface', 'zope-interface'],
    ['Foo__Bar--baz', 'foo-bar-baz'],
    ['ruamel.yaml.clib', 'ruamel-yaml-clib'],
  ])('PEP 503 normalises %s to %s', (name, normal) => {
    expect(normalizePypiName(name)).toBe(normal);
  });

  it('compare crates without case and with - and _ alike', () => {
    expect(normalizePackageName('crates.io', 'Serde_JSON')).toBe('serde-json');
  });

  it('call the Go standard library stdlib', () => {
    expect(normalizePackageName('Go', 'stdlib')).toBe('stdlib');
    expect(normalizePackageName('Go', 'go')).toBe('stdlib');
  });

  it('keep npm and Maven names as they are', () => {
    expect(normalizePackageName('npm', '@babel/core')).toBe('@babel/core');
    expect(normalizePackageName('Maven', 'org.apache.logging.log4j:log4j-core')).toBe(
      'org.apache.logging.log4j:log4j-core',
    );
  });

  it('take the source rpm name from its file name', () => {
    expect(rpmSourceName('openssl-3.0.7-24.el9.src.rpm')).toBe('openssl');
    expect(rpmSourceName('python3.11-3.11.7-1.el9.src.rpm')).toBe('python3.11');
    expect(rpmSourceName('perl-IO-Socket-SSL-2.073-1.el9.src.rpm')).toBe('perl-IO-Socket-SSL');
  });
});

describe('the names advisories use', () => {
  it('are the source package for Debian and Ubuntu', () => {
    expect(
      advisoryNames({
        ecosystem: 'Debian:12',
        name: 'libssl3',
        sourceName: 'openssl',
        version: '1',
      }),
    ).toEqual(['openssl']);
    expect(
      advisoryNames({
        ecosystem: 'Ubuntu:22.04',
        name: 'libc6',
        sourceName: 'glibc',
        version: '1',
      }),
    ).toEqual(['glibc']);
  });

  it('fall back to the binary name when the source is the same or unknown', () => {
    expect(advisoryNames({ ecosystem: 'Debian:12', name: 'curl', version: '1' })).toEqual(['curl']);
  });

  it('are the origin package for Alpine', () => {
    expect(
      advisoryNames({
        ecosystem: 'Alpine:v3.20',
        name: 'libcrypto3',
        sourceName: 'openssl',
        version: '1',
      }),
    ).toEqual(['openssl']);
  });

  it('are the binary and the source name for rpm distributions', () => {
    expect(
      advisoryNames({
        ecosystem: 'Red Hat:9',
        name: 'openssl-libs',
        sourceName: 'openssl-3.0.7-24.el9.src.rpm',
        version: '1',
      }),
    ).toEqual(['openssl-libs', 'openssl']);
  });

  it('are the normalised name for language ecosystems', () => {
    expect(advisoryNames({ ecosystem: 'PyPI', name: 'PyYAML', version: '1' })).toEqual(['pyyaml']);
  });
});
