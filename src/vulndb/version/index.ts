/**
 * One version order per OSV ecosystem. The ecosystem's suffix (`Debian:12`, `Alpine:v3.20`)
 * does not change the order, so the base name before the first `:` selects it.
 */
import { compareApk, isValidApkVersion } from './apk.ts';
import { compareDpkg, dpkgKey, isValidDpkgVersion } from './dpkg.ts';
import { compareMaven } from './maven.ts';
import { comparePep440, isValidPep440Version, pep440Key } from './pep440.ts';
import { compareRpm, isValidRpmVersion } from './rpm.ts';
import { compareSemver, isValidSemver, semverKey } from './semver.ts';

export { compareApk, isValidApkVersion } from './apk.ts';
export { compareDpkg, dpkgKey, isValidDpkgVersion } from './dpkg.ts';
export { compareMaven } from './maven.ts';
export { comparePep440, isValidPep440Version, pep440Key } from './pep440.ts';
export { compareRpm, isValidRpmVersion, rpmvercmp } from './rpm.ts';
export { compareSemver, isValidSemver, normalizeGoVersion, semverKey } from './semver.ts';

export interface VersionOrder {
  /** Short name of the scheme, for messages: `dpkg`, `rpm`, `apk`, `pep440`, `semver`, `maven`. */
  readonly name: string;
  /** Negative, zero or positive as `a` sorts before, equal to or after `b`. Total and pure. */
  compare(a: string, b: string): number;
  /** Whether the scheme can read the version; ranges are only evaluated for valid versions. */
  valid(version: string): boolean;
  /**
   * A string whose code-point order is this order (equal keys for equal versions), for the
   * orders where one can be computed exactly; `undefined` for a version it cannot key. The
   * on-disk index compares such keys in SQLite to leave out entries that cannot match.
   */
  key?(version: string): string | undefined;
}

const dpkg: VersionOrder = {
  name: 'dpkg',
  compare: compareDpkg,
  valid: isValidDpkgVersion,
  key: dpkgKey,
};
const rpm: VersionOrder = { name: 'rpm', compare: compareRpm, valid: isValidRpmVersion };
const apk: VersionOrder = { name: 'apk', compare: compareApk, valid: isValidApkVersion };
const pep440: VersionOrder = {
  name: 'pep440',
  compare: comparePep440,
  valid: isValidPep440Version,
  key: pep440Key,
};
const semver: VersionOrder = {
  name: 'semver',
  compare: compareSemver,
  valid: isValidSemver,
  key: semverKey,
};
const maven: VersionOrder = {
  name: 'maven',
  compare: compareMaven,
  valid: (v) => v.trim() !== '',
};

const byEcosystem = new Map<string, VersionOrder>([
  ['Debian', dpkg],
  ['Ubuntu', dpkg],
  ['Alpine', apk],
  ['Wolfi', apk],
  ['Chainguard', apk],
  ['Red Hat', rpm],
  ['AlmaLinux', rpm],
  ['Rocky Linux', rpm],
  ['openSUSE', rpm],
  ['SUSE', rpm],
  ['Mageia', rpm],
  ['openEuler', rpm],
  ['PyPI', pep440],
  ['npm', semver],
  ['crates.io', semver],
  ['Go', semver],
  ['Hex', semver],
  ['Pub', semver],
  ['Maven', maven],
]);

/** The base ecosystem: `Debian:12` → `Debian`, `Ubuntu:22.04:LTS` → `Ubuntu`. */
export function baseEcosystem(ecosystem: string): string {
  const i = ecosystem.indexOf(':');
  return i < 0 ? ecosystem : ecosystem.slice(0, i);
}

/** The version order of an OSV ecosystem, or `undefined` when it has none we know. */
export function versionOrderFor(ecosystem: string): VersionOrder | undefined {
  return byEcosystem.get(baseEcosystem(ecosystem));
}

/** The order SEMVER ranges use, whatever the ecosystem. */
export const semverOrder: VersionOrder = semver;
