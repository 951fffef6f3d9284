/**
 * Debian version order, as dpkg implements it (`verrevcmp` in lib/dpkg/version.c):
 * `[epoch:]upstream[-revision]`. Epoch compares numerically (missing = 0); upstream and
 * revision compare by alternating non-digit and digit runs. In a non-digit run `~` sorts
 * before everything, even the end of the string; letters sort before all other characters.
 * Digit runs compare as numbers of any length (no overflow).
 */

export interface DpkgVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

export function parseDpkgVersion(version: string): DpkgVersion {
  const v = version.trim();
  const colon = v.indexOf(':');
  let epoch = '0';
  let rest = v;
  if (colon >= 0) {
    epoch = v.slice(0, colon) || '0';
    rest = v.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
}

/** A version dpkg accepts: optional numeric epoch, upstream starting with a digit, allowed characters. */
export function isValidDpkgVersion(version: string): boolean {
  const v = version.trim();
  const m = /^(?:(\d+):)?(.*)$/.exec(v);
  if (m === null) return false;
  const { upstream, revision } = parseDpkgVersion(v);
  const hasRevision = (m[2] ?? '').includes('-');
  if (!/^\d[A-Za-z0-9.+~:-]*$/.test(upstream)) return false;
  if (m[1] === undefined && v.includes(':')) return false;
  if (hasRevision && !/^[A-Za-z0-9.+~]+$/.test(revision)) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Weight of a character in a non-digit run; 0 is the end of the run. */
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126 /* ~ */) return -1;
  return c + 256;
}

/** Compares two digit strings numerically without converting them to numbers. */
export function compareDigitRuns(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit run.
    while (
      (i < a.length && !isDigit(a.charCodeAt(i))) ||
      (j < b.length && !isDigit(b.charCodeAt(j)))
    ) {
      const ac = order(a, i);
      const bc = order(b, j);
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    // Digit run.
    const si = i;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    const sj = j;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const d = compareDigitRuns(a.slice(si, i), b.slice(sj, j));
    if (d !== 0) return d;
  }
  return 0;
}

/** Negative, zero or positive as `a` sorts before, equal to or after `b` in dpkg's order. */
export function compareDpkg(a: string, b: string): number {
  const x = parseDpkgVersion(a);
  const y = parseDpkgVersion(b);
  const e = compareDigitRuns(x.epoch, y.epoch);
  if (e !== 0) return e;
  const u = verrevcmp(x.upstream, y.upstream);
  if (u !== 0) return u;
  return verrevcmp(x.revision, y.revision);
}

/**
 * Digits as a string that sorts like the number: the count of significant digits (as one
 * character), then the digits; `undefined` beyond 60 digits.
 */
export function numberKey(digits: string): string | undefined {
  let i = 0;
  while (i < digits.length && digits.charCodeAt(i) === 48) i++;
  const n = digits.length - i;
  return n > 60 ? undefined : String.fromCharCode(0x30 + n) + digits.slice(i);
}

/** One part (upstream or revision) as a key: each run as `verrevcmp` weighs it. */
function partKey(s: string): string | undefined {
  let out = '';
  let i = 0;
  // The first run is a digit run (an empty non-digit run before it), as for every later one.
  do {
    while (i < s.length && !isDigit(s.charCodeAt(i))) {
      const c = s.charCodeAt(i);
      // '~' sorts before the end of a run, letters after it, everything else after letters.
      out += c === 126 ? '\u0001' : isAlpha(c) ? s[i] : String.fromCharCode(c + 256);
      i++;
    }
    out += '\u0002';
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    const n = numberKey(s.slice(start, i));
    if (n === undefined) return undefined;
    out += n;
  } while (i < s.length);
  // The end of the part sorts as the end of a non-digit run: after '~', before any character.
  return `${out}\u0002`;
}

/**
 * A string whose code-point order (JavaScript's `<`, SQLite's byte order of UTF-8 text) is
 * dpkg's order of the versions: equal keys for equal versions, and `key(a) < key(b)` exactly
 * when `compareDpkg(a, b) < 0`. `undefined` for a version dpkg rejects or a number too long.
 */
export function dpkgKey(version: string): string | undefined {
  if (!isValidDpkgVersion(version)) return undefined;
  const { epoch, upstream, revision } = parseDpkgVersion(version);
  const e = numberKey(epoch);
  const u = partKey(upstream);
  const r = partKey(revision);
  return e === undefined || u === undefined || r === undefined ? undefined : e + u + r;
}
