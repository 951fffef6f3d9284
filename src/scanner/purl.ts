/** Package URLs (purl) for the packages the analyzers find. */
import { PackageURL } from 'packageurl-js';
import type { OperatingSystem, RawPackage } from './types.ts';

const RPM_NAMESPACES: Readonly<Record<string, string>> = {
  rhel: 'redhat',
  centos: 'centos',
  rocky: 'rocky-linux',
  almalinux: 'almalinux',
  fedora: 'fedora',
  amzn: 'amazon',
  ol: 'oracle',
  'opensuse-leap': 'opensuse',
  'opensuse-tumbleweed': 'opensuse',
  sles: 'suse',
  mariner: 'mariner',
  azurelinux: 'azurelinux',
};

function distro(os: OperatingSystem | undefined): string | undefined {
  if (os === undefined) return undefined;
  return os.version === '' ? os.family : `${os.family}-${os.version}`;
}

function qualifiers(
  entries: Record<string, string | undefined>,
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined && v !== '') out[k] = v;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The purl of a package; OS packages carry the distribution as a qualifier. */
export function packageUrl(pkg: RawPackage, os: OperatingSystem | undefined): string {
  switch (pkg.type) {
    case 'deb': {
      const ns = os?.family === 'ubuntu' ? 'ubuntu' : 'debian';
      return new PackageURL(
        'deb',
        ns,
        pkg.name,
        pkg.version,
        qualifiers({ arch: pkg.arch, distro: distro(os) }),
      ).toString();
    }
    case 'apk': {
      const ns =
        os !== undefined && ['alpine', 'wolfi', 'chainguard'].includes(os.family)
          ? os.family
          : 'alpine';
      return new PackageURL(
        'apk',
        ns,
        pkg.name,
        pkg.version,
        qualifiers({ arch: pkg.arch, distro: distro(os) }),
      ).toString();
    }
    case 'rpm': {
      const ns =
        (os !== undefined ? (RPM_NAMESPACES[os.family] ?? os.family) : undefined) ?? 'redhat';
      const m = /^(\d+):(.*)$/.exec(pkg.version);
      const version = m === null ? pkg.version : m[2]!;
      return new PackageURL(
        'rpm',
        ns,
        pkg.name,
        version,
        qualifiers({ arch: pkg.arch, epoch: m?.[1], distro: distro(os) }),
      ).toString();
    }
    case 'npm': {
      const slash = pkg.name.startsWith('@') ? pkg.name.indexOf('/') : -1;
      const ns = slash > 0 ? pkg.name.slice(0, slash) : undefined;
      const name = slash > 0 ? pkg.name.slice(slash + 1) : pkg.name;
      return new PackageURL('npm', ns, name, pkg.version).toString();
    }
    case 'pypi':
      return new PackageURL(
        'pypi',
        undefined,
        pkg.name.toLowerCase().replace(/[-_.]+/g, '-'),
        pkg.version,
      ).toString();
    case 'golang': {
      const slash = pkg.name.lastIndexOf('/');
      const ns = slash > 0 ? pkg.name.slice(0, slash) : undefined;
      const name = slash > 0 ? pkg.name.slice(slash + 1) : pkg.name;
      // The platform a Go binary was built for decides which advisories apply (some are
      // limited to one GOOS or GOARCH), so it travels with the package as qualifiers.
      return new PackageURL(
        'golang',
        ns,
        name,
        pkg.version,
        qualifiers({ goarch: pkg.goarch, goos: pkg.goos }),
      ).toString();
    }
    case 'maven':
      return new PackageURL('maven', pkg.namespace, pkg.name, pkg.version).toString();
  }
}
