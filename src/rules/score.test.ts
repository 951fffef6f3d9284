import { describe, expect, it } from 'vitest';
import { FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import { adjustScore, type Cvss, type ExposureFacts } from './score.ts';

const critical: Cvss = {
  version: '3.1',
  scoringVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  baseScore: 9.8,
  source: 'NVD',
};
const local: Cvss = {
  version: '3.1',
  scoringVector: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H',
  baseScore: 7.8,
  source: 'NVD',
};
const v2: Cvss = {
  version: '2.0',
  scoringVector: 'AV:N/AC:L/Au:N/C:P/I:P/A:P',
  baseScore: 7.5,
  source: 'NVD',
};
const v4: Cvss = {
  version: '4.0',
  scoringVector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
  baseScore: 9.3,
  source: 'GITHUB',
};

const hidden: ExposureFacts = {
  workloads: [
    { id: 'shop/Deployment/worker', exposures: [] },
    { id: 'shop/CronJob/report', exposures: [] },
  ],
};
const exposed: ExposureFacts = {
  workloads: [
    { id: 'shop/Deployment/worker', exposures: [] },
    { id: 'shop/Deployment/web', exposures: ['Ingress shop/web 8080/TCP'] },
  ],
};

describe('the exposure-adjusted score', () => {
  it('lowers a network attack vector on an image no workload exposes: AV:N becomes AV:A', () => {
    const a = adjustScore([critical], hidden)!;
    expect(a.inspectorScore).toBe(8.8);
    expect(a.inspectorScoreDetails.adjustedCvss).toMatchObject({
      scoreSource: 'NVD',
      version: '3.1',
      score: 8.8,
      scoringVector: 'CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    });
    const [adj] = a.inspectorScoreDetails.adjustedCvss.adjustments!;
    expect(adj!.metric).toBe('AV');
    expect(adj!.reason).toContain('shop/Deployment/worker, shop/CronJob/report');
    expect(FindingStatusSchema.safeParse({ cvss: [critical], ...a }).success).toBe(true);
  });

  it('keeps the base score of an image one of whose workloads is exposed', () => {
    const a = adjustScore([critical], exposed)!;
    expect(a.inspectorScore).toBe(9.8);
    expect(a.inspectorScoreDetails.adjustedCvss.adjustments).toEqual([]);
    expect(a.inspectorScoreDetails.adjustedCvss.scoringVector).toBe(critical.scoringVector);
  });

  it('keeps the base score when nothing is known (no workload runs it)', () => {
    expect(adjustScore([critical], undefined)!.inspectorScore).toBe(9.8);
    expect(adjustScore([critical], { workloads: [] })!.inspectorScore).toBe(9.8);
  });

  it('leaves vectors that are not network ones alone', () => {
    const a = adjustScore([local], hidden)!;
    expect(a.inspectorScore).toBe(7.8);
    expect(a.inspectorScoreDetails.adjustedCvss.adjustments).toEqual([]);
  });

  it('adjusts CVSS 2.0 and 4.0 vectors the same way', () => {
    expect(adjustScore([v2], hidden)!.inspectorScore).toBe(5.8);
    const four = adjustScore([v4], hidden)!;
    expect(four.inspectorScoreDetails.adjustedCvss.scoringVector).toContain('/AV:A/');
    expect(four.inspectorScore).toBeLessThan(9.3);
  });

  it('ranks by CVSS 3.x when the finding has it, and has no score without CVSS', () => {
    expect(adjustScore([v4, local], exposed)!.inspectorScoreDetails.adjustedCvss.version).toBe(
      '3.1',
    );
    expect(adjustScore([v4, local], exposed, 9.3)!.inspectorScoreDetails.adjustedCvss.version).toBe(
      '4.0',
    );
    expect(adjustScore([], hidden)).toBeUndefined();
    expect(adjustScore(undefined, hidden)).toBeUndefined();
  });
});
