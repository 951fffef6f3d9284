/**
 * SemVer 2.0 order (npm, crates.io, Go modules) through the `semver` package.
 *
 * Go: a leading `v` is accepted, pseudo-versions (`v0.0.0-20210101000000-abcdef123456`) are
 * pre-releases and `+incompatible` is build metadata, which SemVer ignores for order — the same
 * order as Go's own `golang.org/x/mod/semver`. Go toolchain versions (`go1.21`, `go1.22rc1`)
 * are normalised by {@link normalizeGoVersion} first.
 *
 * Versions that are not SemVer sort before every valid one, and among themselves by string.
 */
import semver from 'semver';
import { ParseCache } from './cache.ts';

const cache = new ParseCache<semver.SemVer | null>();

function parse(version: string): semver.SemVer | null {
  return cache.get(version, (v) => semver.parse(v.trim(), { loose: false }));
}

export function isValidSemver(version: string): boolean {
  return parse(version) !== null;
}

export function compareSemver(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x !== null && y !== null) return x.compare(y);
  if (x === null && y === null) return a < b ? -1 : a > b ? 1 : 0;
  return x === null ? -1 : 1;
}

/**
 * Turns a Go toolchain version into SemVer as the Go vulnerability database writes it:
 * `go1.21` → `1.21.0`, `go1.21.3` → `1.21.3`, `go1.22rc1` → `1.22.0-rc.1`,
 * `go1.9beta2` → `1.9.0-beta.2`. Module versions pass through without their `v`.
 */
export function normalizeGoVersion(version: string): string {
  const v = version.trim();
  const m = /^go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta|alpha)(\d+))?$/.exec(v);
  if (m === null) return v.startsWith('v') ? v.slice(1) : v;
  const [, major, minor = '0', patch = '0', pre, preNumber] = m;
  const core = `${major}.${minor}.${patch}`;
  return pre === undefined ? core : `${core}-${pre}.${preNumber}`;
}
