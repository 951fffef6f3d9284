/* eslint-disable @typescript-eslint/no-unsafe-member-access -- the table mutates plain pod specs */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FindingStatusSchema } from '../../api/v1alpha1/finding.ts';
import { workloadFacts } from '../workload.ts';
import { CONTROLS } from './controls.ts';
import { controlViolations, securityBestPractices } from './evaluate.ts';
import { CASES, compliantSpec, ctr, deployment } from './testing.ts';

describe('security-best-practices controls', () => {
  it('the compliant template passes every control', () => {
    const w = deployment();
    for (const c of CONTROLS) expect(controlViolations(c, w), c.id).toEqual([]);
  });

  it('every control has a failing and a passing variant in the table', () => {
    for (const c of CONTROLS) {
      const cases = CASES.filter((k) => k.control === c.id);
      expect(
        cases.some((k) => k.fields.length > 0),
        `${c.id} failing`,
      ).toBe(true);
    }
    expect(new Set(CASES.map((c) => c.control)).size).toBe(CONTROLS.length);
  });

  it.each(CASES)('$control: $name', ({ control, mutate, fields }) => {
    const c = CONTROLS.find((k) => k.id === control)!;
    expect(c).toBeDefined();
    expect(controlViolations(c, deployment(mutate)).map((v) => v.path)).toEqual(fields);
  });

  it('the service account opting out satisfies the token rule; the pod overrides it', () => {
    const c = CONTROLS.find((k) => k.id === 'HARDENING-SERVICE-ACCOUNT-TOKEN')!;
    const w = deployment((s) => delete s.automountServiceAccountToken);
    expect(
      controlViolations(c, { ...w, serviceAccount: { automountServiceAccountToken: false } }),
    ).toEqual([]);
    const on = deployment((s) => (s.automountServiceAccountToken = true));
    expect(
      controlViolations(c, { ...on, serviceAccount: { automountServiceAccountToken: false } }),
    ).toHaveLength(1);
  });

  it('a CronJob names fields under its job template', () => {
    const facts = workloadFacts({
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'ops' },
      spec: {
        jobTemplate: { spec: { template: { spec: { ...compliantSpec(), hostPID: true } } } },
      },
    });
    if (typeof facts === 'string') throw new Error(facts);
    const c = CONTROLS.find((k) => k.id === 'PSS-BASELINE-HOST-NAMESPACES')!;
    expect(controlViolations(c, facts).map((v) => v.path)).toEqual([
      'spec.jobTemplate.spec.template.spec.hostPID',
    ]);
  });

  it('an object without a pod template is refused with the missing path', () => {
    expect(workloadFacts({ kind: 'Deployment', metadata: { name: 'x' }, spec: {} })).toBe(
      'Deployment x has no spec.template.spec',
    );
    expect(workloadFacts({ kind: 'Service', metadata: { name: 'x' } })).toMatch(/no pod template/);
  });
});

describe('security-best-practices producer', () => {
  it('writes one valid CONFIGURATION finding per broken control, highest severity first', () => {
    const w = deployment((s) => {
      ctr(s).securityContext.privileged = true;
      ctr(s).image = 'nginx:1.27';
      s.hostNetwork = true;
    });
    const { findings, notEvaluated } = securityBestPractices.produce([w]);
    expect(notEvaluated).toEqual([]);
    expect(findings.map((f) => f.status.ruleId)).toEqual([
      'PSS-BASELINE-PRIVILEGED',
      'PSS-BASELINE-HOST-NAMESPACES',
      'HARDENING-IMAGE-DIGEST',
    ]);
    const privileged = findings[0]!;
    expect(privileged.status).toMatchObject({
      type: 'CONFIGURATION',
      rulesPackage: 'security-best-practices',
      severity: 'CRITICAL',
      title: 'Privileged containers - Deployment shop/web (container app)',
      resource: { type: 'WORKLOAD', id: 'shop/Deployment/web', kind: 'Deployment' },
      ruleDetails: {
        benchmark: 'Pod Security Standards',
        level: 'baseline',
        fieldPaths: ['spec.template.spec.containers[0].securityContext.privileged'],
        found: 'spec.template.spec.containers[0].securityContext.privileged: true',
      },
    });
    expect(privileged.labels['kubeinspector.io/type']).toBe('CONFIGURATION');
    expect(privileged.labels['kubeinspector.io/vulnerability-id']).toBe('PSS-BASELINE-PRIVILEGED');
    for (const f of findings) expect(FindingStatusSchema.safeParse(f.status).success).toBe(true);
  });

  it('names are stable across evaluations and differ between workloads', () => {
    const a = securityBestPractices.produce([deployment((s) => (s.hostPID = true))]).findings;
    const b = securityBestPractices.produce([deployment((s) => (s.hostPID = true))]).findings;
    expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
    const other = { ...deployment((s) => (s.hostPID = true)), name: 'api' };
    const c = securityBestPractices.produce([other]).findings;
    expect(c[0]!.name).not.toBe(a[0]!.name);
  });
});

describe('the security-best-practices documentation', () => {
  it('lists every control, in order, with its level and severity', () => {
    const doc = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'docs', 'rules-security-best-practices.md'),
      'utf8',
    );
    const block = /<!-- controls -->\n([\s\S]*?)<!-- \/controls -->/.exec(doc)?.[1] ?? '';
    const rows = [...block.matchAll(/^\| `([A-Z0-9-]+)` +\| (\w+) +\| (\w+) /gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    expect(rows).toEqual(CONTROLS.map((c) => `${c.id} ${c.level} ${c.severity}`));
  });
});
