// Findings add no bytes to etcd: the controller evaluates a covered node into findings, people
// read them through kube-apiserver, and etcd (read directly, under /registry/) holds no key of
// the findings API's group nor of the Finding custom resource that came before it, while the
// product's custom resources are there to count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import {
  BOOKWORM_PACKAGES,
  applyCoveredNode,
  applyNodeInventory,
  databaseCopy,
  findingsOf,
} from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The keys under a prefix in etcd and their bytes (keys plus values), through its JSON gateway. */
async function etcdUsage(
  etcdUrl: string,
  prefix: string,
): Promise<{ keys: number; bytes: number }> {
  // range_end: the prefix with its last byte incremented, etcd's "every key with this prefix".
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const res = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { kvs?: { key: string; value?: string }[] };
  const kvs = body.kvs ?? [];
  const bytes = kvs.reduce(
    (n, kv) =>
      n + Buffer.from(kv.key, 'base64').length + Buffer.from(kv.value ?? '', 'base64').length,
    0,
  );
  return { keys: kvs.length, bytes };
}

describe('findings and etcd', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let db: Awaited<ReturnType<typeof databaseCopy>>;

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = await databaseCopy();
    controller = await startController(env, { setups: [setupFindings], database: db.source });
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
    db?.remove();
  });

  it('keeps every finding out of etcd', async () => {
    const etcd = env.plane.etcdUrl!;
    await applyNodeInventory(env.client, 'node-1', BOOKWORM_PACKAGES, new Date());
    const cr = await applyCoveredNode(env.client, 'node-1', { lastScannedAt: new Date() });
    const found = await eventually('the node findings', async () => {
      const f = await findingsOf(env.client, env.adminNamespace, cr);
      return f.size === 5 ? f : undefined;
    });
    // They are there for people: through kube-apiserver, by kubectl, from the store.
    const names = await env.kubectl('get', 'findings', '-n', env.adminNamespace, '-o', 'name');
    expect(names.trim().split('\n')).toHaveLength(5);
    expect((await controller.store.stats()).findings).toBeGreaterThanOrEqual(found.size);

    // The counting works: the inputs of the evaluation are custom resources in etcd.
    const inventories = await etcdUsage(etcd, '/registry/kubeinspector.io/nodeinventories/');
    expect(inventories.keys).toBe(1);
    expect(inventories.bytes).toBeGreaterThan(1000);
    // Nothing of the findings: neither the aggregated group nor the old custom resource.
    const aggregated = await etcdUsage(etcd, '/registry/findings.kubeinspector.io/');
    const customResources = await etcdUsage(etcd, '/registry/kubeinspector.io/findings/');
    console.log(
      `etcd bytes of ${found.size} findings: ${aggregated.bytes + customResources.bytes} ` +
        `(NodeInventory: ${inventories.bytes})`,
    );
    expect(aggregated).toEqual({ keys: 0, bytes: 0 });
    expect(customResources).toEqual({ keys: 0, bytes: 0 });
    // No Finding CRD is installed: the only Finding kind is the aggregated one.
    const crds = await env.kubectl('get', 'crd', '-o', 'name');
    expect(crds).not.toContain('findings.kubeinspector.io');
    const resources = await env.kubectl('api-resources', '--api-group=findings.kubeinspector.io');
    expect(resources).toMatch(
      /^findings\s+.*findings\.kubeinspector\.io\/v1alpha1\s+true\s+Finding/m,
    );
  });
});
