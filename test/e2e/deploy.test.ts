// kube-inspector installed with `make deploy` from its own manifests (the e2e
// overlay: no cert-manager, Prometheus Operator or storage provisioner) and the
// image built from its Dockerfile, on the real node.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { issueServingCertificate } from '../../hack/control-plane/pki.ts';
import { apply, eventually, kubectl, kubectlResult, namespace } from './helpers.ts';

const ns = 'kube-inspector-system';
const repo = new URL('../..', import.meta.url).pathname;
const osvDebian = join(repo, 'src/vulndb/testdata/osv/debian');
let scratch: string;

function make(target: string, vars: Record<string, string>): Promise<string> {
  const args = [target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  return new Promise((resolve, reject) => {
    execFile('make', ['--no-print-directory', '-C', repo, ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`make ${target} failed: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

function makeVars(): Record<string, string> {
  return {
    KUBECTL: `${inject('kubectl')} --kubeconfig ${inject('kubeconfig')}`,
    DEPLOY_BASE: 'manifests/overlays/e2e',
    DEPLOY_DIR: join(scratch, 'deploy'),
    IMAGE: inject('image'),
    VULNERABILITY_DB: '/var/lib/kube-inspector-advisories',
  };
}

/** The objects the e2e overlay expects: serving certificate, findings volume, advisories. */
async function prerequisites(): Promise<string> {
  const cert = await issueServingCertificate(join(scratch, 'pki'), {
    name: 'kube-inspector-findings-api',
    namespace: ns,
  });
  const volume = join(inject('nodeWork'), 'findings-volume');
  mkdirSync(volume, { recursive: true });
  chownSync(volume, 65532, 65532);
  await kubectl(['create', 'namespace', ns]);
  await kubectl([
    '-n',
    ns,
    'create',
    'secret',
    'tls',
    'kube-inspector-findings-api-tls',
    `--cert=${cert.cert}`,
    `--key=${cert.key}`,
  ]);
  await kubectl([
    '-n',
    ns,
    'create',
    'configmap',
    'kube-inspector-vulnerability-db',
    ...readdirSync(osvDebian).map((f) => `--from-file=${join(osvDebian, f)}`),
  ]);
  await kubectl([
    '-n',
    ns,
    'create',
    'configmap',
    'kube-inspector-registry',
    `--from-literal=insecure-registry=${inject('podRegistry')}`,
    `--from-literal=insecure-registry-2=${inject('authRegistry').podRegistry}`,
  ]);
  await apply({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'kube-inspector-findings' },
    spec: {
      capacity: { storage: '5Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: { namespace: ns, name: 'kube-inspector-findings' },
      hostPath: { path: volume, type: 'Directory' },
    },
  });
  return cert.caBundle;
}

/** Scanning on for every namespace: nodes, images and workloads. */
const scanConfiguration = {
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'ScanConfiguration',
  metadata: { name: 'default' },
  spec: { activation: { scanTypes: ['Node', 'Image', 'Workload'] } },
};

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'kube-inspector-e2e-deploy-'));
  const caBundle = await prerequisites();
  const started = Date.now();
  await make('deploy', makeVars());
  await kubectl([
    'patch',
    'apiservice',
    'v1alpha1.findings.kubeinspector.io',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { caBundle } }),
  ]);
  // Only the lease holder opens the findings database and reports ready (ADR 0930): one of the
  // two replicas is Ready, the other Running.
  await eventually('the leader Ready and both controller pods Running', 240_000, async () => {
    const status = JSON.parse(
      await kubectl(['-n', ns, 'get', 'deployment', 'kube-inspector-controller', '-o', 'json']),
    ) as { status: { readyReplicas?: number; replicas?: number } };
    return status.status.readyReplicas === 1 && status.status.replicas === 2 ? true : undefined;
  });
  await kubectl([
    '-n',
    ns,
    'rollout',
    'status',
    'daemonset/kube-inspector-agent',
    '--timeout=120s',
  ]);
  await apply(scanConfiguration);
  console.error(`e2e: make deploy to every pod Ready in ${Date.now() - started} ms`);
}, 360_000);

afterAll(async () => {
  const started = Date.now();
  try {
    await make('undeploy', makeVars());
    // Nothing stuck in Terminating: the namespace and the APIService are gone when it returns.
    const left = await kubectlResult([
      'get',
      `namespace/${ns}`,
      'apiservice/v1alpha1.findings.kubeinspector.io',
    ]);
    expect(left.stderr).toMatch(/NotFound/);
    expect(left.stdout).toBe('');
    await kubectl(['delete', 'persistentvolume', 'kube-inspector-findings', '--ignore-not-found']);
    console.error(`e2e: make undeploy in ${Date.now() - started} ms`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}, 300_000);

interface PodList {
  items: {
    metadata: { name: string };
    spec: { serviceAccountName: string; nodeName: string };
    status: { phase: string };
  }[];
}

describe('make deploy', () => {
  it('runs two controller replicas with their own ServiceAccount; one holds the leader Lease', async () => {
    const pods = JSON.parse(
      await kubectl([
        '-n',
        ns,
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/component=controller',
        '-o',
        'json',
      ]),
    ) as PodList;
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec.serviceAccountName).toBe('kube-inspector-controller');
      expect(pod.status.phase).toBe('Running');
    }
    const holder = await eventually('leader elected', 60_000, async () => {
      const h = await kubectl([
        '-n',
        ns,
        'get',
        'lease',
        'kube-inspector-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      return h.trim() || undefined;
    });
    expect(pods.items.map((p) => p.metadata.name).some((n) => holder.startsWith(n))).toBe(true);
  });

  it("the agent's NodeInventory of this node lists exactly the packages dpkg-query lists", async () => {
    const node = inject('nodeName');
    const reference = execFileSync(
      'dpkg-query',
      ['-W', '-f', '${db:Status-Status} ${Package} ${Version}\\n'],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((l) => l.startsWith('installed '))
      .map((l) => l.slice('installed '.length))
      .sort();
    const inventory = await eventually('NodeInventory written', 300_000, async () => {
      const r = await kubectlResult(['get', 'nodeinventories', node, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const inv = JSON.parse(r.stdout) as {
        status?: {
          packages?: { name: string; version: string; ecosystem: string }[];
          os?: { id?: string };
        };
      };
      return inv.status?.packages ? inv.status : undefined;
    });
    expect(inventory.os?.id).toBe('debian');
    // Language packages found under /usr are listed too; the Debian ones are dpkg's.
    const debian = inventory.packages!.filter((p) => p.ecosystem.startsWith('Debian:'));
    expect(debian.map((p) => `${p.name} ${p.version}`).sort()).toEqual(reference);
  });

  it('serves findings for the node and for the images real pods run (kubectl get findings)', async () => {
    const node = inject('nodeName');
    const image = inject('image').replace(/:e2e$/, '');
    // CVE-2011-3374 (apt, every Debian 12 version) is in the node's packages and in the image's.
    const findings = await eventually('findings for the node and the image', 240_000, async () => {
      const r = await kubectlResult(['get', 'findings', '-A', '-o', 'json']);
      if (r.code !== 0) return undefined;
      const items = (JSON.parse(r.stdout) as { items: object[] }).items.map((f) =>
        JSON.stringify(f),
      );
      const apt = items.filter((f) => f.includes('CVE-2011-3374'));
      const forNode = apt.filter((f) => f.includes(`"${node}"`));
      const forImage = apt.filter((f) => f.includes(image));
      return forNode.length > 0 && forImage.length > 0 ? { forNode, forImage } : undefined;
    });
    expect(findings.forNode.length).toBeGreaterThan(0);
    expect(findings.forImage.length).toBeGreaterThan(0);
  });
});

describe('a registry with basic auth', () => {
  const app = 'e2e-pull';
  let removeNamespace: () => Promise<void>;

  beforeAll(async () => {
    const auth = inject('authRegistry');
    for (const repo of ['with-secret']) {
      execFileSync('skopeo', [
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `--dest-creds=${auth.username}:${auth.password}`,
        `docker://${inject('registry')}/tools:1`,
        `docker://${auth.registry}/e2e/${repo}:1`,
      ]);
    }
    removeNamespace = await namespace(app);
    await kubectl([
      '-n',
      app,
      'create',
      'secret',
      'docker-registry',
      'registry-credentials',
      `--docker-server=${auth.podRegistry}`,
      `--docker-username=${auth.username}`,
      `--docker-password=${auth.password}`,
    ]);
  });
  afterAll(async () => {
    await removeNamespace();
  });

  function deployment(name: string, pullSecret: boolean): object {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: app },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 1,
            ...(pullSecret ? { imagePullSecrets: [{ name: 'registry-credentials' }] } : {}),
            containers: [
              {
                name: 'main',
                image: `${inject('authRegistry').podRegistry}/e2e/${name}:1`,
                command: ['sleep', '3600'],
              },
            ],
          },
        },
      },
    };
  }

  it('scans the image of a workload with the imagePullSecret its pods pull with', async () => {
    await apply(deployment('with-secret', true));
    // The kubelet pulls with the secret: the pod runs.
    await kubectl(['-n', app, 'rollout', 'status', 'deployment/with-secret', '--timeout=120s']);
    const reasons = await eventually('image and workload scanned', 150_000, async () => {
      const list = JSON.parse(await kubectl(['get', 'coveredresources', '-o', 'json'])) as {
        items: { status?: { resourceId?: string; scanStatus?: { reason?: string } } }[];
      };
      const reason = (match: (id: string) => boolean): string | undefined =>
        list.items.find((c) => match(c.status?.resourceId ?? ''))?.status?.scanStatus?.reason;
      const image = reason((id) => id.includes('/e2e/with-secret@'));
      const workload = reason((id) => id === `${app}/Deployment/with-secret`);
      const done = (r: string | undefined): boolean =>
        r !== undefined && r !== 'PENDING_INITIAL_SCAN';
      return done(image) && done(workload) ? { image, workload } : undefined;
    });
    expect(reasons).toEqual({ image: 'SUCCESSFUL', workload: 'SUCCESSFUL' });
  });
});

describe('operations', () => {
  it("serves the leader's /metrics through the metrics Service (kube-proxy)", async () => {
    const ip = (
      await kubectl([
        '-n',
        ns,
        'get',
        'service',
        'kube-inspector-controller-metrics',
        '-o',
        'jsonpath={.spec.clusterIP}',
      ])
    ).trim();
    const body = await eventually('a scrape through the Service', 60_000, async () => {
      const res = await fetch(`http://${ip}:8080/metrics`, { signal: AbortSignal.timeout(5000) });
      return res.ok ? res.text() : undefined;
    });
    expect(body).toMatch(/^kubeinspector_vulndb_loaded(\{[^}]*\})? 1$/m);
  });

  it('deleting the leader pod fails over to the other replica', async () => {
    const lease = (): Promise<string> =>
      kubectl([
        '-n',
        ns,
        'get',
        'lease',
        'kube-inspector-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]).then((h) => h.trim());
    const before = await lease();
    const leaderPod = before.split('_')[0]!;
    const started = Date.now();
    await kubectl(['-n', ns, 'delete', 'pod', leaderPod, '--wait=false']);
    const after = await eventually('a new leader', 120_000, async () => {
      const h = await lease();
      return h !== '' && h !== before && !h.startsWith(leaderPod) ? h : undefined;
    });
    const acquiredMs = Date.now() - started;
    await eventually('the new leader Ready', 120_000, async () => {
      const pod = after.split('_')[0]!;
      const ready = await kubectl([
        '-n',
        ns,
        'get',
        'pod',
        pod,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return ready === 'True' ? true : undefined;
    });
    console.error(
      `e2e: failover: lease taken over ${acquiredMs} ms after the leader pod was deleted, ` +
        `new leader Ready after ${Date.now() - started} ms`,
    );
    expect(after.startsWith(leaderPod)).toBe(false);
  });
});

describe('the image built from the Dockerfile', () => {
  it('runs as the non-root user 65532 with the CRDs inside', async () => {
    const pod = (
      await kubectl([
        '-n',
        ns,
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/component=agent',
        '-o',
        'jsonpath={.items[0].metadata.name}',
      ])
    ).trim();
    const out = await kubectl([
      '-n',
      ns,
      'exec',
      pod,
      '--',
      'node',
      '-e',
      'console.log(process.getuid(), require("fs").readdirSync("/app/crds").length > 0)',
    ]);
    expect(out.trim()).toBe('65532 true');
  });
});
