import { describe, expect, it } from 'vitest';
import {
  type ClusterSnapshot,
  type Collected,
  EMPTY_COLLECTED,
  anySelectorMatches,
  mergeCollected,
  selectResources,
  selectorMatches,
  targetProblems,
} from './selection.ts';

const ADMIN = 'kube-inspector-system';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const snapshot: ClusterSnapshot = {
  nodes: [
    { name: 'node-a', labels: { pool: 'blue' } },
    { name: 'node-b', labels: { pool: 'green' } },
  ],
  namespaces: new Map([
    ['shop', { team: 'shop' }],
    ['bank', { team: 'bank' }],
    [ADMIN, {}],
  ]),
  workloads: [
    {
      namespace: 'shop',
      kind: 'Deployment',
      name: 'web',
      labels: { app: 'web' },
      images: [{ reference: 'r.example/web:1', digest: D1, pod: 'web-1' }],
    },
    {
      namespace: 'shop',
      kind: 'Pod',
      name: 'debug',
      labels: { app: 'debug' },
      images: [{ reference: 'r.example/tools:2' }],
    },
    {
      namespace: 'bank',
      kind: 'StatefulSet',
      name: 'db',
      labels: { app: 'db' },
      images: [{ reference: 'r.example/db:3', digest: D2 }],
    },
  ],
};

describe('label selectors', () => {
  it('an empty selector matches everything and matchLabels must all hold', () => {
    expect(selectorMatches({}, {})).toBe(true);
    expect(selectorMatches({ matchLabels: { a: '1', b: '2' } }, { a: '1' })).toBe(false);
    expect(selectorMatches({ matchLabels: { a: '1' } }, { a: '1', b: '2' })).toBe(true);
  });
  it.each([
    ['In', ['x'], { k: 'x' }, true],
    ['In', ['x'], { k: 'y' }, false],
    ['In', ['x'], {}, false],
    ['NotIn', ['x'], { k: 'x' }, false],
    ['NotIn', ['x'], {}, true],
    ['Exists', undefined, { k: '' }, true],
    ['Exists', undefined, {}, false],
    ['DoesNotExist', undefined, { k: 'v' }, false],
    ['DoesNotExist', undefined, {}, true],
  ] as const)('operator %s %j against %j is %s', (operator, values, labels, want) => {
    const sel = {
      matchExpressions: [{ key: 'k', operator, ...(values ? { values: [...values] } : {}) }],
    };
    expect(selectorMatches(sel, labels)).toBe(want);
  });
  it('selectors are ORed and none at all selects everything', () => {
    const sels = [{ matchLabels: { app: 'web' } }, { matchLabels: { app: 'db' } }];
    expect(anySelectorMatches(sels, { app: 'db' })).toBe(true);
    expect(anySelectorMatches(sels, { app: 'cache' })).toBe(false);
    expect(anySelectorMatches([], { app: 'cache' })).toBe(true);
    expect(anySelectorMatches(undefined, {})).toBe(true);
  });
});

describe('the namespace rule', () => {
  it('a target outside the administrator namespace may not ask for nodes or other namespaces', () => {
    const problems = targetProblems(
      { resourceTypes: ['NODE', 'WORKLOAD'], namespaceSelector: {} },
      'shop',
      ADMIN,
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('spec.resourceTypes includes NODE');
    expect(problems[1]).toContain('spec.namespaceSelector');
    expect(
      targetProblems({ resourceTypes: ['NODE'], namespaceSelector: {} }, ADMIN, ADMIN),
    ).toEqual([]);
  });

  it('a target in another namespace selects only the workloads and images of its namespace', () => {
    const got = selectResources(
      { namespace: 'shop', spec: { resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'] } },
      ADMIN,
      snapshot,
    );
    expect(got.nodes).toEqual([]);
    expect(got.workloads.map((w) => w.name)).toEqual(['web', 'debug']);
    expect(got.images).toEqual([
      { reference: 'r.example/web:1', digest: D1, namespace: 'shop', pod: 'web-1' },
      { reference: 'r.example/tools:2', namespace: 'shop' },
    ]);
  });

  it('an invalid target selects nothing', () => {
    const got = selectResources(
      { namespace: 'shop', spec: { resourceTypes: ['NODE', 'WORKLOAD'] } },
      ADMIN,
      snapshot,
    );
    expect(got).toEqual(EMPTY_COLLECTED);
  });

  it('the administrator namespace reaches nodes and the namespaces its selector names', () => {
    const got = selectResources(
      {
        namespace: ADMIN,
        spec: {
          resourceTypes: ['NODE', 'CONTAINER_IMAGE'],
          selectors: [{ matchLabels: { pool: 'blue' } }, { matchLabels: { app: 'db' } }],
          namespaceSelector: { matchLabels: { team: 'bank' } },
        },
      },
      ADMIN,
      snapshot,
    );
    expect(got.nodes).toEqual(['node-a']);
    expect(got.workloads).toEqual([]);
    expect(got.images).toEqual([{ reference: 'r.example/db:3', digest: D2, namespace: 'bank' }]);
  });
});

describe('merging what collection saw', () => {
  const first: Collected = {
    nodes: ['a'],
    workloads: [{ namespace: 'shop', kind: 'Pod', name: 'p1' }],
    images: [{ reference: 'r/x:1', namespace: 'shop' }],
    truncated: false,
  };

  it('keeps resources that went away and adds new ones after them', () => {
    const seen: Collected = {
      nodes: ['b'],
      workloads: [{ namespace: 'shop', kind: 'Pod', name: 'p2' }],
      images: [],
      truncated: false,
    };
    const got = mergeCollected(first, seen);
    expect(got.nodes).toEqual(['a', 'b']);
    expect(got.workloads.map((w) => w.name)).toEqual(['p1', 'p2']);
    expect(got.images).toEqual(first.images);
  });

  it('returns the same object when nothing new was seen', () => {
    expect(mergeCollected(first, first)).toBe(first);
  });

  it('an image seen by tag takes the digest a later sighting knows; a new digest is a new image', () => {
    const withDigest = mergeCollected(first, {
      ...EMPTY_COLLECTED,
      images: [{ reference: 'r/x:1', digest: D1, namespace: 'shop', pod: 'p1' }],
    });
    expect(withDigest.images).toEqual([
      { reference: 'r/x:1', digest: D1, namespace: 'shop', pod: 'p1' },
    ]);
    const moved = mergeCollected(withDigest, {
      ...EMPTY_COLLECTED,
      images: [{ reference: 'r/x:1', digest: D2, namespace: 'shop' }],
    });
    expect(moved.images.map((i) => i.digest)).toEqual([D1, D2]);
  });

  it('stops at the limits and says so', () => {
    const got = mergeCollected(
      EMPTY_COLLECTED,
      { ...EMPTY_COLLECTED, nodes: ['a', 'b', 'c'] },
      { nodes: 2, workloads: 2, images: 2 },
    );
    expect(got.nodes).toEqual(['a', 'b']);
    expect(got.truncated).toBe(true);
  });
});
