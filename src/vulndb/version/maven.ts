/**
 * Maven version order, following the rules of Maven's `ComparableVersion`:
 *
 * - The version is lower-cased and split at `.` and `-` and at every change between digits and
 *   letters; a `-` (or a letter/digit change) opens a nested list, a `.` stays in the same list.
 * - Numbers compare numerically (any length). Known qualifiers order as
 *   `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`; unknown
 *   qualifiers sort after all of them and among themselves alphabetically.
 * - A qualifier after a `.` is read as if after a `-` (`1.0.jre` = `1.0-jre`).
 * - A single letter `a`, `b` or `m` directly followed by a digit means alpha, beta, milestone,
 *   after any separator (`1.0.a1` = `1.0-alpha-1`).
 * - Trailing "null" items (0, empty qualifiers, empty lists) are dropped at the end of each list,
 *   so `1.0.0` = `1` and `1-ga` = `1`.
 * - A number beats a qualifier; a nested list sorts after a qualifier but before a number.
 */

import { ParseCache } from './cache.ts';

const qualifiers = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const aliases: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const releaseIndex = String(qualifiers.indexOf(''));

type Item =
  | { kind: 'int'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'list'; items: Item[] };

function comparableQualifier(q: string): string {
  const i = qualifiers.indexOf(q);
  return i >= 0 ? String(i) : `${qualifiers.length}-${q}`;
}

function stringItem(value: string, followedByDigit: boolean): Item {
  let v = value;
  if (followedByDigit && v.length === 1) {
    if (v === 'a') v = 'alpha';
    else if (v === 'b') v = 'beta';
    else if (v === 'm') v = 'milestone';
  }
  return { kind: 'string', value: aliases[v] ?? v };
}

function parseItem(isDigit: boolean, buf: string): Item {
  return isDigit ? { kind: 'int', value: BigInt(buf) } : stringItem(buf, false);
}

function isNull(item: Item): boolean {
  switch (item.kind) {
    case 'int':
      return item.value === 0n;
    case 'string':
      return comparableQualifier(item.value) === releaseIndex;
    case 'list':
      return item.items.length === 0;
  }
}

function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i]!;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

export function parseMavenVersion(version: string): Item {
  const v = version.trim().toLowerCase();
  const root: Item & { kind: 'list' } = { kind: 'list', items: [] };
  let list = root;
  const stack: (Item & { kind: 'list' })[] = [root];
  const open = (): void => {
    const next: Item & { kind: 'list' } = { kind: 'list', items: [] };
    list.items.push(next);
    list = next;
    stack.push(next);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '.') {
      list.items.push(
        i === start ? { kind: 'int', value: 0n } : parseItem(isDigit, v.slice(start, i)),
      );
      start = i + 1;
    } else if (c === '-') {
      list.items.push(
        i === start ? { kind: 'int', value: 0n } : parseItem(isDigit, v.slice(start, i)),
      );
      start = i + 1;
      open();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        // `.X1` is read like `-X1`: a qualifier opens a list unless it starts one.
        if (list.items.length > 0) open();
        list.items.push(stringItem(v.slice(start, i), true));
        start = i;
        open();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.items.push(parseItem(true, v.slice(start, i)));
        start = i;
        open();
      }
      isDigit = false;
    }
  }
  if (v.length > start) {
    if (!isDigit && list.items.length > 0) open();
    list.items.push(parseItem(isDigit, v.slice(start)));
  }
  while (stack.length > 0) normalize(stack.pop()!.items);
  return root;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareItem(a: Item, b: Item | undefined): number {
  switch (a.kind) {
    case 'int':
      if (b === undefined) return a.value === 0n ? 0 : 1;
      if (b.kind === 'int') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
      return 1;
    case 'string':
      if (b === undefined) return cmp(comparableQualifier(a.value), releaseIndex);
      if (b.kind === 'string')
        return cmp(comparableQualifier(a.value), comparableQualifier(b.value));
      return -1;
    case 'list': {
      if (b === undefined) {
        const first = a.items[0];
        return first === undefined ? 0 : compareItem(first, undefined);
      }
      if (b.kind === 'int') return -1;
      if (b.kind === 'string') return 1;
      const n = Math.max(a.items.length, b.items.length);
      for (let i = 0; i < n; i++) {
        const l = a.items[i];
        const r = b.items[i];
        const result =
          l === undefined ? (r === undefined ? 0 : -compareItem(r, undefined)) : compareItem(l, r);
        if (result !== 0) return result;
      }
      return 0;
    }
  }
}

const cache = new ParseCache<Item>();

/** Negative, zero or positive as `a` sorts before, equal to or after `b` in Maven's order. */
export function compareMaven(a: string, b: string): number {
  return compareItem(cache.get(a, parseMavenVersion), cache.get(b, parseMavenVersion));
}
