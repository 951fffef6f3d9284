// Coverage end to end on a control plane of its own: namespaces, a node with and without an
// agent and inventory, and the ScanConfiguration's conditions and statistics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

interface Covered {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { scanStatus?: { statusCode: string; reason: string }; lastScannedAt?: string };
}

describe('coverage basics', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  const get = async (name: string): Promise<Covered | undefined> => {
    const out = await env.kubectl('get', 'coveredresources', '-o', 'json');
    return (JSON.parse(out) as { items: Covered[] }).items.find((i) => i.metadata.name === name);
  };
  const reasonOf = async (name: string) => (await get(name))?.status?.scanStatus?.reason;

  beforeAll(async () => {
    env = await startProductEnvironment();
    controller = await startController(env);
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it('without a default ScanConfiguration no namespace is activated', async () => {
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    await eventually('namespace coverage', async () =>
      (await reasonOf(coveredResourceName.namespace('team-a'))) ===
      'NO_SCAN_CONFIGURATION_ASSOCIATED'
        ? true
        : undefined,
    );
  });

  it('a default ScanConfiguration activates namespaces and nodes', async () => {
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    await env.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-a' },
    });
    await eventually('namespace activated', async () =>
      (await reasonOf(coveredResourceName.namespace('team-a'))) === 'SUCCESSFUL' ? true : undefined,
    );
    await eventually('node unmanaged', async () =>
      (await reasonOf(coveredResourceName.node('node-a'))) === 'RESOURCE_UNMANAGED'
        ? true
        : undefined,
    );
    const stats = JSON.parse(
      await env.kubectl('get', 'scanconfiguration', 'default', '-o', 'json'),
    ) as {
      status: { conditions: { type: string; status: string }[]; statistics?: { total?: number } };
    };
    expect(stats.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  });
});
