/**
 * PEP 440 order (Python packages) through @renovatebot/pep440, a port of Python's `packaging`.
 * Versions that are not PEP 440 sort before every valid one, and among themselves by string.
 */
import { compare, valid } from '@renovatebot/pep440';
import { ParseCache } from './cache.ts';

const validity = new ParseCache<boolean>();

export function isValidPep440Version(version: string): boolean {
  return validity.get(version.trim(), (v) => valid(v) !== null);
}

export function comparePep440(a: string, b: string): number {
  const x = a.trim();
  const y = b.trim();
  const vx = isValidPep440Version(x);
  const vy = isValidPep440Version(y);
  if (vx && vy) return Math.sign(compare(x, y));
  if (!vx && !vy) return x < y ? -1 : x > y ? 1 : 0;
  return vx ? 1 : -1;
}
