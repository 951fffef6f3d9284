// The worker node runs real pods: the kubelet, containerd, the pod network,
// the scheduler, the workload controllers, kube-proxy and in-cluster
// configuration work as on a real cluster.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apply, eventually, kubectl, namespace, podFinished, toolsImage } from './helpers.ts';

const ns = 'e2e-node';
let removeNamespace: () => Promise<void>;

beforeAll(async () => {
  removeNamespace = await namespace(ns);
});
afterAll(async () => {
  await removeNamespace();
});

function pod(name: string, command: string, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: toolsImage(), command: ['sh', '-c', command] }],
      ...extra,
    },
  };
}

describe('the worker node', () => {
  it('is Ready, without the not-ready taint, with the kubelet version of the control plane', async () => {
    const node = JSON.parse(await kubectl(['get', 'node', inject('nodeName'), '-o', 'json'])) as {
      spec: { taints?: { key: string }[] };
      status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } };
    };
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.36.3');
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    await eventually('not-ready taint removed', 60_000, async () => {
      const taints = await kubectl([
        'get',
        'node',
        inject('nodeName'),
        '-o',
        'jsonpath={.spec.taints}',
      ]);
      return taints.includes('not-ready') ? undefined : true;
    });
  });

  it('runs a scheduled pod to completion; kubectl logs reads its output through the kubelet', async () => {
    await apply(pod('hello', 'echo hello from $(hostname)'));
    expect(await podFinished(ns, 'hello')).toBe('Succeeded');
    expect((await kubectl(['-n', ns, 'logs', 'hello'])).trim()).toBe('hello from hello');
  });

  it('execs into a running pod', async () => {
    await apply(pod('sleeper', 'sleep 3600'));
    await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/sleeper', '--timeout=90s']);
    const out = await kubectl([
      '-n',
      ns,
      'exec',
      'sleeper',
      '--',
      'sh',
      '-c',
      'echo $((6 * 7)) $(hostname)',
    ]);
    expect(out.trim()).toBe('42 sleeper');
  });

  it('gives pods the default ServiceAccount; in-cluster configuration reaches the API server', async () => {
    await eventually(
      'default ServiceAccount',
      30_000,
      async () =>
        (await kubectl(['-n', ns, 'get', 'serviceaccount', 'default', '-o', 'name'])).trim() ||
        undefined,
    );
    await apply(pod('in-cluster', 'kubectl auth whoami -o jsonpath={.status.userInfo.username}'));
    expect(await podFinished(ns, 'in-cluster')).toBe('Succeeded');
    expect((await kubectl(['-n', ns, 'logs', 'in-cluster'])).trim()).toBe(
      `system:serviceaccount:${ns}:default`,
    );
  });

  it('rolls out a Deployment of 2 replicas and serves it through a ClusterIP Service', async () => {
    await apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: ns },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'web',
                  image: toolsImage(),
                  command: [
                    'sh',
                    '-c',
                    'mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www',
                  ],
                  ports: [{ containerPort: 8080 }],
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: ns },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    );
    await kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=120s']);
    const ip = (
      await kubectl(['-n', ns, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])
    ).trim();
    const names = (
      await kubectl([
        '-n',
        ns,
        'get',
        'pods',
        '-l',
        'app=web',
        '-o',
        'jsonpath={.items[*].metadata.name}',
      ])
    ).split(' ');
    await apply(pod('client', `wget -q -O - http://${ip}/`));
    expect(await podFinished(ns, 'client')).toBe('Succeeded');
    expect(names).toContain((await kubectl(['-n', ns, 'logs', 'client'])).trim());
  });

  it('runs a Job to completion', async () => {
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: ns },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'main', image: toolsImage(), command: ['true'] }],
          },
        },
      },
    });
    await kubectl(['-n', ns, 'wait', '--for=condition=Complete', 'job/once', '--timeout=120s']);
  });

  it('aggregates the built-in view ClusterRole', async () => {
    const rules = await eventually('view has rules', 30_000, async () => {
      const text = await kubectl(['get', 'clusterrole', 'view', '-o', 'jsonpath={.rules}']);
      return text.length > 2 ? text : undefined;
    });
    expect(rules).toContain('pods');
  });
});
