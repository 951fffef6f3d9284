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

/** A number of at most 16 digits as a string that sorts like it (length, then digits). */
function smallNumberKey(n: number | string): string | undefined {
  const digits = String(n);
  return /^\d{1,16}$/.test(digits) ? String.fromCharCode(0x30 + digits.length) + digits : undefined;
}

/**
 * A string whose code-point order is SemVer precedence: equal keys for equal precedence (build
 * metadata ignored), `key(a) < key(b)` exactly when `compareSemver(a, b) < 0`. Core numbers
 * by length then digits; a release (`~`) after every pre-release (`-`); pre-release
 * identifiers numeric (`1`) before alphanumeric (`2`, ended by U+0001), and a shorter list
 * (`!`) before a longer one. `undefined` for what is not SemVer or has a numeric identifier
 * beyond 16 digits.
 */
export function semverKey(version: string): string | undefined {
  const v = parse(version);
  if (v === null) return undefined;
  let out = '';
  for (const n of [v.major, v.minor, v.patch]) {
    const k = smallNumberKey(n);
    if (k === undefined) return undefined;
    out += k;
  }
  if (v.prerelease.length === 0) return `${out}~`;
  out += '-';
  for (const id of v.prerelease) {
    const text = String(id);
    if (/^\d+$/.test(text)) {
      const k = smallNumberKey(text.replace(/^0+(?=\d)/, ''));
      if (k === undefined) return undefined;
      out += `1${k}`;
    } else out += `2${text}\u0001`;
  }
  return `${out}!`;
}
