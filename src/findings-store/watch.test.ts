import { describe, expect, it } from 'vitest';
import { parseLabelSelector } from './selectors.ts';
import type { StoredFinding } from './store.ts';
import { bookmark, visibleEvent, type ChangeEvent, type WatchFilter } from './watch.ts';

const object = { metadata: { namespace: 'ns', name: 'a' } } as StoredFinding;

function change(
  type: ChangeEvent['type'],
  sev: string,
  prevSev?: string,
  namespace = 'ns',
): ChangeEvent {
  return {
    type,
    rv: 5,
    namespace,
    object,
    labels: { sev },
    fields: {},
    ...(prevSev !== undefined ? { prev: { labels: { sev: prevSev }, fields: {} } } : {}),
  };
}

describe('visibleEvent', () => {
  const critical: WatchFilter = { labelSelector: parseLabelSelector('sev=CRITICAL') };
  const cases: [string, WatchFilter, ChangeEvent, string | undefined][] = [
    ['an added match is ADDED', critical, change('ADDED', 'CRITICAL'), 'ADDED'],
    ['an added non-match is not seen', critical, change('ADDED', 'LOW'), undefined],
    ['a match modified in place is MODIFIED', critical, change('MODIFIED', 'CRITICAL'), 'MODIFIED'],
    [
      'a change that starts matching is ADDED',
      critical,
      change('MODIFIED', 'CRITICAL', 'LOW'),
      'ADDED',
    ],
    [
      'a change that stops matching is DELETED',
      critical,
      change('MODIFIED', 'LOW', 'CRITICAL'),
      'DELETED',
    ],
    [
      'a non-match changed to another non-match is not seen',
      critical,
      change('MODIFIED', 'LOW', 'HIGH'),
      undefined,
    ],
    ['a deleted match is DELETED', critical, change('DELETED', 'CRITICAL'), 'DELETED'],
    ['another namespace is not seen', { namespace: 'x' }, change('ADDED', 'LOW'), undefined],
    ['no filter sees everything', {}, change('MODIFIED', 'LOW', 'HIGH'), 'MODIFIED'],
  ];
  it.each(cases)('%s', (_, filter, event, expected) => {
    expect(visibleEvent(filter, event)?.type).toBe(expected);
  });
});

describe('bookmark', () => {
  it('carries only the version, and the initial-events-end annotation when asked', () => {
    expect(bookmark(9).object.metadata).toEqual({ resourceVersion: '9' });
    expect(bookmark(9, true).object.metadata).toEqual({
      resourceVersion: '9',
      annotations: { 'k8s.io/initial-events-end': 'true' },
    });
  });
});
