import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageFromPurl, readSbom } from './sbom.ts';

const dir = join(import.meta.dirname, 'testdata', 'sbom');
const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));

describe('purls', () => {
  it.each([
    [
      'pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl',
      {
        ecosystem: 'Debian:12',
        name: 'libssl3',
        sourceName: 'openssl',
        version: '3.0.11-1~deb12u1',
      },
    ],
    [
      'pkg:deb/debian/openssh-server@1%3A9.2p1-2?distro=bookworm&upstream=openssh%409.2p1-2',
      {
        ecosystem: 'Debian:12',
        name: 'openssh-server',
        sourceName: 'openssh',
        version: '1:9.2p1-2',
      },
    ],
    [
      'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.1?distro=ubuntu-22.04&upstream=glibc',
      { ecosystem: 'Ubuntu:22.04', name: 'libc6', sourceName: 'glibc' },
    ],
    [
      'pkg:apk/alpine/libcrypto3@3.3.0-r2?upstream=openssl&distro=3.20',
      { ecosystem: 'Alpine:v3.20', name: 'libcrypto3', sourceName: 'openssl' },
    ],
    [
      'pkg:apk/alpine/busybox@1.36.1-r28?distro=alpine-3.20.1',
      { ecosystem: 'Alpine:v3.20', name: 'busybox', sourceName: undefined },
    ],
    [
      'pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm&distro=rhel-9.4',
      { ecosystem: 'Red Hat:9', name: 'openssl-libs', version: '1:3.0.7-24.el9' },
    ],
    [
      'pkg:rpm/almalinux/openssh-server@8.7p1-38.el9?distro=almalinux-9.4',
      { ecosystem: 'AlmaLinux:9', version: '8.7p1-38.el9' },
    ],
    [
      'pkg:apk/wolfi/libcrypto3@3.3.2-r0?arch=x86_64&upstream=openssl',
      { ecosystem: 'Wolfi', name: 'libcrypto3', sourceName: 'openssl' },
    ],
    ['pkg:npm/%40babel/core@7.0.0', { ecosystem: 'npm', name: '@babel/core' }],
    ['pkg:pypi/PyYAML@5.3.1', { ecosystem: 'PyPI', name: 'pyyaml' }],
    [
      'pkg:golang/github.com/docker/docker@v24.0.9%2Bincompatible',
      { ecosystem: 'Go', name: 'github.com/docker/docker', version: 'v24.0.9+incompatible' },
    ],
    ['pkg:golang/stdlib@go1.21.1', { ecosystem: 'Go', name: 'stdlib' }],
    [
      'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
      { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core' },
    ],
    ['pkg:cargo/atty@0.2.14', { ecosystem: 'crates.io', name: 'atty' }],
  ])('%s is read as an installed package', (purl, expected) => {
    const r = packageFromPurl(purl);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.pkg).toMatchObject({ ...expected, purl });
  });

  it.each([
    ['pkg:deb/debian/libssl3@3.0.11-1', /no distro qualifier/],
    ['pkg:deb/debian/libssl3@3.0.11-1?distro=sid', /unsupported distro sid/],
    ['pkg:deb/kali/libssl3@3.0.11-1?distro=kali-2024', /unsupported deb namespace kali/],
    ['pkg:gem/rails@7.0.0', /unsupported purl type gem/],
    ['pkg:npm/lodash', /no version/],
    ['lodash@4.17.20', /invalid purl/],
  ])('%s is skipped because of %s', (purl, reason) => {
    const r = packageFromPurl(purl);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});

describe('SBOM documents', () => {
  it('give the packages of a CycloneDX 1.5 document, nested components included', () => {
    const sbom = readSbom(read('cyclonedx-1.5.json'));
    expect(sbom.format).toBe('CycloneDX');
    expect(sbom.packages.map((p) => p.name)).toEqual([
      'libssl3',
      'openssh-server',
      'apt',
      'libc6',
      'lodash',
      'org.apache.logging.log4j:log4j-core',
      'golang.org/x/crypto',
      'stdlib',
    ]);
    expect(sbom.skipped.map((s) => s.reason)).toEqual([
      'no purl',
      'unsupported purl type gem',
      'no purl',
    ]);
  });

  it('give the packages of an SPDX 2.3 document from their purl references', () => {
    const sbom = readSbom(read('spdx-2.3.json'));
    expect(sbom.format).toBe('SPDX');
    expect(sbom.packages).toHaveLength(6);
    expect(sbom.skipped).toEqual([{ ref: 'SPDXRef-nopurl', reason: 'no purl' }]);
  });

  it.each([
    [
      { bomFormat: 'CycloneDX', specVersion: '1.3', components: [] },
      /unsupported CycloneDX specVersion "1.3"/,
    ],
    [
      { bomFormat: 'CycloneDX', specVersion: '1.6', components: {} },
      /"components" is not an array/,
    ],
    [{ spdxVersion: 'SPDX-3.0' }, /unsupported spdxVersion "SPDX-3.0"/],
    [{ hello: 'world' }, /neither a CycloneDX nor an SPDX JSON document/],
    [[1, 2], /not a JSON object/],
  ])('are refused with a message saying what is wrong (%#)', (doc, message) => {
    expect(() => readSbom(doc)).toThrow(message);
  });
});
