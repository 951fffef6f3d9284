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
import { numberKey } from './dpkg.ts';

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

/** A non-negative integer as a key that sorts like it; `undefined` beyond 2^53. */
function intKey(n: Key): string | undefined {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
    ? numberKey(String(n))
    : undefined;
}

/**
 * A part of the sort key that is either a tagged number (`['a', 1]`, `['post', 2]`) or one of
 * the infinities: `0` below every tuple, `2` above, a tuple `1`, its tag ended by U+0001, then
 * its number.
 */
function taggedKey(k: Key): string | undefined {
  if (k === -Infinity) return '0';
  if (k === Infinity) return '2';
  if (typeof k !== 'object') return undefined;
  const [tag, number] = k;
  const n = number === undefined ? undefined : intKey(number);
  return typeof tag !== 'string' || n === undefined ? undefined : `1${tag}\u0001${n}`;
}

/**
 * A string whose code-point order is the PEP 440 order of valid versions (`packaging`'s
 * `_cmpkey` encoded part by part): equal keys for equal versions, `key(a) < key(b)` exactly
 * when `comparePep440(a, b) < 0`. The release is its numbers (each marked `1`) ended by `0`;
 * a local version is `0` when absent, else its parts (strings marked `1` and ended by U+0001,
 * numbers marked `2`, so strings sort first) ended by `0`. `undefined` for a version that is
 * not PEP 440 or has a number beyond 2^53.
 */
export function pep440Key(version: string): string | undefined {
  const k = keyOf(version);
  if (k === undefined || !Array.isArray(k)) return undefined;
  const [epoch, release, pre, post, dev, local] = k as readonly Key[];
  let out = intKey(epoch!);
  if (out === undefined || !Array.isArray(release)) return undefined;
  for (const n of release as readonly Key[]) {
    const part = intKey(n);
    if (part === undefined) return undefined;
    out += `1${part}`;
  }
  out += '0';
  for (const tagged of [pre, post, dev]) {
    const part = taggedKey(tagged!);
    if (part === undefined) return undefined;
    out += part;
  }
  if (local === -Infinity) return `${out}0`;
  if (!Array.isArray(local)) return undefined;
  out += '1';
  for (const part of local as readonly Key[]) {
    const [n, text] = part as readonly Key[];
    if (n === -Infinity && typeof text === 'string') out += `1${text}\u0001`;
    else {
      const number = intKey(n!);
      if (number === undefined) return undefined;
      out += `2${number}`;
    }
  }
  return `${out}0`;
}
