import { describe, expect, it } from 'vitest';
import { defaultManager, parseListQuery, parseWriteQuery } from './query.ts';
import { ApiError } from './status.ts';

const q = (s: string) => new URLSearchParams(s);

function statusOf(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.status.code, message: err.status.message };
    throw err;
  }
  throw new Error('no error');
}

describe('parseListQuery', () => {
  it('reads selectors, paging and versions', () => {
    const out = parseListQuery(
      q(
        'labelSelector=a%3Db,c&fieldSelector=metadata.name%3Dx&limit=500&continue=tok&timeoutSeconds=30&allowWatchBookmarks=true',
      ),
      false,
    );
    expect(out.labelSelector?.requirements).toHaveLength(2);
    expect(out.fieldSelector?.requirements).toEqual([
      { field: 'metadata.name', operator: 'Equals', value: 'x' },
    ]);
    expect(out).toMatchObject({
      limit: 500,
      continue: 'tok',
      timeoutSeconds: 30,
      allowWatchBookmarks: true,
    });
  });

  it('adds metadata.name for a watch of one object', () => {
    const out = parseListQuery(q('fieldSelector=status.severity%3DHIGH'), true, 'f1');
    expect(out.fieldSelector?.requirements.map((r) => `${r.field}=${r.value}`)).toEqual([
      'status.severity=HIGH',
      'metadata.name=f1',
    ]);
  });

  it('treats limit=0 as no limit', () => {
    expect(parseListQuery(q('limit=0'), false).limit).toBeUndefined();
  });

  it.each([
    [
      'an unsupported field',
      'fieldSelector=spec.attributes.a%3Db',
      false,
      400,
      'field label not supported: spec.attributes.a',
    ],
    ['a bad limit', 'limit=ten', false, 400, 'invalid value for limit: "ten"'],
    [
      'resourceVersionMatch without resourceVersion',
      'resourceVersionMatch=NotOlderThan',
      false,
      422,
      'resourceVersionMatch is forbidden unless resourceVersion is provided',
    ],
    [
      'Exact with 0',
      'resourceVersion=0&resourceVersionMatch=Exact',
      false,
      422,
      'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
    ],
    [
      'an unknown match',
      'resourceVersion=5&resourceVersionMatch=Newest',
      false,
      422,
      'Unsupported value: "Newest"',
    ],
    [
      'a resourceVersion with continue',
      'continue=tok&resourceVersion=5',
      false,
      400,
      'specifying resource version is not allowed when using continue',
    ],
    [
      'sendInitialEvents on a list',
      'sendInitialEvents=true',
      false,
      422,
      'sendInitialEvents is forbidden for list',
    ],
    [
      'sendInitialEvents without NotOlderThan',
      'sendInitialEvents=true',
      true,
      422,
      'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
    ],
    [
      'resourceVersionMatch on a watch without sendInitialEvents',
      'resourceVersionMatch=NotOlderThan',
      true,
      422,
      'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
    ],
  ])('refuses %s', (_name, query, watch, code, message) => {
    const s = statusOf(() => parseListQuery(q(query), watch));
    expect(s.code).toBe(code);
    expect(s.message).toContain(message);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['Off', false],
  ])('reads allowWatchBookmarks=%j as %s (apimachinery spellings)', (value, expected) => {
    expect(parseListQuery(q(`allowWatchBookmarks=${value}`), true).allowWatchBookmarks).toBe(
      expected,
    );
  });

  it('accepts a WatchList request', () => {
    const out = parseListQuery(
      q('sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true'),
      true,
    );
    expect(out).toMatchObject({
      sendInitialEvents: true,
      resourceVersionMatch: 'NotOlderThan',
      allowWatchBookmarks: true,
    });
  });
});

describe('parseWriteQuery', () => {
  it('defaults to Warn and no dry run', () => {
    expect(parseWriteQuery(q(''))).toEqual({ dryRun: false, fieldValidation: 'Warn' });
  });

  it('reads dryRun=All, a manager, Strict and force', () => {
    expect(
      parseWriteQuery(q('dryRun=All&fieldManager=flux&fieldValidation=Strict&force=true')),
    ).toEqual({ dryRun: true, fieldManager: 'flux', fieldValidation: 'Strict', force: true });
  });

  it.each([
    ['dryRun=Some', 'Unsupported value: "Some"'],
    ['fieldValidation=Loud', 'Unsupported value: "Loud"'],
    [`fieldManager=${'m'.repeat(129)}`, 'fieldManager: Invalid value'],
  ])('refuses %s with 422', (query, message) => {
    const s = statusOf(() => parseWriteQuery(q(query)));
    expect(s.code).toBe(422);
    expect(s.message).toContain(message);
  });

  it.each([
    ['kubectl-edit/v1.36.3 (linux/amd64) kubernetes/abcdef', 'kubectl-edit'],
    ['kube-inspector', 'kube-inspector'],
    [undefined, 'unknown'],
  ])('names the manager of %j %s', (agent, manager) => {
    expect(defaultManager(agent)).toBe(manager);
  });
});
