import { describe, expect, it } from 'vitest';
import type { FindingStatus } from '../../api/v1alpha1/finding.ts';
import type { BuiltFinding } from '../../findings/build.ts';
import type { BatchWrite, StoredFinding } from '../../findings-store/store.ts';
import {
  capFindings,
  decideEvaluation,
  desiredObject,
  type EvaluationFacts,
  type Plan,
  type StoredFindingOf,
} from './decide.ts';

const NS = 'kube-inspector-system';
const CR = 'node-a';
const T0 = new Date('2026-03-01T00:00:00Z');
const at = (days: number): Date => new Date(T0.getTime() + days * 86_400_000);
const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z');
const RETENTION = { closedDays: 30, resourceGoneDays: 3, reopenWindowDays: 7 };

function built(
  name: string,
  severity: FindingStatus['severity'] = 'HIGH',
  title = name,
): BuiltFinding {
  return {
    name,
    labels: { 'kubeinspector.io/severity': severity ?? 'HIGH' },
    status: { severity, title, type: 'PACKAGE_VULNERABILITY' },
  };
}

function stored(
  name: string,
  status: Partial<FindingStatus> & { status: FindingStatus['status'] },
  extra: { labels?: Record<string, string>; attributes?: Record<string, string> } = {},
): StoredFindingOf {
  return {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace: NS,
      resourceVersion: '7',
      labels: {
        'kubeinspector.io/severity': status.severity ?? 'HIGH',
        'kubeinspector.io/covered-resource': CR,
        'kubeinspector.io/status': status.status ?? 'ACTIVE',
        ...extra.labels,
      },
    },
    ...(extra.attributes ? { spec: { attributes: extra.attributes } } : {}),
    status: {
      severity: 'HIGH',
      title: name,
      type: 'PACKAGE_VULNERABILITY',
      firstObservedAt: iso(at(0)),
      lastObservedAt: iso(at(0)),
      updatedAt: iso(at(0)),
      ...status,
    },
  };
}

function facts(
  plan: Plan,
  existing: StoredFindingOf[],
  desired: BuiltFinding[] | undefined,
  now: Date,
  extra: Partial<EvaluationFacts> = {},
): EvaluationFacts {
  return {
    namespace: NS,
    coveredResource: CR,
    plan,
    existing: new Map(existing.map((f) => [f.metadata.name, f])),
    ...(desired !== undefined ? { desired: { built: desired, observe: true } } : {}),
    suppressedBy: () => undefined,
    retention: RETENTION,
    now,
    ...extra,
  };
}

const MATCH: Plan = { kind: 'match' };
const CLOSE: Plan = { kind: 'close', result: 'closed' };
const KEEP: Plan = { kind: 'keep', result: 'kept' };

function ops(writes: BatchWrite[]): string[] {
  return writes.map((w) =>
    w.op === 'delete'
      ? `delete ${w.name}`
      : `${w.op} ${w.finding.metadata.name} ${(w.finding.status as FindingStatus).status}`,
  );
}

describe('one evaluation of a resource, decided without an API server', () => {
  it.each<[string, EvaluationFacts, string[], boolean]>([
    [
      'a new finding is created ACTIVE',
      facts(MATCH, [], [built('a')], at(1)),
      ['create a ACTIVE'],
      true,
    ],
    [
      'an unchanged open finding costs no write (the evaluation record moves lastObservedAt)',
      facts(MATCH, [stored('a', { status: 'ACTIVE' })], [built('a')], at(1)),
      [],
      true,
    ],
    [
      'a finding whose computed fields changed is updated',
      facts(MATCH, [stored('a', { status: 'ACTIVE' })], [built('a', 'HIGH', 'new title')], at(1)),
      ['update a ACTIVE'],
      true,
    ],
    [
      'a finding no longer seen is CLOSED',
      facts(MATCH, [stored('a', { status: 'ACTIVE' })], [], at(1)),
      ['update a CLOSED'],
      true,
    ],
    [
      'a CLOSED finding seen again within the reopen window is reopened',
      facts(MATCH, [stored('a', { status: 'CLOSED', updatedAt: iso(at(2)) })], [built('a')], at(5)),
      ['update a ACTIVE'],
      true,
    ],
    [
      'a CLOSED finding past its retention is deleted',
      facts(MATCH, [stored('a', { status: 'CLOSED', updatedAt: iso(at(0)) })], [], at(31)),
      ['delete a'],
      true,
    ],
    [
      'a gone resource closes its findings and deletes closed ones after the shorter retention',
      facts(CLOSE, [stored('a', { status: 'CLOSED', updatedAt: iso(at(0)) })], undefined, at(4)),
      ['delete a'],
      false,
    ],
    [
      'a waiting resource keeps its findings as they are',
      facts(KEEP, [stored('a', { status: 'ACTIVE' })], undefined, at(1)),
      [],
      false,
    ],
    [
      'disabled coverage deletes every finding',
      facts(
        { kind: 'delete' },
        [stored('a', { status: 'ACTIVE' }), stored('b', { status: 'CLOSED' })],
        undefined,
        at(1),
      ),
      ['delete a', 'delete b'],
      false,
    ],
    [
      'a matching rule suppresses a finding',
      facts(MATCH, [stored('a', { status: 'ACTIVE' })], [built('a')], at(1), {
        suppressedBy: () => 'kube-inspector-system/accepted',
      }),
      ['update a SUPPRESSED'],
      true,
    ],
  ])('%s', (_name, f, expected, observed) => {
    const d = decideEvaluation(f);
    expect(ops(d.writes)).toEqual(expected);
    expect(d.observed).toBe(observed);
  });

  it('keeps lastObservedAt of an unchanged finding and sets it on a changed one', () => {
    const d = decideEvaluation(
      facts(MATCH, [stored('a', { status: 'ACTIVE' })], [built('a', 'HIGH', 'changed')], at(1)),
    );
    const status = (d.writes[0] as { finding: StoredFinding }).finding.status as FindingStatus;
    expect(status.lastObservedAt).toBe(iso(at(1)));
    expect(status.firstObservedAt).toBe(iso(at(0)));
  });

  it("carries a person's attributes, labels and the resourceVersion precondition", () => {
    const person = stored(
      'a',
      { status: 'ACTIVE' },
      { labels: { team: 'x' }, attributes: { ticket: 'SEC-1' } },
    );
    const d = decideEvaluation(facts(MATCH, [person], [], at(1)));
    const w = d.writes[0] as { op: string; finding: StoredFinding };
    expect(w.op).toBe('update');
    expect(w.finding.spec).toEqual({ attributes: { ticket: 'SEC-1' } });
    expect(w.finding.metadata.labels).toMatchObject({
      team: 'x',
      'kubeinspector.io/status': 'CLOSED',
    });
    expect(w.finding.metadata.resourceVersion).toBe('7');
  });

  it('counts the ACTIVE findings left by severity and asks to come back at the next deletion', () => {
    const d = decideEvaluation(
      facts(
        MATCH,
        [stored('old', { status: 'ACTIVE', severity: 'LOW' })],
        [built('a', 'CRITICAL'), built('b', 'HIGH')],
        at(1),
      ),
    );
    expect(d.counts).toMatchObject({ critical: 1, high: 1, low: 0, total: 2 });
    expect(d.deleteDeadline).toBe(at(31).getTime());
    expect(d.verbs).toEqual({ create: 2, update: 1, delete: 0 });
  });

  it('a new finding has the controller labels and the covered resource', () => {
    const o = desiredObject(
      NS,
      'a',
      undefined,
      { 'kubeinspector.io/status': 'ACTIVE' },
      { status: 'ACTIVE' },
    );
    expect(o).toMatchObject({ apiVersion: 'findings.kubeinspector.io/v1alpha1', kind: 'Finding' });
    expect(o.metadata).toEqual({
      name: 'a',
      namespace: NS,
      labels: { 'kubeinspector.io/status': 'ACTIVE' },
    });
  });
});

describe('the per-resource cap', () => {
  it('keeps open findings first, then new ones in the order given, up to the cap', () => {
    const existing = new Map([['b', stored('b', { status: 'ACTIVE' })]]);
    const { kept, left } = capFindings([built('a'), built('b'), built('c')], existing, 2);
    expect(kept.map((b) => b.name)).toEqual(['b', 'a']);
    expect(left).toBe(1);
  });

  it('leaves everything when under the cap', () => {
    expect(capFindings([built('a')], new Map(), 5)).toEqual({ kept: [built('a')], left: 0 });
  });
});
