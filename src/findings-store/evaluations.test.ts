import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelsEqual, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { SqliteFindingStore } from './sqlite.ts';
import type { StoredFinding } from './store.ts';

const NS = 'kube-inspector-system';

function finding(
  name: string,
  status: 'ACTIVE' | 'SUPPRESSED' | 'CLOSED',
  labels: Record<string, string> = {},
  severity = 'HIGH',
): StoredFinding {
  return {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace: NS,
      labels: { 'kubeinspector.io/covered-resource': 'node-a', ...labels },
    },
    status: {
      status,
      severity,
      type: 'PACKAGE_VULNERABILITY',
      firstObservedAt: '2026-03-01T00:00:00Z',
      lastObservedAt: '2026-03-01T00:00:00Z',
      updatedAt: '2026-03-01T00:00:00Z',
    },
  };
}

const lastObserved = (f: StoredFinding | undefined): unknown =>
  (f?.status as { lastObservedAt?: string } | undefined)?.lastObservedAt;

describe('evaluations recorded once per covered resource', () => {
  it('serves open findings with lastObservedAt of the last evaluation, without a new version or event', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    await store.batch([
      { op: 'create', finding: finding('open', 'ACTIVE') },
      { op: 'create', finding: finding('quiet', 'SUPPRESSED') },
      { op: 'create', finding: finding('closed', 'CLOSED') },
      {
        op: 'create',
        finding: finding('other', 'ACTIVE', { 'kubeinspector.io/covered-resource': 'node-b' }),
      },
    ]);
    const rv = store.currentResourceVersion();
    const watch = await store.watch({ resourceVersion: rv });
    await store.recordEvaluation('node-a', new Date('2026-03-05T12:00:00Z'));
    expect(lastObserved(await store.get(NS, 'open'))).toBe('2026-03-05T12:00:00Z');
    expect(lastObserved(await store.get(NS, 'quiet'))).toBe('2026-03-05T12:00:00Z');
    expect(lastObserved(await store.get(NS, 'closed'))).toBe('2026-03-01T00:00:00Z');
    expect(lastObserved(await store.get(NS, 'other'))).toBe('2026-03-01T00:00:00Z');
    const listed = await store.list({ namespace: NS });
    expect(listed.items.map((f) => [f.metadata.name, lastObserved(f)])).toContainEqual([
      'open',
      '2026-03-05T12:00:00Z',
    ]);
    expect(store.currentResourceVersion()).toBe(rv);
    expect(await store.lastEvaluation('node-a')).toEqual(new Date('2026-03-05T12:00:00Z'));
    // No event: the next one is a real change.
    await store.update({ ...(await store.get(NS, 'other'))!, spec: { attributes: { a: 'b' } } });
    const first = await watch[Symbol.asyncIterator]().next();
    expect((first.value as { object: StoredFinding }).object.metadata.name).toBe('other');
    watch.close();
    await store.recordEvaluation('node-a', undefined);
    expect(await store.lastEvaluation('node-a')).toBeUndefined();
    expect(lastObserved(await store.get(NS, 'open'))).toBe('2026-03-01T00:00:00Z');
    await store.close();
  });

  it('never moves lastObservedAt back', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    await store.create(finding('open', 'ACTIVE'));
    await store.recordEvaluation('node-a', new Date('2026-02-01T00:00:00Z'));
    expect(lastObserved(await store.get(NS, 'open'))).toBe('2026-03-01T00:00:00Z');
    await store.close();
  });
});

describe('counts', () => {
  it('counts and groups what a selector matches', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    await store.batch([
      { op: 'create', finding: finding('a', 'ACTIVE', {}, 'CRITICAL') },
      { op: 'create', finding: finding('b', 'ACTIVE', {}, 'CRITICAL') },
      {
        op: 'create',
        finding: finding('c', 'CLOSED', { 'kubeinspector.io/covered-resource': 'node-b' }),
      },
    ]);
    expect(
      await store.count({
        labelSelector: parseLabelSelector('kubeinspector.io/covered-resource=node-a'),
      }),
    ).toBe(2);
    expect(await store.count({ fieldSelector: parseFieldSelector('status.status=CLOSED') })).toBe(
      1,
    );
    const groups = await store.countBy({}, ['severity', 'status', 'coveredResource'] as const);
    expect(groups).toEqual(
      expect.arrayContaining([
        { key: { severity: 'CRITICAL', status: 'ACTIVE', coveredResource: 'node-a' }, count: 2 },
        { key: { severity: 'HIGH', status: 'CLOSED', coveredResource: 'node-b' }, count: 1 },
      ]),
    );
    expect(groups).toHaveLength(2);
    await store.close();
  });

  it('keeps counts without selectors equal to a count of every finding, through every kind of write', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'counts-')), 'findings.db');
    const every = parseLabelSelector('!no-such-label'); // a selector: counted from the rows
    const keys = ['namespace', 'severity', 'type', 'status', 'coveredResource', 'run'] as const;
    const sorted = (g: { key: Record<string, string>; count: number }[]) =>
      g.map((x) => JSON.stringify([x.key, x.count])).sort();
    const agree = async (s: SqliteFindingStore) => {
      expect(sorted(await s.countBy({}, keys))).toEqual(
        sorted(await s.countBy({ labelSelector: every }, keys)),
      );
      expect(sorted(await s.countBy({ namespace: NS }, ['severity', 'status'] as const))).toEqual(
        sorted(await s.countBy({ namespace: NS, labelSelector: every }, ['severity', 'status'])),
      );
      expect(await s.count({})).toBe(await s.count({ labelSelector: every }));
    };
    let store = new SqliteFindingStore({ path });
    await store.batch(
      ['a', 'b', 'c', 'd', 'e'].map((n, i) => ({
        op: 'create' as const,
        finding: finding(
          n,
          i % 2 ? 'ACTIVE' : 'SUPPRESSED',
          i > 2 ? { 'kubeinspector.io/run': 'r1' } : {},
          i ? 'HIGH' : 'LOW',
        ),
      })),
    );
    await agree(store);
    expect(await store.countBy({}, ['severity'] as const)).toEqual(
      expect.arrayContaining([
        { key: { severity: 'HIGH' }, count: 4 },
        { key: { severity: 'LOW' }, count: 1 },
      ]),
    );
    // Severity, status and covered resource change; a finding without status; deletes.
    const a = (await store.get(NS, 'a'))!;
    await store.update({
      ...a,
      status: { ...(a.status as object), severity: 'CRITICAL', status: 'CLOSED' },
    });
    const b = (await store.get(NS, 'b'))!;
    await store.update({
      ...b,
      metadata: { ...b.metadata, labels: { 'kubeinspector.io/covered-resource': 'node-z' } },
    });
    const { status: _none, ...bare } = finding('bare', 'ACTIVE');
    await store.create(bare);
    await store.delete(NS, 'c');
    await store.deleteCollection({ labelSelector: parseLabelSelector('kubeinspector.io/run=r1') });
    await agree(store);
    expect(await store.count({})).toBe(3);
    expect(await store.countBy({ namespace: 'elsewhere' }, ['severity'] as const)).toEqual([]);
    // A file written before the counts existed is counted once when opened.
    store.db.exec(`DROP TABLE finding_counts; DELETE FROM meta WHERE key = 'counts'`);
    await store.close();
    store = new SqliteFindingStore({ path });
    await agree(store);
    expect(await store.count({})).toBe(3);
    await store.close();
    rmSync(dirname(path), { recursive: true, force: true });
  });

  it('selects by a CoveredResource name longer than a typed label value may be', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    const long = 'workload-kube-inspector-system.pod.kube-inspector-agent-demo-node-1';
    expect(long.length).toBeGreaterThan(63);
    await store.batch([
      {
        op: 'create',
        finding: finding('w', 'ACTIVE', { 'kubeinspector.io/covered-resource': long }),
      },
      { op: 'create', finding: finding('n', 'CLOSED', { 'kubeinspector.io/status': 'CLOSED' }) },
    ]);
    expect(() => parseLabelSelector(`kubeinspector.io/covered-resource=${long}`)).toThrow(
      /no more than 63 characters/,
    );
    const selector = labelsEqual({ 'kubeinspector.io/covered-resource': long });
    expect(
      (await store.list({ labelSelector: selector })).items.map((f) => f.metadata.name),
    ).toEqual(['w']);
    const open = labelsEqual({ 'kubeinspector.io/covered-resource': 'node-a' }, [
      { key: 'kubeinspector.io/status', operator: 'NotEquals', value: 'CLOSED' },
    ]);
    expect(await store.count({ labelSelector: open })).toBe(0);
    expect(
      await store.count({
        labelSelector: labelsEqual({ 'kubeinspector.io/covered-resource': 'node-a' }),
      }),
    ).toBe(1);
    await store.close();
  });

  it('keeps markers for one-off migrations', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    expect(await store.marker('legacy')).toBeUndefined();
    await store.setMarker('legacy', 42);
    expect(await store.marker('legacy')).toBe(42);
    await store.close();
  });
});
