// The findings API's own deletion policy, through kube-apiserver (admission policies do not run
// for aggregated resources, so the server enforces it): people (even cluster admins) are refused
// DELETE of a Finding with a message that says why; the controller's service account may delete;
// the real garbage collector deletes the findings of a deleted owner, and the namespace controller
// empties a namespace being deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredFinding } from '../../src/findings-store/store.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const CONTROLLER_SA = 'system:serviceaccount:kube-inspector-system:kube-inspector-controller';

describe('the Finding deletion policy', () => {
  let env: ProductEnvironment;
  let controller: RunningController;

  const finding = (
    namespace: string,
    name: string,
    owner?: { name: string; uid: string },
  ): StoredFinding => ({
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace,
      ...(owner !== undefined
        ? {
            ownerReferences: [
              { apiVersion: 'v1', kind: 'ConfigMap', name: owner.name, uid: owner.uid },
            ],
          }
        : {}),
    },
    spec: { attributes: { owner: 'team-a' } },
  });
  /** Writes a finding the way the controller does: into its store. */
  const create = async (f: StoredFinding): Promise<void> => {
    await controller.store.create(f);
  };
  const exists = async (namespace: string, name: string): Promise<boolean> =>
    (
      await env.kubectl('get', 'finding', name, '-n', namespace, '--ignore-not-found', '-o', 'name')
    ).trim() !== '';
  const deleteAs = async (user: string | undefined, namespace: string, name: string) => {
    try {
      await env.kubectl(
        ...(user !== undefined ? [`--as=${user}`] : []),
        'delete',
        'finding',
        name,
        '-n',
        namespace,
        '--wait=false',
      );
      return { ok: true, stderr: '' };
    } catch (err) {
      return { ok: false, stderr: String((err as { stderr?: string }).stderr ?? err) };
    }
  };

  beforeAll(async () => {
    env = await startProductEnvironment();
    controller = await startController(env, { setups: [] });
    // Jane and the controller's service account may delete findings as far as RBAC goes.
    await env.apply(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'finding-editor' },
        rules: [
          {
            apiGroups: ['findings.kubeinspector.io'],
            resources: ['findings'],
            verbs: ['get', 'list', 'watch', 'patch', 'delete'],
          },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'finding-editor' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'finding-editor',
        },
        subjects: [
          { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'jane' },
          {
            kind: 'ServiceAccount',
            name: 'kube-inspector-controller',
            namespace: 'kube-inspector-system',
          },
        ],
      },
    );
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it('refuses a person, even a cluster admin, with a message that says why', async () => {
    await create(finding(env.adminNamespace, 'cve-2024-6387-openssh-1'));
    // RBAC allows jane to delete: the refusal is the findings API's own.
    expect(
      (
        await env.kubectl(
          'auth',
          'can-i',
          'delete',
          'findings.findings.kubeinspector.io',
          '-n',
          env.adminNamespace,
          '--as=jane',
        )
      ).trim(),
    ).toBe('yes');
    const refused = await deleteAs('jane', env.adminNamespace, 'cve-2024-6387-openssh-1');
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toContain(
      'findings.findings.kubeinspector.io "cve-2024-6387-openssh-1" is forbidden: User "jane" cannot delete findings',
    );
    expect(refused.stderr).toMatch(
      /leaves with its AssessmentRun, by retention once it is CLOSED, or with its namespace/,
    );
    const admin = await deleteAs(undefined, env.adminNamespace, 'cve-2024-6387-openssh-1');
    expect(admin.ok).toBe(false);
    expect(admin.stderr).toMatch(/User "kube-inspector-admin" cannot delete findings/);
    expect(await exists(env.adminNamespace, 'cve-2024-6387-openssh-1')).toBe(true);
    // Editing attributes is not refused: the policy is about deletion only.
    await env.kubectl(
      '--as=jane',
      'patch',
      'finding',
      'cve-2024-6387-openssh-1',
      '-n',
      env.adminNamespace,
      '--type=merge',
      '-p',
      '{"spec":{"attributes":{"reviewed":"yes"}}}',
    );
  });

  it("lets the controller's service account delete", async () => {
    await create(finding(env.adminNamespace, 'cve-2023-4911-glibc-1'));
    expect((await deleteAs('jane', env.adminNamespace, 'cve-2023-4911-glibc-1')).ok).toBe(false);
    const r = await deleteAs(CONTROLLER_SA, env.adminNamespace, 'cve-2023-4911-glibc-1');
    expect(r).toEqual({ ok: true, stderr: '' });
    await eventually('deleted', async () =>
      (await exists(env.adminNamespace, 'cve-2023-4911-glibc-1')) ? undefined : true,
    );
  });

  it('lets the garbage collector delete the findings of a deleted owner', async () => {
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-runs' } });
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'run-stand-in', namespace: 'team-runs' },
      data: {},
    });
    const uid = (
      await env.kubectl(
        'get',
        'configmap',
        'run-stand-in',
        '-n',
        'team-runs',
        '-o',
        'jsonpath={.metadata.uid}',
      )
    ).trim();
    await create(finding('team-runs', 'cve-2023-5363-openssl-1', { name: 'run-stand-in', uid }));
    expect((await deleteAs('jane', 'team-runs', 'cve-2023-5363-openssl-1')).ok).toBe(false);
    await env.kubectl('delete', 'configmap', 'run-stand-in', '-n', 'team-runs');
    await eventually('the garbage collector deleted the finding', async () =>
      (await exists('team-runs', 'cve-2023-5363-openssl-1')) ? undefined : true,
    );
  });

  it('lets the namespace controller empty a namespace being deleted', async () => {
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-gone' } });
    await create(finding('team-gone', 'cve-2011-3374-apt-1'));
    expect((await deleteAs('jane', 'team-gone', 'cve-2011-3374-apt-1')).ok).toBe(false);
    await env.kubectl('delete', 'namespace', 'team-gone', '--wait=false');
    await eventually(
      'the namespace deleted with its finding',
      async () =>
        (
          await env.kubectl('get', 'namespace', 'team-gone', '--ignore-not-found', '-o', 'name')
        ).trim() === ''
          ? true
          : undefined,
      90_000,
    );
    expect(await controller.store.get('team-gone', 'cve-2011-3374-apt-1')).toBeUndefined();
  });
});
