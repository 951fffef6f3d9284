// The harness the product's integration tests share: its own control plane with the CRDs,
// the manager serving metrics and readiness, and the findings API the controller process serves,
// registered with the control plane while it runs and unregistered (APIService first) at stop.
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

  it('serves the findings API through the control plane while the controller runs', async () => {
    const controller = await startController(env, { setups: [] });
    try {
      const resources = await env.kubectl(
        'api-resources',
        '--api-group=findings.kubeinspector.io',
        '-o',
        'wide',
      );
      expect(resources).toMatch(
        /^findings\s+.*findings\.kubeinspector\.io\/v1alpha1\s+true\s+Finding/m,
      );
      expect(await env.kubectl('get', 'findings', '-A')).toBe('');
      // The store is the environment's file: what one process wrote, the next one serves.
      const stats = await controller.store.stats();
      expect(stats.findings).toBe(0);
    } finally {
      await controller.stop();
    }
    const apiServices = await env.kubectl('get', 'apiservices', '-o', 'name');
    expect(apiServices).not.toContain('findings.kubeinspector.io');
  });
});
