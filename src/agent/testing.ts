/**
 * Realistic package lists for size measurements (tests and bench/): names, versions and purls
 * shaped like a large Debian 12 host's (lengths and punctuation of real ones: library
 * packages with sonames, epochs, `+deb12u` security suffixes, source packages that differ).
 */
import type { Package } from '../scanner/types.ts';

const STEMS = [
  'gstreamer1.0-plugins-base',
  'libreoffice-core-nogui',
  'python3-cryptography',
  'texlive-latex-extra',
  'linux-headers-6.1.0-28',
  'qt6-declarative',
  'openjdk-17-jre-headless',
  'golang-github-prometheus',
  'node-babel7-runtime',
  'ruby-activesupport',
  'libx11-xcb',
  'systemd-timesyncd',
];
const VERSIONS = [
  '1:2.36.1-8+deb12u1',
  '3.0.15-1~deb12u1',
  '252.33-1~deb12u1',
  '2:4.17.12+dfsg-0+deb12u1',
  '1.22.0-5+b1',
  '6.4.2+dfsg-2',
  '17.0.14+7-1~deb12u1',
  '0.9.8-2.1',
];
const ARCHES = ['amd64', 'all'];

/** `n` distinct Debian 12 packages as the dpkg analyzer returns them. */
export function realisticDebianPackages(n: number): Package[] {
  const out: Package[] = [];
  for (let i = 0; i < n; i++) {
    const stem = STEMS[i % STEMS.length]!;
    const name = i % 3 === 0 ? `lib${stem}${i}` : `${stem}-${i}`;
    const version = VERSIONS[i % VERSIONS.length]!;
    const arch = ARCHES[i % ARCHES.length]!;
    const differs = i % 2 === 0;
    const m = /^(\d+):(.*)$/.exec(version);
    const purlVersion = encodeURIComponent(m === null ? version : m[2]!);
    out.push({
      type: 'deb',
      name,
      version,
      arch,
      sourceName: differs ? stem : name,
      sourceVersion: version,
      purl: `pkg:deb/debian/${name}@${purlVersion}?arch=${arch}${m === null ? '' : `&epoch=${m[1]}`}&distro=debian-12`,
      filePath: 'var/lib/dpkg/status',
    });
  }
  return out;
}
