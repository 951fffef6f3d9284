/**
 * Alpine (apk) version order, written from apk-tools' documented rules:
 *
 *   version  = number ('.' number)* letter? ('_' suffix number?)* ('~' hash)? ('-r' number)?
 *   suffix   = alpha | beta | pre | rc        (pre-releases: before the bare version)
 *            | cvs | svn | git | hg | p       (post-releases: after it)
 *
 * A version is read as a sequence of typed tokens that must appear in the order above. Two
 * versions are compared token by token; when the kinds of the next tokens differ, a coming
 * pre-release suffix makes that side older, otherwise the side whose next token is of a
 * "later" kind (the end being the latest) is older: `1.2` < `1.2.1`, `1.2` < `1.2a`,
 * `1.2_rc1` < `1.2` < `1.2_p1` < `1.2-r1`.
 *
 * A component after a dot that starts with `0` is compared by its count of leading zeros
 * first (more zeros = older), then by the digits after them: `1.02` < `1.1` and
 * `1.002` < `1.02`.
 */

import { ParseCache } from './cache.ts';

/** Token kinds in the order they may appear; the numbers are also the comparison order. */
const DOT_NUMBER = 0;
const NUMBER = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NUMBER = 4;
const HASH = 5;
const REVISION = 6;
const END = 7;

interface Token {
  kind: number;
  value: number;
}

const preSuffixes = ['alpha', 'beta', 'pre', 'rc'];
const postSuffixes = ['cvs', 'svn', 'git', 'hg', 'p'];

function digitsAt(s: string, i: number): number {
  let k = i;
  while (k < s.length && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++;
  return k;
}

function numberOf(digits: string): number {
  // Long digit runs (dates, hashes) stay exact enough for ordering up to 2^53.
  return digits === '' ? 0 : Number(digits);
}

/** Reads a version into tokens; `undefined` when it breaks apk's grammar. */
// eslint-disable-next-line max-lines-per-function, complexity -- a port of apk-tools' version tokenizer state machine
export function tokenizeApk(version: string): Token[] | undefined {
  const s = version.trim();
  const tokens: Token[] = [];
  let i = 0;
  let last = NUMBER;
  const push = (kind: number, value: number): boolean => {
    // Kinds may only move forward, except that numbers, letters and dotted numbers interleave
    // in the release part and a suffix may follow a suffix number.
    const allowed =
      kind >= last ||
      (kind === DOT_NUMBER && last === NUMBER) ||
      (kind === NUMBER && last === LETTER) ||
      (kind === SUFFIX && last === SUFFIX_NUMBER);
    if (!allowed) return false;
    tokens.push({ kind, value });
    last = kind;
    return true;
  };

  let end = digitsAt(s, 0);
  if (end === 0) return undefined;
  tokens.push({ kind: NUMBER, value: numberOf(s.slice(0, end)) });
  i = end;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '.') {
      i++;
      if (s[i] === '0') {
        let z = i;
        while (s[z] === '0') z++;
        if (!push(DOT_NUMBER, -(z - i))) return undefined;
        i = z;
        // Digits after the zeros form a number of their own; `1.02` is (1, two-less-zeros, 2).
        end = digitsAt(s, i);
        if (end > i) {
          tokens.push({ kind: NUMBER, value: numberOf(s.slice(i, end)) });
          i = end;
        }
        last = NUMBER;
        continue;
      }
      end = digitsAt(s, i);
      if (end === i) return undefined;
      if (!push(DOT_NUMBER, numberOf(s.slice(i, end)))) return undefined;
      i = end;
    } else if (c >= 'a' && c <= 'z' && (last === NUMBER || last === DOT_NUMBER)) {
      if (!push(LETTER, c.charCodeAt(0))) return undefined;
      i++;
      end = digitsAt(s, i);
      if (end > i) {
        if (!push(NUMBER, numberOf(s.slice(i, end)))) return undefined;
        i = end;
      }
    } else if (c === '_') {
      i++;
      const pre = preSuffixes.findIndex((x) => s.startsWith(x, i));
      let value: number;
      let name: string;
      if (pre >= 0) {
        value = pre - preSuffixes.length;
        name = preSuffixes[pre]!;
      } else {
        const post = postSuffixes.findIndex((x) => s.startsWith(x, i));
        if (post < 0) return undefined;
        value = post;
        name = postSuffixes[post]!;
      }
      if (!push(SUFFIX, value)) return undefined;
      i += name.length;
      end = digitsAt(s, i);
      if (end > i) {
        if (!push(SUFFIX_NUMBER, numberOf(s.slice(i, end)))) return undefined;
        i = end;
      }
    } else if (c === '~') {
      i++;
      let k = i;
      while (k < s.length && /[0-9a-f]/.test(s[k]!)) k++;
      if (k === i) return undefined;
      // A commit hash says where the build came from, not whether it is newer.
      if (!push(HASH, 0)) return undefined;
      i = k;
    } else if (c === '-' && s[i + 1] === 'r') {
      i += 2;
      end = digitsAt(s, i);
      if (end === i) return undefined;
      if (!push(REVISION, numberOf(s.slice(i, end)))) return undefined;
      i = end;
    } else {
      return undefined;
    }
  }
  tokens.push({ kind: END, value: 0 });
  return tokens;
}

const cache = new ParseCache<Token[] | undefined>();

export function isValidApkVersion(version: string): boolean {
  return cache.get(version, tokenizeApk) !== undefined;
}

function compareTokens(a: Token[], b: Token[]): number {
  for (let k = 0; ; k++) {
    const x = a[k] ?? { kind: END, value: 0 };
    const y = b[k] ?? { kind: END, value: 0 };
    if (x.kind === y.kind) {
      if (x.value !== y.value) return x.value < y.value ? -1 : 1;
      if (x.kind === END) return 0;
      continue;
    }
    if (x.kind === SUFFIX && x.value < 0) return -1;
    if (y.kind === SUFFIX && y.value < 0) return 1;
    return x.kind > y.kind ? -1 : 1;
  }
}

/**
 * Negative, zero or positive as `a` sorts before, equal to or after `b`. Versions outside
 * apk's grammar sort before valid ones and among themselves by plain string order, so that the
 * order stays total.
 */
export function compareApk(a: string, b: string): number {
  const x = cache.get(a, tokenizeApk);
  const y = cache.get(b, tokenizeApk);
  if (x !== undefined && y !== undefined) return compareTokens(x, y);
  if (x === undefined && y === undefined) return a < b ? -1 : a > b ? 1 : 0;
  return x === undefined ? -1 : 1;
}
