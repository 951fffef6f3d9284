// Upgrade from the CoveredResource with a status subresource (ADR 505): objects written the old
// way (labels applied to the object, status applied to /status, counts applied to /status by the
// findings controller's manager) are taken over by the new controller with no conflict and no
// leftover field, converged objects get no write at all, and every later write leaves no entry
// of the dropped subresource behind.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../../src/api/v1alpha1/common.ts';
import { FIELD_MANAGERS, kinds } from '../../src/api/v1alpha1/resources.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { foldStatusManagedFields } from '../../src/kube/apply.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { collectionPath, type KubeObject, objectPath } from '../../src/kube/resources.ts';
import { impersonating } from './api-helpers.ts';
import { Writer } from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import { ADMIN_NAMESPACE, CONTROLLER_SA, manifestsDir } from './manifests.ts';
import {
  crdDocuments,
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

type Covered = KubeObject & {
  status?: {
    scanStatus?: { statusCode: string; reason: string; message?: string };
    findingCounts?: Record<string, number>;
    [k: string]: unknown;
  };
};

const NODE = 'node-a';
const NAMESPACE = 'team-a';

describe('upgrade of CoveredResources written through the status subresource', () => {
  let env: ProductEnvironment;
  let controller: RunningController | undefined;
  let writer: Writer;
  let crd: { metadata: { name: string }; spec: { versions: Record<string, unknown>[] } };

  const list = async (): Promise<Covered[]> =>
    (await env.client.get<{ items: Covered[] }>(collectionPath(kinds.coveredResources))).items;
  const get = (name: string): Promise<Covered> =>
    env.client.get<Covered>(objectPath(kinds.coveredResources, name));
  const reasonOf = async (name: string): Promise<string | undefined> =>
    (await list()).find((c) => c.metadata.name === name)?.status?.scanStatus?.reason;

  /** Serves the CoveredResource CRD with (old) or without (new) the status subresource. */
  const serveCrd = async (withStatusSubresource: boolean): Promise<void> => {
    const [version] = crd.spec.versions;
    await env.apply({
      ...crd,
      spec: {
        ...crd.spec,
        versions: [
          withStatusSubresource ? { ...version, subresources: { status: {} } } : { ...version },
        ],
      },
    });
    await eventually(
      `coveredresources/status ${withStatusSubresource ? 'served' : 'gone'}`,
      async () => {
        const group = await env.client.get<{ resources: { name: string }[] }>(
          `/apis/${API_VERSION}`,
        );
        const served = group.resources.some((r) => r.name === 'coveredresources/status');
        return served === withStatusSubresource ? true : undefined;
      },
    );
  };

  const statusEntries = (o: KubeObject) =>
    (o.metadata.managedFields ?? []).filter((m) => m.subresource === 'status');

  const conflicts = (metrics: string): number =>
    metrics
      .split('\n')
      .filter((l) => l.startsWith('rest_client_requests_total{') && l.includes('code="409"'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

  beforeAll(async () => {
    env = await startProductEnvironment();
    writer = new Writer(env.client);
    crd = (await crdDocuments()).find(
      (d) =>
        (d as { metadata: { name: string } }).metadata.name === 'coveredresources.kubeinspector.io',
    ) as typeof crd;
    expect(crd.spec.versions[0]?.subresources).toBeUndefined();
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  let converged: Map<string, Covered>;
  let oldVersions: Map<string, string | undefined>;

  it('the new controller converges a cluster (the states the old one would have written)', async () => {
    await env.apply(
      {
        apiVersion: API_VERSION,
        kind: 'ScanConfiguration',
        metadata: { name: 'default' },
        spec: {},
      },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
      { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } },
    );
    controller = await startController(env);
    await eventually('coverage of the namespace and the node', async () =>
      (await reasonOf(coveredResourceName.namespace(NAMESPACE))) === 'SUCCESSFUL' &&
      (await reasonOf(coveredResourceName.node(NODE))) === 'RESOURCE_UNMANAGED'
        ? true
        : undefined,
    );
    await controller.stop();
    controller = undefined;
    converged = new Map((await list()).map((c) => [c.metadata.name, c]));
    expect(converged.size).toBeGreaterThanOrEqual(2);
    // Written in one apply: a single entry of the controller's manager, on the object itself.
    for (const c of converged.values()) {
      expect(statusEntries(c)).toEqual([]);
      expect(
        c.metadata.managedFields?.filter((m) => m.manager === FIELD_MANAGERS.coverage),
      ).toHaveLength(1);
    }
  });

  it('the old CRD and the old controller write every CoveredResource in two requests', async () => {
    await serveCrd(true);
    for (const name of converged.keys()) await writer.remove(kinds.coveredResources, name);
    await eventually('the CoveredResources deleted', async () =>
      (await list()).length === 0 ? true : undefined,
    );
    const nodeName = coveredResourceName.node(NODE);
    for (const [name, c] of converged) {
      let labels = c.metadata.labels ?? {};
      let status = c.status ?? {};
      if (name === nodeName) {
        // The node as an older state left it: another reason, a message the new state lacks,
        // and counts written by the findings controller.
        labels = {
          ...labels,
          'kubeinspector.io/status-code': 'INACTIVE',
          'kubeinspector.io/reason': 'UNSUPPORTED_OS',
        };
        status = {
          ...status,
          scanStatus: {
            statusCode: 'INACTIVE',
            reason: 'UNSUPPORTED_OS',
            message: 'the inventory reports an operating system that is not supported',
          },
        };
      }
      await writer.apply(
        kinds.coveredResources,
        { apiVersion: API_VERSION, kind: 'CoveredResource', metadata: { name, labels } },
        FIELD_MANAGERS.coverage,
      );
      await writer.apply(
        kinds.coveredResources,
        { apiVersion: API_VERSION, kind: 'CoveredResource', metadata: { name }, status },
        FIELD_MANAGERS.coverage,
        'status',
      );
    }
    const counts = {
      critical: 1,
      high: 2,
      medium: 0,
      low: 0,
      informational: 0,
      untriaged: 0,
      total: 3,
    };
    await writer.apply(
      kinds.coveredResources,
      {
        apiVersion: API_VERSION,
        kind: 'CoveredResource',
        metadata: { name: nodeName },
        status: { findingCounts: counts },
      },
      FIELD_MANAGERS.findings,
      'status',
    );
    const node = await get(nodeName);
    expect(node.status?.scanStatus?.message).toBeDefined();
    expect(
      statusEntries(node)
        .map((m) => m.manager)
        .sort(),
    ).toEqual([FIELD_MANAGERS.coverage, FIELD_MANAGERS.findings]);
    oldVersions = new Map((await list()).map((c) => [c.metadata.name, c.metadata.resourceVersion]));
  });

  it('the controller’s role is enough to fold the old entries (it may list and patch CoveredResources, not get them)', async () => {
    const probe = 'upgrade-probe';
    await writer.apply(
      kinds.coveredResources,
      { apiVersion: API_VERSION, kind: 'CoveredResource', metadata: { name: probe } },
      FIELD_MANAGERS.coverage,
    );
    await writer.apply(
      kinds.coveredResources,
      {
        apiVersion: API_VERSION,
        kind: 'CoveredResource',
        metadata: { name: probe },
        status: {
          resourceType: 'NAMESPACE',
          resourceId: probe,
          scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
        },
      },
      FIELD_MANAGERS.coverage,
      'status',
    );
    const rbac = parseAllDocuments(
      readFileSync(join(manifestsDir, 'controller', 'rbac.yaml'), 'utf8'),
    )
      .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
      .filter(
        (o) => o.metadata.name === 'kube-inspector-controller' && o.kind.startsWith('ClusterRole'),
      );
    expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    await env.apply(...rbac);
    const asController = await KubeClient.create(
      impersonating(env.kubeConfig, `system:serviceaccount:${ADMIN_NAMESPACE}:${CONTROLLER_SA}`),
    );
    try {
      await eventually('the role in effect', async () =>
        (await asController
          .get<{ items: unknown[] }>(collectionPath(kinds.coveredResources))
          .catch(() => undefined))
          ? true
          : undefined,
      );
      await expect(asController.get(objectPath(kinds.coveredResources, probe))).rejects.toThrow(
        /forbidden|403/i,
      );
      expect(await foldStatusManagedFields(asController, kinds.coveredResources, probe)).toBe(true);
    } finally {
      await asController.close();
    }
    const folded = await get(probe);
    expect(statusEntries(folded)).toEqual([]);
    expect(folded.status?.scanStatus?.reason).toBe('SUCCESSFUL');
    await writer.remove(kinds.coveredResources, probe);
    oldVersions.delete(probe);
  });

  it('the new controller converges them with no conflict, no leftover field and no write to what is current', async () => {
    await serveCrd(false);
    controller = await startController(env);
    const nodeName = coveredResourceName.node(NODE);
    const node = await eventually(
      'the node back at its state',
      async () => {
        const n = await get(nodeName);
        return n.status?.scanStatus?.reason === 'RESOURCE_UNMANAGED' ? n : undefined;
      },
      60_000,
    );
    // The message the old status entry owned is gone with the old reason.
    expect(node.status?.scanStatus).toEqual(converged.get(nodeName)?.status?.scanStatus);
    expect(node.metadata.labels).toEqual(converged.get(nodeName)?.metadata.labels);
    const { findingCounts, ...rest } = node.status ?? {};
    expect(rest).toEqual(converged.get(nodeName)?.status);
    // The counts stay with the findings controller, whose entry is now on the object itself.
    expect(findingCounts).toBeDefined();
    expect(statusEntries(node)).toEqual([]);
    const owners = (node.metadata.managedFields ?? [])
      .filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes('"f:findingCounts"'))
      .map((m) => m.manager);
    expect(owners).toEqual([FIELD_MANAGERS.findings]);

    // Everything else was already current: nothing is written to it (its old entries stay,
    // folded at its next write).
    await new Promise((r) => setTimeout(r, 5_000));
    for (const c of await list()) {
      if (c.metadata.name === nodeName) continue;
      expect([c.metadata.name, c.metadata.resourceVersion]).toEqual([
        c.metadata.name,
        oldVersions.get(c.metadata.name),
      ]);
    }
    expect(conflicts(await controller.metrics())).toBe(0);
  });

  it('a later change of a CoveredResource written the old way is one write with no old entry left', async () => {
    const name = coveredResourceName.namespace(NAMESPACE);
    await env.client.request('DELETE', objectPath(kinds.scanConfigurations, 'default'));
    const ns = await eventually('the namespace without a configuration', async () => {
      const c = await get(name);
      return c.status?.scanStatus?.reason === 'NO_SCAN_CONFIGURATION_ASSOCIATED' ? c : undefined;
    });
    expect(ns.metadata.labels?.['kubeinspector.io/reason']).toBe(
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
    );
    expect(statusEntries(ns)).toEqual([]);
    expect(
      ns.metadata.managedFields?.filter((m) => m.manager === FIELD_MANAGERS.coverage),
    ).toHaveLength(1);
    expect(conflicts(await controller!.metrics())).toBe(0);
  });
});
