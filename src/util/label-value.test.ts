import { describe, expect, it } from 'vitest';
import { labelValueErrors, labelValueFor, qualifiedNameErrors } from './label-value.ts';

describe('label values and keys', () => {
  it('accepts what kube-apiserver accepts and refuses the rest', () => {
    for (const ok of ['', 'a', 'node-1', 'My_Value.2', 'x'.repeat(63)])
      expect(labelValueErrors(ok), ok).toEqual([]);
    for (const bad of ['-a', 'a-', 'a b', 'a/b', 'é', 'x'.repeat(64)])
      expect(labelValueErrors(bad).length, bad).toBeGreaterThan(0);
    expect(labelValueErrors('x'.repeat(64))).toEqual(['must be no more than 63 bytes']);
    for (const ok of [
      'app',
      'kubeinspector.io/severity',
      'a.b-c_d',
      `example.com/${'n'.repeat(63)}`,
    ])
      expect(qualifiedNameErrors(ok), ok).toEqual([]);
    for (const bad of [
      '',
      '/a',
      'a/',
      'Example.com/a',
      'a/b/c',
      'a b',
      'n'.repeat(64),
      `${'p'.repeat(254)}/a`,
    ])
      expect(qualifiedNameErrors(bad).length, bad).toBeGreaterThan(0);
  });

  it('stands for a long name with a valid, unique, stable value that maps to itself', () => {
    const short = 'workload-shop.deployment.api';
    expect(labelValueFor(short)).toBe(short);
    const long = `workload-${'payments'.repeat(4)}.deployment.${'checkout-service'.repeat(3)}`;
    const value = labelValueFor(long);
    expect(value.length).toBeLessThanOrEqual(63);
    expect(labelValueErrors(value)).toEqual([]);
    expect(value.startsWith('workload-payments')).toBe(true);
    expect(labelValueFor(long)).toBe(value);
    expect(labelValueFor(value)).toBe(value);
    expect(labelValueFor(`${long}x`)).not.toBe(value);
    // A cut that ends on a separator drops it, so the value still ends alphanumeric.
    const dotted = `${'a'.repeat(50)}.${'b'.repeat(30)}`;
    expect(labelValueErrors(labelValueFor(dotted))).toEqual([]);
    expect(labelValueErrors(labelValueFor('.'.repeat(80)))).toEqual([]);
  });
});
