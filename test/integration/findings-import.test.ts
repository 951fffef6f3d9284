// The upgrade from the Finding custom resource: a cluster that still has the old CRD and its
// findings (one with a person's attributes, one CLOSED) gets the new controller; the findings
// are imported once into the findings API with their attributes and lifecycle intact, and the
// old CRD (with its objects in etcd) is removed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { isNotFound } from '../../src/kube/client.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

interface FindingObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec?: { attributes?: Record<string, string> };
  status?: Record<string, unknown>;
}

const fixture = join(import.meta.dirname, 'fixtures', 'finding-crd-v1alpha1.yaml');
const example = parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'finding.yaml'), 'utf8'),
) as FindingObject;
const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/findings.kubeinspector.io';

/** A Finding custom resource like the example, with its own name, status and attributes. */
function oldFinding(
  namespace: string,
  name: string,
  status: 'ACTIVE' | 'CLOSED',
  attributes: Record<string, string>,
): FindingObject {
  const f = structuredClone(example);
  f.apiVersion = 'kubeinspector.io/v1alpha1';
  f.metadata = {
    name,
    namespace,
    labels: { ...example.metadata.labels, 'kubeinspector.io/status': status },
  };
  f.spec = { attributes };
  // Recent times: a CLOSED finding within its retention, which the import must not cut short.
  const daysAgo = (d: number): string =>
    new Date(Date.now() - d * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  f.status = {
    ...example.status,
    status,
    firstObservedAt: daysAgo(10),
    lastObservedAt: status === 'CLOSED' ? daysAgo(2) : daysAgo(1),
    updatedAt: status === 'CLOSED' ? daysAgo(2) : daysAgo(10),
  };
  return f;
}

describe('the one-time import of Finding custom resources', () => {
  let env: ProductEnvironment;
  let controller: RunningController | undefined;
  const created: FindingObject[] = [];

  beforeAll(async () => {
    env = await startProductEnvironment();
    // The cluster as the previous version left it: the CRD and its findings.
    await env.kubectlWithInput(readFileSync(fixture, 'utf8'), 'apply', '--server-side', '-f', '-');
    await env.kubectl(
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/findings.kubeinspector.io',
    );
    const collection = `/apis/kubeinspector.io/v1alpha1/namespaces/${env.adminNamespace}/findings`;
    for (const f of [
      oldFinding(env.adminNamespace, 'cve-2024-6387-active', 'ACTIVE', { ticket: 'SEC-1234' }),
      oldFinding(env.adminNamespace, 'cve-2024-6387-closed', 'CLOSED', { owner: 'platform' }),
    ]) {
      const made = await env.client.request<FindingObject>('POST', collection, { body: f });
      // Status through the status subresource, as the old controller wrote it.
      const withStatus = await env.client.request<FindingObject>(
        'PUT',
        `${collection}/${f.metadata.name}/status`,
        { body: { ...made, status: f.status } },
      );
      created.push(withStatus);
    }
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it('imports them with attributes and lifecycle intact, and removes the CRD', async () => {
    expect(created.map((f) => f.status?.status)).toEqual(['ACTIVE', 'CLOSED']);
    controller = await startController(env, { setups: [setupFindings] });

    for (const old of created) {
      const imported = await eventually(
        `${old.metadata.name} in the findings API`,
        async () =>
          JSON.parse(
            await env.kubectl(
              'get',
              `findings.v1alpha1.findings.kubeinspector.io/${old.metadata.name}`,
              '-n',
              env.adminNamespace,
              '-o',
              'json',
            ),
          ) as FindingObject,
        90_000,
        1000,
      );
      expect(imported.apiVersion).toBe('findings.kubeinspector.io/v1alpha1');
      expect(imported.kind).toBe('Finding');
      expect(imported.spec?.attributes).toEqual(old.spec?.attributes);
      expect(imported.metadata.labels).toEqual(old.metadata.labels);
      for (const field of ['status', 'severity', 'vulnerabilityId', 'firstObservedAt', 'title']) {
        expect(imported.status?.[field], field).toEqual(old.status?.[field]);
      }
      expect(imported.status?.packages).toEqual(old.status?.packages);
    }

    // The CRD is gone, and with it every Finding custom resource in etcd.
    await eventually(
      'the Finding CRD removed',
      async () => {
        try {
          await env.client.request('GET', crdPath);
          return undefined;
        } catch (err) {
          return isNotFound(err) ? true : undefined;
        }
      },
      90_000,
      500,
    );
    const crds = await env.kubectl('get', 'crd', '-o', 'name');
    expect(crds).not.toContain('findings.kubeinspector.io');
    const listed = await env.kubectl('get', 'findings', '-n', env.adminNamespace, '-o', 'name');
    expect(listed.trim().split('\n').sort()).toEqual([
      'finding.findings.kubeinspector.io/cve-2024-6387-active',
      'finding.findings.kubeinspector.io/cve-2024-6387-closed',
    ]);
  });

  it('does not import again when the controller restarts', async () => {
    const before = await env.kubectl(
      'get',
      'findings',
      '-n',
      env.adminNamespace,
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}',
    );
    await controller!.stop({ keepApiService: true });
    controller = await startController(env, { setups: [setupFindings] });
    const after = await env.kubectl(
      'get',
      'findings',
      '-n',
      env.adminNamespace,
      '-o',
      'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}',
    );
    expect(after).toBe(before);
  });
});
