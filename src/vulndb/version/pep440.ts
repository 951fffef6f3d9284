/**
 * PEP 440 order (Python packages) through @renovatebot/pep440, a port of Python's `packaging`.
 * Versions that are not PEP 440 sort before every valid one, and among themselves by string.
 *
 * The library's `compare` parses both versions (a large regular expression) on every call;
 * matching compares the same few strings many times, so each version is parsed once into the
 * sort key `packaging` uses (`_cmpkey`, as the library's `calculateKey` builds it) and keys are
 * compared as Python compares tuples.
 */
import { parse } from '@renovatebot/pep440';
import { ParseCache } from './cache.ts';

/** A sort key: numbers (±Infinity for the missing parts), strings, and tuples of them. */
type Key = number | string | readonly Key[];

const keys = new ParseCache<Key | undefined>();

/** What the library's `parse` returns (its type declarations describe `explain`'s result). */
interface Parsed {
  epoch: number;
  release: number[];
  pre: [string, number] | null;
  post: [string, number] | null;
  dev: [string, number] | null;
  local: (string | number)[] | null;
}

/** `packaging`'s `_cmpkey`: trailing zeros of the release dropped, missing parts placed. */
function sortKey(version: string): Key | undefined {
  const p = parse(version) as unknown as Parsed | null;
  if (p === null) return undefined;
  const release = [...p.release];
  while (release.length > 0 && release[release.length - 1] === 0) release.pop();
  const pre: Key = p.pre ?? (p.post === null && p.dev !== null ? -Infinity : Infinity);
  const post: Key = p.post ?? -Infinity;
  const dev: Key = p.dev ?? Infinity;
  const local: Key =
    p.local === null
      ? -Infinity
      : p.local.map((part): Key => {
          const n = Number(part);
          return Number.isNaN(n) ? [-Infinity, String(part)] : [n, ''];
        });
  return [p.epoch, release, pre, post, dev, local];
}

/** Python's ordering of the keys (tuples element by element, a shorter prefix first). */
function compareKeys(a: Key, b: Key): number {
  if (a === b) return 0;
  let x = a;
  let y = b;
  if (Array.isArray(x) !== Array.isArray(y)) {
    x = Array.isArray(x) ? x : [x];
    y = Array.isArray(y) ? y : [y];
  }
  if (Array.isArray(x)) {
    const xs = x as readonly Key[];
    const ys = y as readonly Key[];
    const n = Math.min(xs.length, ys.length);
    for (let i = 0; i < n; i++) {
      const r = compareKeys(xs[i]!, ys[i]!);
      if (r !== 0) return r;
    }
    return Math.sign(xs.length - ys.length);
  }
  if (x === -Infinity || y === Infinity) return -1;
  if (x === Infinity || y === -Infinity) return 1;
  return x < y ? -1 : 1;
}

function keyOf(version: string): Key | undefined {
  return keys.get(version.trim(), sortKey);
}

export function isValidPep440Version(version: string): boolean {
  return keyOf(version) !== undefined;
}

export function comparePep440(a: string, b: string): number {
  const x = a.trim();
  const y = b.trim();
  const kx = keyOf(x);
  const ky = keyOf(y);
  if (kx !== undefined && ky !== undefined) return compareKeys(kx, ky);
  if (kx === undefined && ky === undefined) return x < y ? -1 : x > y ? 1 : 0;
  return kx !== undefined ? 1 : -1;
}
