/**
 * RPM version order: `rpmvercmp` for each part and `rpmverCmp` for a whole
 * `[epoch:]version[-release]` (rpm 4.18 semantics).
 *
 * A part is split into maximal runs of digits or of ASCII letters; every other character only
 * separates runs. `~` sorts before anything, even the end of the string; `^` sorts after the end
 * of the string but before any further run. A numeric run beats an alphabetic one; numbers
 * compare without leading zeros and without overflow.
 */
import { compareDigitRuns } from './dpkg.ts';

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function isSeparator(c: string): boolean {
  return !isDigit(c) && !isAlpha(c) && c !== '~' && c !== '^';
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** rpmvercmp: compares one version or release string. */
// eslint-disable-next-line complexity -- a port of rpm's rpmvercmp, kept comparable line by line
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSeparator(a[i]!)) i++;
    while (j < b.length && isSeparator(b[j]!)) j++;
    const ca = a[i];
    const cb = b[j];
    if (ca === undefined && cb === undefined) return 0;

    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '^' || cb === '^') {
      if (ca === undefined) return -1;
      if (cb === undefined) return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === undefined || cb === undefined) break;

    const numeric = isDigit(ca);
    const inRun = numeric ? isDigit : isAlpha;
    const si = i;
    while (i < a.length && inRun(a[i]!)) i++;
    const sj = j;
    while (j < b.length && inRun(b[j]!)) j++;
    // The other side has a run of the other kind: numbers are newer than letters.
    if (sj === j) return numeric ? 1 : -1;
    const x = a.slice(si, i);
    const y = b.slice(sj, j);
    const d = numeric ? compareDigitRuns(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (d !== 0) return sign(d);
  }
  // Everything compared equal except separators: whichever has characters left wins.
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export interface RpmEvr {
  epoch: string | undefined;
  version: string;
  release: string | undefined;
}

/** Splits `[epoch:]version[-release]` the way rpm does (release after the last `-`). */
export function parseRpmEvr(evr: string): RpmEvr {
  const s = evr.trim();
  let k = 0;
  while (k < s.length && isDigit(s[k]!)) k++;
  let epoch: string | undefined;
  let rest = s;
  if (s[k] === ':') {
    epoch = s.slice(0, k) || '0';
    rest = s.slice(k + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/**
 * Compares two EVR strings like rpm 4.18's `rpm.vercmp`: epoch (missing = 0), then version, then
 * release; when only one side has a release, that side is newer (`1.0-1` > `1.0`).
 */
export function compareRpm(a: string, b: string): number {
  const x = parseRpmEvr(a);
  const y = parseRpmEvr(b);
  const e = rpmvercmp(x.epoch ?? '0', y.epoch ?? '0');
  if (e !== 0) return e;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0) return v;
  if (x.release !== undefined && y.release !== undefined) return rpmvercmp(x.release, y.release);
  if (x.release === y.release) return 0;
  return x.release === undefined ? -1 : 1;
}

export function isValidRpmVersion(evr: string): boolean {
  const { epoch, version, release } = parseRpmEvr(evr);
  if (epoch !== undefined && !/^\d+$/.test(epoch)) return false;
  if (version === '' || /[\s-]/.test(version)) return false;
  return release === undefined || (release !== '' && !/\s/.test(release));
}
