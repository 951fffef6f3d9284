import { describe, expect, it } from 'vitest';
import { SqliteFindingStore } from '../../findings-store/sqlite.ts';
import type { StoredFinding } from '../../findings-store/store.ts';
import { followStore } from './store-events.ts';

const finding = (name: string): StoredFinding => ({
  apiVersion: 'findings.kubeinspector.io/v1alpha1',
  kind: 'Finding',
  metadata: { name, namespace: 'ns' },
  status: { status: 'ACTIVE', severity: 'HIGH' },
});

describe('following the findings store', () => {
  it('passes changes on, and ends when stopped, even while its watch is being opened', async () => {
    const store = new SqliteFindingStore({ path: ':memory:' });
    try {
      const seen: string[] = [];
      const handlers = [{ change: (o: StoredFinding) => seen.push(o.metadata.name) }];
      const running = new AbortController();
      const following = followStore(
        store,
        () => handlers,
        running.signal,
        () => undefined,
      );
      await new Promise((r) => setTimeout(r, 10));
      await store.create(finding('a'));
      await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual(['a']);
      running.abort();
      await following;

      // Stopped in the same turn it started: the watch is still being opened when the abort
      // comes, and must be closed once it is.
      const early = new AbortController();
      const racing = followStore(
        store,
        () => handlers,
        early.signal,
        () => undefined,
      );
      early.abort();
      const outcome = await Promise.race([
        racing.then(() => 'ended'),
        new Promise((r) => setTimeout(() => r('still following'), 2000)),
      ]);
      expect(outcome).toBe('ended');
    } finally {
      await store.close();
    }
  });
});
