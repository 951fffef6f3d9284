import { describe, expect, it } from 'vitest';
import { runFindingName, templateAttributes } from './run-controller.ts';

describe('template attributes on a run finding', () => {
  it('adds every template key to a finding nobody has touched', () => {
    expect(templateAttributes({ owner: 'a', ticket: 'b' }, undefined)).toEqual({
      apply: { owner: 'a', ticket: 'b' },
      skipped: [],
    });
  });

  it('never overwrites a key a person set to another value, and keeps applying an equal one', () => {
    expect(templateAttributes({ owner: 'a', ticket: 'b' }, { owner: 'me', ticket: 'b' })).toEqual({
      apply: { ticket: 'b' },
      skipped: ['owner'],
    });
  });

  it('stays within 10 attributes per finding, counting the ones people added', () => {
    const people = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`p${i}`, 'x']));
    expect(templateAttributes({ owner: 'a', ticket: 'b' }, people)).toEqual({
      apply: { owner: 'a' },
      skipped: ['ticket'],
    });
  });
});

describe('run finding names', () => {
  it('prefix the finding name with the run, within 253 characters', () => {
    expect(runFindingName('adhoc-1', 'cve-2023-5363-openssl-0123456789abcdef')).toBe(
      'adhoc-1-cve-2023-5363-openssl-0123456789abcdef',
    );
    const long = runFindingName('r'.repeat(250), 'cve-1-x-0123456789abcdef');
    expect(long).toHaveLength(253);
    expect(long.endsWith('-cve-1-x-0123456789abcdef')).toBe(true);
  });
});
