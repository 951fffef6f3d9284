import { describe, expect, it } from 'vitest';
import { FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import { CIS_CHECKS } from '../agent/cis/checks.ts';
import { cisBenchmark } from './cis.ts';

describe('cis findings from node check results', () => {
  it('one CIS_BENCHMARK finding per failed check, with benchmark, level, weight and what was found', () => {
    const out = cisBenchmark.produce({
      checks: CIS_CHECKS,
      nodes: [
        {
          node: 'worker-1',
          results: [
            { id: '4.2.1', status: 'FAILED', found: 'true' },
            { id: '4.2.4', status: 'FAILED', found: '10255' },
            { id: '4.1.1', status: 'PASSED', found: 'mode 600' },
            { id: '1.1.3', status: 'NOT_APPLICABLE', found: '/tmp is not a separate mount' },
            { id: '4.1.9', status: 'ERROR', found: 'EACCES' },
          ],
        },
      ],
    });
    expect(out.findings.map((f) => [f.status.ruleId, f.status.severity])).toEqual([
      ['CIS-K8S-4.2.1', 'MEDIUM'],
      ['CIS-K8S-4.2.4', 'LOW'],
    ]);
    expect(out.findings[0]!.status).toMatchObject({
      type: 'CIS_BENCHMARK',
      rulesPackage: 'cis',
      resource: { type: 'NODE', id: 'worker-1' },
      ruleDetails: {
        benchmark: 'CIS Kubernetes Benchmark',
        benchmarkVersion: '1.9.0',
        level: 'LEVEL_1',
        scored: true,
        found: 'true',
      },
    });
    expect(out.findings[1]!.status.ruleDetails?.scored).toBe(false);
    expect(out.notEvaluated).toEqual([
      { id: 'worker-1', reason: 'CIS 4.1.9 could not be evaluated: EACCES' },
    ]);
    for (const f of out.findings)
      expect(FindingStatusSchema.safeParse(f.status).success).toBe(true);
  });

  it('refuses a result for a check it does not know instead of dropping it', () => {
    const out = cisBenchmark.produce({
      checks: CIS_CHECKS,
      nodes: [{ node: 'n', results: [{ id: '9.9.9', status: 'FAILED', found: 'x' }] }],
    });
    expect(out.findings).toEqual([]);
    expect(out.notEvaluated).toEqual([{ id: 'n', reason: 'unknown CIS check 9.9.9' }]);
  });
});
