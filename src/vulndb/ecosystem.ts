/**
 * Package identity per ecosystem: which advisory ecosystem an inventory's OS release selects,
 * which name an advisory uses for an installed package, and how names are normalised.
 *
 * - Debian and Ubuntu advisories name the *source* package (`openssl`, not `libssl3`).
 * - Alpine advisories name the *origin* package (`openssl`, not `libcrypto3`).
 * - Red Hat, AlmaLinux and Rocky Linux advisories name binary rpms; we look a package up under
 *   its own name and under its source rpm's name, and drop duplicates.
 * - PyPI names are normalised as PEP 503 says; crates.io names ignore case and `-`/`_`.
 * - Go: module paths as they are; the standard library is the package `stdlib`, its versions
 *   are toolchain versions (`go1.21.3`).
 * - Maven: `group:artifact`.
 */
import { baseEcosystem } from './version/index.ts';

/** One installed package as an inventory or an SBOM describes it. */
export interface InstalledPackage {
  /** The advisory ecosystem, with its release for OS packages: `Debian:12`, `Alpine:v3.20`, `npm`. */
  ecosystem: string;
  /** The package's own (binary) name. */
  name: string;
  /** Debian/Ubuntu source package, Alpine origin, or rpm source name, when known. */
  sourceName?: string | undefined;
  /** The installed version; for rpm `[epoch:]version-release`. */
  version: string;
  /** The purl exactly as the inventory or SBOM gave it. */
  purl?: string | undefined;
}

/** Facts from /etc/os-release (or an SBOM's distro qualifier). */
export interface OsRelease {
  /** `ID`: debian, ubuntu, alpine, rhel, almalinux, rocky, ... */
  id: string;
  /** `VERSION_ID`: 12, 22.04, 3.20.3, 9.3, ... */
  versionId: string;
}

/**
 * The advisory ecosystem an OS release selects, or `undefined` when we have no advisories for
 * it. Packages of another release never match: `Debian:11` records do not apply to Debian 12.
 */
export function ecosystemForOs(os: OsRelease): string | undefined {
  const id = os.id.trim().toLowerCase();
  const v = os.versionId.trim().replace(/^v/, '');
  const major = /^(\d+)/.exec(v)?.[1];
  const majorMinor = /^(\d+\.\d+)/.exec(v)?.[1];
  switch (id) {
    case 'debian':
      return major === undefined ? undefined : `Debian:${major}`;
    case 'ubuntu':
      return majorMinor === undefined ? undefined : `Ubuntu:${majorMinor}`;
    case 'alpine':
      return majorMinor === undefined ? undefined : `Alpine:v${majorMinor}`;
    case 'rhel':
    case 'redhat':
      return major === undefined ? undefined : `Red Hat:${major}`;
    case 'almalinux':
      return major === undefined ? undefined : `AlmaLinux:${major}`;
    case 'rocky':
    case 'rockylinux':
      return major === undefined ? undefined : `Rocky Linux:${major}`;
    // Rolling distributions: one advisory ecosystem without a release.
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    default:
      return undefined;
  }
}

/**
 * The form of an ecosystem used as an index key, so that spellings of one release meet:
 * `Ubuntu:22.04:LTS` → `Ubuntu:22.04` (Ubuntu Pro stays apart: `Ubuntu:Pro:18.04`),
 * `Red Hat:enterprise_linux:9::appstream` → `Red Hat:9`, `AlmaLinux:9.3` → `AlmaLinux:9`,
 * `Alpine:3.20` → `Alpine:v3.20`. Others stay as they are.
 */
export function normalizeEcosystem(ecosystem: string): string {
  const parts = ecosystem.split(':');
  const base = parts[0] ?? ecosystem;
  switch (base) {
    case 'Ubuntu': {
      const rest = parts.slice(1).filter((p) => p !== 'LTS' && p !== '');
      return ['Ubuntu', ...rest].join(':');
    }
    case 'Red Hat': {
      const version = parts.slice(1).find((p) => /^\d+(\.\d+)*$/.test(p));
      const major = version === undefined ? undefined : /^\d+/.exec(version)?.[0];
      return major === undefined ? 'Red Hat' : `Red Hat:${major}`;
    }
    case 'AlmaLinux':
    case 'Rocky Linux': {
      const major = /^\d+/.exec(parts[1] ?? '')?.[0];
      return major === undefined ? base : `${base}:${major}`;
    }
    case 'Alpine': {
      const v = parts[1];
      if (v === undefined) return base;
      const mm = /^v?(\d+\.\d+)/.exec(v)?.[1];
      return mm === undefined ? ecosystem : `Alpine:v${mm}`;
    }
    default:
      return ecosystem;
  }
}

/** PEP 503: lower case, runs of `-`, `_` and `.` become one `-`. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Normalises a package name the way its ecosystem compares names. */
export function normalizePackageName(ecosystem: string, name: string): string {
  switch (baseEcosystem(ecosystem)) {
    case 'PyPI':
      return normalizePypiName(name);
    case 'crates.io':
      return name.toLowerCase().replace(/_/g, '-');
    case 'Go':
      return name === 'go' || name === 'golang' ? 'stdlib' : name;
    default:
      return name.trim();
  }
}

/** The rpm source name from a source rpm file name: `openssl-3.0.7-24.el9.src.rpm` → `openssl`. */
export function rpmSourceName(sourceRpm: string): string {
  const s = sourceRpm.replace(/\.(?:no)?src\.rpm$/, '');
  // name-version-release: drop the last two hyphen-separated fields.
  const parts = s.split('-');
  return parts.length > 2 ? parts.slice(0, -2).join('-') : s;
}

/** Whether an ecosystem's advisories name source/origin packages rather than binaries. */
function namesSource(base: string): boolean {
  return (
    base === 'Debian' ||
    base === 'Ubuntu' ||
    base === 'Alpine' ||
    base === 'Wolfi' ||
    base === 'Chainguard'
  );
}

function isRpmDistro(base: string): boolean {
  return base === 'Red Hat' || base === 'AlmaLinux' || base === 'Rocky Linux';
}

/** The names under which advisories for this package are filed, normalised, without duplicates. */
export function advisoryNames(pkg: InstalledPackage): string[] {
  const base = baseEcosystem(pkg.ecosystem);
  const source = pkg.sourceName?.trim();
  let names: string[];
  if (namesSource(base)) names = [source !== undefined && source !== '' ? source : pkg.name];
  else if (isRpmDistro(base) && source !== undefined && source !== '')
    names = [pkg.name, source.endsWith('.rpm') ? rpmSourceName(source) : source];
  else names = [pkg.name];
  return [...new Set(names.map((n) => normalizePackageName(pkg.ecosystem, n)))];
}

/** The index key for an ecosystem and a name. */
export function packageKey(ecosystem: string, name: string): string {
  return `${normalizeEcosystem(ecosystem)}\u0000${normalizePackageName(ecosystem, name)}`;
}
