// The harness the product's integration tests share: its own control plane with the CRDs,
// and the manager serving metrics and readiness.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProductEnvironment, startController, startProductEnvironment } from './product.ts';

describe('the product test harness', () => {
  let env: ProductEnvironment;
  beforeAll(async () => {
    env = await startProductEnvironment();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('installs every kind and the administrator namespace', async () => {
    const kinds = await env.kubectl('api-resources', '--api-group=kubeinspector.io', '-o', 'name');
    expect(kinds.trim().split('\n').sort()).toEqual([
      'assessmentruns.kubeinspector.io',
      'assessmenttargets.kubeinspector.io',
      'assessmenttemplates.kubeinspector.io',
      'coveredresources.kubeinspector.io',
      'findings.kubeinspector.io',
      'nodeinventories.kubeinspector.io',
      'scanconfigurations.kubeinspector.io',
      'suppressionrules.kubeinspector.io',
    ]);
    expect(await env.kubectl('get', 'namespace', env.adminNamespace, '-o', 'name')).toBe(
      `namespace/${env.adminNamespace}\n`,
    );
  });

  it('runs the controllers until stopped and serves their metrics', async () => {
    const controller = await startController(env, { setups: [] });
    try {
      expect(await controller.metrics()).toContain('process_cpu_user_seconds_total');
    } finally {
      await controller.stop();
    }
  });
});
