import { describe, expect, it } from 'vitest';
import { parseOsvRecord, type Advisory } from './osv.ts';
import {
  assess,
  scoreCvss,
  severityForScore,
  severityFromWord,
  validateCvssVector,
} from './scoring.ts';

describe('CVSS vectors', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', '3.1', 9.8, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', '3.1', 10, 'CRITICAL'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H', '3.1', 8.1, 'HIGH'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', '3.1', 5.3, 'MEDIUM'],
    ['CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:L', '3.1', 2.5, 'LOW'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', '3.1', 0, 'INFORMATIONAL'],
    ['CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', '3.0', 6.1, 'MEDIUM'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:F/RL:O/RC:C', '3.1', 9.8, 'CRITICAL'],
    ['AV:N/AC:L/Au:N/C:P/I:P/A:P', '2.0', 7.5, 'HIGH'],
    ['(AV:N/AC:M/Au:N/C:N/I:P/A:N)', '2.0', 4.3, 'MEDIUM'],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', '4.0', 9.3, 'CRITICAL'],
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', '4.0', 8.5, 'HIGH'],
  ])('scores %s as %s %d (%s)', (vector, version, score, severity) => {
    const r = scoreCvss(vector);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.score).toMatchObject({ version, baseScore: score, severity });
  });

  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', /missing base metrics A/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L', /A appears twice/],
    ['CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /AV:X is not an allowed value/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1', /unknown metric ZZ/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/', /is not METRIC:VALUE/],
    ['CVSS:3.2/AV:N', /unsupported CVSS version 3.2/],
    ['AV:N/AC:L/Au:N/C:P/I:P', /missing base metrics A/],
    ['CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', /missing base metrics AT/],
    ['', /empty vector/],
  ])('rejects %j instead of scoring it as 0', (vector, error) => {
    const check = validateCvssVector(vector);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error).toMatch(error);
    const r = scoreCvss(vector);
    expect(r.ok).toBe(false);
  });
});

describe('severity', () => {
  it.each([
    [10, 'CRITICAL'],
    [9.0, 'CRITICAL'],
    [8.9, 'HIGH'],
    [7.0, 'HIGH'],
    [6.9, 'MEDIUM'],
    [4.0, 'MEDIUM'],
    [3.9, 'LOW'],
    [0.1, 'LOW'],
    [0, 'INFORMATIONAL'],
  ])('of the score %d is %s', (score, severity) => {
    expect(severityForScore(score)).toBe(severity);
  });

  it.each([
    ['MODERATE', 'MEDIUM'],
    ['Important', 'HIGH'],
    ['critical', 'CRITICAL'],
    ['negligible', 'INFORMATIONAL'],
    ['unimportant', 'INFORMATIONAL'],
    ['low**', 'LOW'],
  ])('of the database word %s is %s', (word, severity) => {
    expect(severityFromWord(word)).toBe(severity);
  });

  it('is unknown for words that rate nothing', () => {
    expect(severityFromWord('not yet assigned')).toBeUndefined();
    expect(severityFromWord('unknown')).toBeUndefined();
  });
});

function advisory(record: Record<string, unknown>): Advisory {
  const r = parseOsvRecord({ id: 'X-1', modified: '2024-01-01T00:00:00Z', ...record });
  if (!r.ok) throw new Error(r.error);
  return r.advisory;
}

describe('assessing an advisory', () => {
  it('prefers a 3.1 vector to a 4.0 and a 2.0 one', () => {
    const a = advisory({
      severity: [
        { type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' },
        {
          type: 'CVSS_V4',
          score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
        },
        { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      ],
    });
    const r = assess(a, undefined);
    expect(r.cvss?.version).toBe('3.1');
    expect(r.severity).toBe('HIGH');
    expect(r.scores).toHaveLength(3);
  });

  it('reports a malformed vector and falls back to the next source of severity', () => {
    const a = advisory({
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L' }],
      database_specific: { severity: 'HIGH' },
    });
    const r = assess(a, undefined);
    expect(r.invalidVectors).toHaveLength(1);
    expect(r.invalidVectors[0]!.vector).toBe('CVSS:3.1/AV:N/AC:L');
    expect(r.invalidVectors[0]!.error).toMatch(/missing base metrics/);
    expect(r.severity).toBe('HIGH');
    expect(r.source).toBe('database');
  });

  it('uses a package-level vector before the record-level one', () => {
    const a = advisory({
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [
        {
          package: { ecosystem: 'npm', name: 'x' },
          severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L' }],
        },
      ],
    });
    expect(assess(a, a.affected[0]).severity).toBe('MEDIUM');
  });

  it('is UNTRIAGED when nothing rates it', () => {
    expect(assess(advisory({}), undefined)).toMatchObject({
      severity: 'UNTRIAGED',
      source: 'none',
    });
  });
});
