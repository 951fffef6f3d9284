import { describe, expect, it } from 'vitest';
import { Cache, indexers } from './cache.ts';
import type { KubeObject } from './resources.ts';

const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;

function pod(
  name: string,
  rv: string,
  node: string,
  digests: string[],
  ownerUid?: string,
): KubeObject {
  return {
    metadata: {
      name,
      namespace: 'shop',
      resourceVersion: rv,
      ...(ownerUid
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: ownerUid },
            ],
          }
        : {}),
    },
    spec: { nodeName: node },
    status: {
      containerStatuses: digests.map((d) => ({ imageID: `127.0.0.1:5000/shop/web@${d}` })),
    },
  };
}

describe('the indexed cache', () => {
  it('finds pods by node, by image digest and by owner, and keeps indices right across updates', () => {
    const cache = new Cache();
    cache.addIndexer('node', indexers.byNodeName);
    cache.addIndexer('digest', indexers.byImageDigest);
    cache.addIndexer('owner', indexers.byOwnerUid);
    cache.upsert(pod('a', '1', 'node-1', [digestA], 'uid-1'));
    cache.upsert(pod('b', '1', 'node-2', [digestA, digestB]));
    expect(cache.byIndex('node', 'node-1').map((p) => p.metadata.name)).toEqual(['a']);
    expect(
      cache
        .byIndex('digest', digestA)
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(cache.byIndex('owner', 'uid-1').map((p) => p.metadata.name)).toEqual(['a']);

    cache.upsert(pod('a', '2', 'node-2', [digestB], 'uid-1'));
    expect(cache.byIndex('node', 'node-1')).toEqual([]);
    expect(cache.indexValues('node')).toEqual(['node-2']);
    expect(cache.byIndex('digest', digestA).map((p) => p.metadata.name)).toEqual(['b']);

    cache.remove(pod('b', '3', 'node-2', []));
    expect(cache.byIndex('digest', digestA)).toEqual([]);
    expect(cache.byIndex('digest', digestB).map((p) => p.metadata.name)).toEqual(['a']);
  });

  it('notifies updates only when the resourceVersion changes, and deletes on replace', () => {
    const cache = new Cache();
    const seen: string[] = [];
    cache.addHandlers({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_, o) => seen.push(`update ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    cache.upsert(pod('a', '1', 'n', []));
    cache.upsert(pod('a', '1', 'n', []));
    cache.upsert(pod('a', '2', 'n', []));
    cache.replace([pod('b', '5', 'n', [])]);
    expect(seen).toEqual(['add a', 'update a', 'delete a', 'add b']);
  });

  it('counts a throwing handler and still calls the others', () => {
    const cache = new Cache();
    let calls = 0;
    cache.addHandlers({
      add: () => {
        throw new Error('bug');
      },
    });
    cache.addHandlers({ add: () => calls++ });
    cache.upsert(pod('a', '1', 'n', []));
    expect(calls).toBe(1);
    expect(cache.handlerErrors).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('shows a late handler every cached object as added', () => {
    const cache = new Cache();
    cache.upsert(pod('a', '1', 'n', []));
    const added: string[] = [];
    cache.addHandlers({ add: (o) => added.push(o.metadata.name) });
    expect(added).toEqual(['a']);
  });
});
