import { describe, expect, it } from 'vitest';
import { parseOsvRecord } from './osv.ts';

const minimal = {
  id: 'GHSA-35jh-r3h4-6jhm',
  modified: '2024-01-01T00:00:00Z',
  affected: [
    {
      package: { ecosystem: 'npm', name: 'lodash' },
      ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
    },
  ],
};

describe('OSV records', () => {
  it('are read into the compact form with their events in order', () => {
    const r = parseOsvRecord(minimal);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.advisory.affected[0]!.ranges[0]!.events).toEqual([
      { kind: 'introduced', version: '0' },
      { kind: 'fixed', version: '4.17.21' },
    ]);
  });

  it('keep unknown fields and unknown enum values without failing', () => {
    const r = parseOsvRecord({
      ...minimal,
      some_future_field: { x: 1 },
      severity: [{ type: 'CVSS_V5', score: 'CVSS:5.0/XX:Y' }],
      affected: [
        { ...minimal.affected[0], ranges: [{ type: 'NEW_KIND', events: [{ introduced: '0' }] }] },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.advisory.severity[0]!.type).toBe('CVSS_V5');
    expect(r.advisory.affected[0]!.ranges[0]!.type).toBe('NEW_KIND');
  });

  it('accept null for optional lists as some databases write them', () => {
    const r = parseOsvRecord({ ...minimal, aliases: null, references: null });
    expect(r.ok).toBe(true);
  });

  it.each([
    [{ ...minimal, id: '' }, /id/],
    [{ ...minimal, id: undefined }, /id/],
    [{ ...minimal, modified: undefined }, /modified/],
    [{ ...minimal, affected: [{ package: { ecosystem: 'npm' } }] }, /affected\.0\.package\.name/],
    [
      {
        ...minimal,
        affected: [
          {
            package: { ecosystem: 'npm', name: 'x' },
            ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1' }] }],
          },
        ],
      },
      /exactly one of/,
    ],
    [
      {
        ...minimal,
        affected: [
          { package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [] }] },
        ],
      },
      /events/,
    ],
    ['a string', /object/],
  ])('reject a malformed record with an error naming the field (%#)', (input, message) => {
    const r = parseOsvRecord(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(message);
  });

  it('prefix the error with the record id when there is one', () => {
    const r = parseOsvRecord({ ...minimal, modified: 5 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.startsWith('GHSA-35jh-r3h4-6jhm: modified')).toBe(true);
  });

  it('drop the record id from its own aliases and cut long details', () => {
    const r = parseOsvRecord({
      ...minimal,
      aliases: ['GHSA-35jh-r3h4-6jhm', 'CVE-2021-23337'],
      details: 'x'.repeat(10_000),
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.advisory.aliases).toEqual(['CVE-2021-23337']);
    expect(r.advisory.details.length).toBe(2000);
  });
});
