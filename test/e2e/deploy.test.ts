// kube-inspector installed with `make deploy` from its own manifests (the e2e
// overlay: no cert-manager, Prometheus Operator or storage provisioner) and the
// image built from its Dockerfile, on the real node.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { issueServingCertificate } from '../../hack/control-plane/pki.ts';
import { apply, eventually, kubectl, kubectlResult, namespace, nodeControl } from './helpers.ts';

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
  // Every replica is Ready, the standby too (ADR 0710): the Deployment shows 2/2 and its
  // rollout completes, as a user following the README sees it.
  await eventually('both controller replicas Ready', 240_000, async () => {
    const status = JSON.parse(
      await kubectl(['-n', ns, 'get', 'deployment', 'kube-inspector-controller', '-o', 'json']),
    ) as { status: { readyReplicas?: number; replicas?: number } };
    return status.status.readyReplicas === 2 && status.status.replicas === 2 ? true : undefined;
  });
  await kubectl([
    '-n',
    ns,
    'rollout',
    'status',
    'deployment/kube-inspector-controller',
    '--timeout=120s',
  ]);
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

interface CoverageStatus {
  resourceId?: string;
  resourceType?: string;
  lastScannedAt?: string;
  scanStatus?: { statusCode?: string; reason?: string; message?: string };
}

/** The first CoveredResource whose resourceId matches: its name and status. */
async function coveredResource(
  match: (id: string) => boolean,
): Promise<{ name: string; status: CoverageStatus } | undefined> {
  const list = JSON.parse(await kubectl(['get', 'coveredresources', '-o', 'json'])) as {
    items: { metadata: { name: string }; status?: CoverageStatus }[];
  };
  const found = list.items.find((c) => match(c.status?.resourceId ?? ''));
  return found && { name: found.metadata.name, status: found.status ?? {} };
}

/** The status of the first CoveredResource whose resourceId matches. */
async function coverageOf(match: (id: string) => boolean): Promise<CoverageStatus | undefined> {
  return (await coveredResource(match))?.status;
}

/** The vulnerability ids of a CoveredResource's ACTIVE continuous findings. */
async function activeFindingsOf(coveredResourceName: string): Promise<string[]> {
  const list = JSON.parse(
    await kubectl([
      '-n',
      ns,
      'get',
      'findings',
      '-l',
      `kubeinspector.io/covered-resource=${coveredResourceName},kubeinspector.io/status=ACTIVE`,
      '-o',
      'json',
    ]),
  ) as { items: { metadata: { labels?: Record<string, string> } }[] };
  return list.items.map((f) => f.metadata.labels?.['kubeinspector.io/vulnerability-id'] ?? '');
}

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

  it('shows 2/2 Ready and Available; the findings API Service reaches the leader alone', async () => {
    const d = JSON.parse(
      await kubectl(['-n', ns, 'get', 'deployment', 'kube-inspector-controller', '-o', 'json']),
    ) as {
      status: {
        readyReplicas?: number;
        availableReplicas?: number;
        conditions: { type: string; status: string }[];
      };
    };
    expect(d.status.readyReplicas).toBe(2);
    expect(d.status.availableReplicas).toBe(2);
    expect(d.status.conditions.find((c) => c.type === 'Available')?.status).toBe('True');
    const leaderPod = (await leaseHolder()).split('_')[0]!;
    const endpoints = await eventually(
      'the findings Service to hold the leader',
      60_000,
      async () => {
        const e = await findingsEndpoints();
        return e.length === 1 && e[0] === leaderPod ? e : undefined;
      },
    );
    expect(endpoints).toEqual([leaderPod]);
    expect(await servingLabelled()).toEqual([leaderPod]);
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
    for (const repo of ['with-secret', 'without-secret']) {
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

  it('a workload without the imagePullSecret cannot pull its image and is ACCESS_DENIED', async () => {
    await apply(deployment('without-secret', false));
    // The kubelet is refused too: the pod never starts, so no pod reports a digest.
    await eventually('the kubelet refused the pull', 120_000, async () => {
      const waiting = await kubectl([
        '-n',
        app,
        'get',
        'pods',
        '-l',
        'app=without-secret',
        '-o',
        'jsonpath={.items[*].status.containerStatuses[*].state.waiting.reason}',
      ]);
      return /ErrImagePull|ImagePullBackOff/.test(waiting) ? true : undefined;
    });
    const status = await eventually('the workload ACCESS_DENIED', 150_000, async () => {
      const s = await coverageOf((id) => id === `${app}/Deployment/without-secret`);
      return s?.scanStatus?.reason === 'ACCESS_DENIED' ? s : undefined;
    });
    expect(status.scanStatus?.statusCode).toBe('INACTIVE');
    expect(status.scanStatus?.message).toContain(`/e2e/without-secret:1: `);
  });
});

describe('image attribution', () => {
  const mirrorNs = 'e2e-mirror';
  let removeNamespace: () => Promise<void>;
  beforeAll(async () => {
    removeNamespace = await namespace(mirrorNs);
  });
  afterAll(async () => {
    await removeNamespace();
  });

  it("an image is the repository the pod names, whichever repository the kubelet's imageID names", async () => {
    // The same manifest under another name: the runtime holds one image with both names and
    // reports the repository digest it knew first (tools, pulled by earlier pods).
    const digestOf = (name: string) =>
      (
        JSON.parse(
          execFileSync('skopeo', [
            'inspect',
            '--tls-verify=false',
            `docker://${inject('registry')}/${name}`,
          ]).toString(),
        ) as { Digest: string }
      ).Digest;
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${inject('registry')}/tools:1`,
      `docker://${inject('registry')}/x-mirror/tools:1`,
    ]);
    const digest = digestOf('tools:1');
    expect(digestOf('x-mirror/tools:1')).toBe(digest);
    const repository = `${inject('podRegistry')}/x-mirror/tools`;
    for (const name of ['first', 'second']) {
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: mirrorNs },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: name === 'first' ? `${inject('podRegistry')}/tools:1` : `${repository}:1`,
              command: ['sleep', '3600'],
            },
          ],
        },
      });
      await kubectl([
        '-n',
        mirrorNs,
        'wait',
        '--for=condition=Ready',
        `pod/${name}`,
        '--timeout=120s',
      ]);
    }
    const imageId = (
      await kubectl([
        '-n',
        mirrorNs,
        'get',
        'pod',
        'second',
        '-o',
        'jsonpath={.status.containerStatuses[0].imageID}',
      ])
    ).trim();
    expect(imageId.endsWith(`@${digest}`)).toBe(true);
    // The case this is about: the kubelet names another repository.
    expect(imageId.startsWith(`${repository}@`)).toBe(false);
    const covered = await eventually('the image under the repository the pod names', 120_000, () =>
      coverageOf((id) => id === `${repository}@${digest}`),
    );
    expect(covered.resourceType).toBe('CONTAINER_IMAGE');
    console.error(
      `e2e: pod of ${repository}:1 reported imageID ${imageId}; covered as ${repository}@${digest}`,
    );
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
    const outage = await findingsOutageDuring(async () => {
      const started = Date.now();
      await kubectl(['-n', ns, 'delete', 'pod', leaderPod, '--wait=false']);
      const after = await eventually('a new leader', 120_000, async () => {
        const h = await lease();
        return h !== '' && h !== before && !h.startsWith(leaderPod) ? h : undefined;
      });
      const acquiredMs = Date.now() - started;
      const newPod = after.split('_')[0]!;
      // The new leader labels its pod once its store is open: the Service follows the label.
      await eventually('the findings Service to hold the new leader alone', 120_000, async () => {
        const e = await findingsEndpoints();
        return e.length === 1 && e[0] === newPod ? true : undefined;
      });
      return { after, acquiredMs, endpointsMs: Date.now() - started };
    });
    const newPod = outage.value.after.split('_')[0]!;
    expect(await servingLabelled()).toEqual([newPod]);
    console.error(
      `e2e: failover: lease taken over ${outage.value.acquiredMs} ms after the leader pod was ` +
        `deleted, the findings Service's endpoint moved to it after ${outage.value.endpointsMs} ms; ` +
        `findings API unanswered for ${outage.gapMs} ms (${outage.failures} failed lists)`,
    );
    expect(outage.value.after.startsWith(leaderPod)).toBe(false);
    // The replacement of the deleted pod is Ready as a standby: 2/2 again.
    await controllerReady();
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

describe('an assessment run', () => {
  const runNs = 'e2e-assess';
  let removeNamespace: () => Promise<void>;
  beforeAll(async () => {
    removeNamespace = await namespace(runNs);
  });
  afterAll(async () => {
    await removeNamespace();
  });

  const runStatus = async (): Promise<{
    state?: string;
    collected?: {
      workloads?: { namespace: string; kind: string; name: string }[];
      images?: { reference: string; digest?: string }[];
    };
  }> =>
    (
      JSON.parse(await kubectl(['-n', runNs, 'get', 'assessmentrun', 'batch-1', '-o', 'json'])) as {
        status?: object;
      }
    ).status ?? {};

  it("collects a Job's pod that starts and ends during its window", async () => {
    await apply(
      {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'AssessmentTarget',
        metadata: { name: 'batch', namespace: runNs },
        spec: {
          resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'],
          selectors: [{ matchLabels: { tier: 'batch' } }],
        },
      },
      {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'AssessmentTemplate',
        metadata: { name: 'batch-cve', namespace: runNs },
        spec: { targetRef: { name: 'batch' }, rulesPackages: ['cve'], durationSeconds: 180 },
      },
      {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'AssessmentRun',
        metadata: { name: 'batch-1', namespace: runNs },
        spec: { templateRef: { name: 'batch-cve' } },
      },
    );
    await eventually('the run collecting', 60_000, async () =>
      (await runStatus()).state === 'COLLECTING_DATA' ? true : undefined,
    );
    const image = `${inject('podRegistry')}/tools:1`;
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'nightly', namespace: runNs, labels: { tier: 'batch' } },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: { tier: 'batch' } },
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 1,
            containers: [{ name: 'main', image, command: ['sh', '-c', 'sleep 2'] }],
          },
        },
      },
    });
    await kubectl([
      '-n',
      runNs,
      'wait',
      '--for=condition=Complete',
      'job/nightly',
      '--timeout=120s',
    ]);
    // Gone before the window ends: only what the run saw while it ran can name it.
    await kubectl(['-n', runNs, 'delete', 'job', 'nightly', '--cascade=foreground', '--wait=true']);
    await kubectl([
      '-n',
      runNs,
      'patch',
      'assessmentrun',
      'batch-1',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { stop: { action: 'START_EVALUATION' } } }),
    ]);
    const done = await eventually('the run finished', 150_000, async () => {
      const st = await runStatus();
      return st.state === 'COMPLETED' || st.state === 'COMPLETED_WITH_ERRORS' ? st : undefined;
    });
    expect(done.collected?.workloads).toContainEqual({
      namespace: runNs,
      kind: 'Job',
      name: 'nightly',
    });
    const collected = done.collected?.images?.find((i) => i.reference === image);
    expect(collected?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

/** Every finding by namespace/name, with its attributes. */
async function findingAttributes(): Promise<Map<string, Record<string, string>>> {
  const list = JSON.parse(await kubectl(['get', 'findings', '-A', '-o', 'json'])) as {
    items: {
      metadata: { namespace: string; name: string };
      spec?: { attributes?: Record<string, string> };
    }[];
  };
  return new Map(
    list.items.map((f) => [`${f.metadata.namespace}/${f.metadata.name}`, f.spec?.attributes ?? {}]),
  );
}

const controllerReady = (image?: string) =>
  eventually('both controller replicas Ready', 240_000, async () => {
    const d = JSON.parse(
      await kubectl(['-n', ns, 'get', 'deployment', 'kube-inspector-controller', '-o', 'json']),
    ) as {
      spec: { template: { spec: { containers: { image: string }[] } } };
      status: { readyReplicas?: number; replicas?: number; updatedReplicas?: number };
    };
    const s = d.status;
    const imageOk = image === undefined || d.spec.template.spec.containers[0]?.image === image;
    return imageOk && s.readyReplicas === 2 && s.replicas === 2 && s.updatedReplicas === 2
      ? true
      : undefined;
  });

/** The pods behind the findings API Service: its EndpointSlices' ready endpoints. */
async function findingsEndpoints(): Promise<string[]> {
  const slices = JSON.parse(
    await kubectl([
      '-n',
      ns,
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=kube-inspector-findings-api',
      '-o',
      'json',
    ]),
  ) as {
    items: {
      endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[] | null;
    }[];
  };
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false)
    .map((e) => e.targetRef?.name ?? '')
    .sort();
}

/** The controller pods labelled as serving the findings store. */
async function servingLabelled(): Promise<string[]> {
  const names = await kubectl([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    'kubeinspector.io/findings-api=serving',
    '-o',
    'jsonpath={.items[*].metadata.name}',
  ]);
  return names.trim().split(' ').filter(Boolean).sort();
}

const leaseHolder = (): Promise<string> =>
  kubectl([
    '-n',
    ns,
    'get',
    'lease',
    'kube-inspector-controller',
    '-o',
    'jsonpath={.spec.holderIdentity}',
  ]).then((h) => h.trim());

/**
 * Lists findings through the aggregated API every 250 ms while `during` runs and until one
 * answers after it: how long the API did not answer (from the last answer before a failure to
 * the first answer after it, summed), and how many lists failed.
 */
async function findingsOutageDuring<T>(
  during: () => Promise<T>,
): Promise<{ value: T; gapMs: number; failures: number }> {
  const list = async (): Promise<boolean> =>
    (
      await kubectlResult([
        'get',
        '--raw',
        `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${ns}/findings?limit=1`,
        '--request-timeout=5s',
      ])
    ).code === 0;
  const phase: { now: 'running' | 'finishing' | 'abandoned' } = { now: 'running' };
  let lastOk = Date.now();
  let gapStart: number | undefined;
  let gapMs = 0;
  let failures = 0;
  const poll = (async () => {
    for (;;) {
      const ok = await list();
      const now = Date.now();
      if (ok) {
        if (gapStart !== undefined) gapMs += now - gapStart;
        gapStart = undefined;
        lastOk = now;
        if (phase.now !== 'running') return;
      } else {
        failures++;
        gapStart ??= lastOk;
        if (phase.now === 'abandoned') return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const value = await during();
    phase.now = 'finishing';
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      poll,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('the findings API did not answer again')),
          120_000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { value, gapMs, failures };
  } finally {
    phase.now = 'abandoned';
    await poll;
  }
}

describe('disruptions and upgrades', () => {
  it('the PodDisruptionBudget lets the leader be evicted: the standby takes over and the findings API answers again', async () => {
    const pdb = JSON.parse(
      await kubectl(['-n', ns, 'get', 'pdb', 'kube-inspector-controller', '-o', 'json']),
    ) as { status: { currentHealthy: number; expectedPods: number; disruptionsAllowed: number } };
    // Both replicas are Ready; the budget allows a disruption.
    expect(pdb.status).toMatchObject({ currentHealthy: 2, expectedPods: 2 });
    expect(pdb.status.disruptionsAllowed).toBeGreaterThan(0);
    const before = await leaseHolder();
    const leaderPod = before.split('_')[0]!;
    const outage = await findingsOutageDuring(async () => {
      const started = Date.now();
      // What `kubectl drain` does for each pod: an Eviction, which the budget may refuse (429).
      await kubectl(
        ['create', '--raw', `/api/v1/namespaces/${ns}/pods/${leaderPod}/eviction`, '-f', '-'],
        JSON.stringify({
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: leaderPod, namespace: ns },
        }),
      );
      const after = await eventually('a new leader', 120_000, async () => {
        const h = await leaseHolder();
        return h !== '' && !h.startsWith(leaderPod) ? h : undefined;
      });
      return { after, leaseMs: Date.now() - started };
    });
    console.error(
      `e2e: leader evicted: lease taken over ${outage.value.leaseMs} ms after the eviction; ` +
        `findings API unanswered for ${outage.gapMs} ms (${outage.failures} failed lists)`,
    );
    expect(outage.value.after.startsWith(leaderPod)).toBe(false);
    await kubectl(['-n', ns, 'wait', '--for=delete', `pod/${leaderPod}`, '--timeout=120s']);
    await controllerReady();
    const newPod = outage.value.after.split('_')[0]!;
    await eventually('the findings Service to hold the new leader alone', 60_000, async () => {
      const e = await findingsEndpoints();
      return e.length === 1 && e[0] === newPod ? true : undefined;
    });
  });

  it('draining the node of both controller replicas does not hang; they come back when it is uncordoned', async () => {
    const node = inject('nodeName');
    let cordoned = false;
    try {
      const outage = await findingsOutageDuring(async () => {
        const started = Date.now();
        cordoned = true;
        // Only the controller's pods (the node is the cluster's only one: everything else stays).
        const drain = await kubectlResult([
          'drain',
          node,
          '--pod-selector=app.kubernetes.io/component=controller',
          '--ignore-daemonsets',
          '--delete-emptydir-data',
          '--timeout=120s',
        ]);
        expect(drain.stderr).not.toMatch(/disruption budget|Cannot evict/);
        expect(drain.code).toBe(0);
        const drainedMs = Date.now() - started;
        // The replacements wait for a schedulable node.
        await kubectl(['uncordon', node]);
        cordoned = false;
        const uncordoned = Date.now();
        await controllerReady();
        return { drainedMs, readyMs: Date.now() - uncordoned };
      });
      console.error(
        `e2e: node drained of both controller replicas in ${outage.value.drainedMs} ms; ` +
          `leader Ready ${outage.value.readyMs} ms after uncordon; findings API unanswered for ` +
          `${outage.gapMs} ms (${outage.failures} failed lists)`,
      );
    } finally {
      if (cordoned) await kubectl(['uncordon', node]);
    }
  });

  it('probes: both replicas Ready, the standby too, neither restarted', async () => {
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
    ) as {
      items: {
        metadata: { name: string };
        status: {
          phase: string;
          containerStatuses: { ready: boolean; restartCount: number; started?: boolean }[];
        };
      }[];
    };
    const states = pods.items
      .map((p) => `${p.status.phase} ready=${p.status.containerStatuses[0]!.ready}`)
      .sort();
    expect(states).toEqual(['Running ready=true', 'Running ready=true']);
    for (const p of pods.items) {
      expect(p.status.containerStatuses[0]!.started).toBe(true);
      expect(p.status.containerStatuses[0]!.restartCount).toBe(0);
      // What the kubelet's probes read: /healthz for liveness, /readyz for readiness.
      const codes = await kubectl([
        '-n',
        ns,
        'exec',
        p.metadata.name,
        '--',
        'node',
        '-e',
        "Promise.all(['/healthz', '/readyz'].map((u) => fetch('http://127.0.0.1:8081' + u).then((r) => r.status))).then((s) => console.log(s.join(' ')))",
      ]);
      const ready = p.status.containerStatuses[0]!.ready;
      const [healthz, readyz] = codes.trim().split(' ');
      expect(healthz).toBe('200');
      expect(readyz === '200').toBe(ready);
    }
  });

  it('an upgrade to a new image tag keeps every finding and its attributes', async () => {
    // Attributes a person set on a few findings.
    const before = await findingAttributes();
    expect(before.size).toBeGreaterThan(0);
    const marked = [...before.keys()].slice(0, 3);
    for (const key of marked) {
      const [fns, name] = key.split('/') as [string, string];
      await kubectl([
        '-n',
        fns,
        'patch',
        'finding',
        name,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { attributes: { ticket: `SEC-${name.slice(0, 8)}` } } }),
      ]);
    }
    const expected = await findingAttributes();
    for (const key of marked)
      expect(expected.get(key)?.ticket).toBe(`SEC-${key.split('/')[1]!.slice(0, 8)}`);

    // The same build under a new tag, as a release would publish it.
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${inject('registry')}/kube-inspector:e2e`,
      `docker://${inject('registry')}/kube-inspector:e2e-2`,
    ]);
    const next = inject('image').replace(/:e2e$/, ':e2e-2');
    const started = Date.now();
    await kubectl([
      '-n',
      ns,
      'set',
      'image',
      'deployment/kube-inspector-controller',
      `controller=${next}`,
    ]);
    await kubectl(['-n', ns, 'set', 'image', 'daemonset/kube-inspector-agent', `agent=${next}`]);
    await controllerReady(next);
    await kubectl([
      '-n',
      ns,
      'rollout',
      'status',
      'daemonset/kube-inspector-agent',
      '--timeout=120s',
    ]);
    console.error(
      `e2e: upgrade to a new tag: leader Ready ${Date.now() - started} ms after set image`,
    );
    const images = await kubectl([
      '-n',
      ns,
      'get',
      'pods',
      '-o',
      'jsonpath={.items[*].spec.containers[0].image}',
    ]);
    expect(new Set(images.trim().split(' '))).toEqual(new Set([next]));
    // Served by the new leader: every finding is still there with the attributes it had.
    const after = await eventually('the findings API served by the new leader', 60_000, () =>
      findingAttributes(),
    );
    for (const [key, attributes] of expected) expect(after.get(key), key).toEqual(attributes);
  });
});

/** Records every reason the node's CoveredResource shows while `during` runs (polled each second). */
async function nodeReasonsDuring<T>(
  during: () => Promise<T>,
): Promise<{ value: T; reasons: string[] }> {
  const node = inject('nodeName');
  const reasons: string[] = [];
  let stop = false;
  const poll = (async () => {
    while (!stop) {
      const r = (await coverageOf((id) => id === node).catch(() => undefined))?.scanStatus?.reason;
      if (r !== undefined && reasons.at(-1) !== r) reasons.push(r);
      await new Promise((res) => setTimeout(res, 1000));
    }
  })();
  try {
    return { value: await during(), reasons };
  } finally {
    stop = true;
    await poll;
  }
}

interface PodState {
  uid: string;
  restarts: number;
}

/** The pods of the administrator namespace by name: uid and restart count. */
async function systemPods(): Promise<Map<string, PodState>> {
  const list = JSON.parse(await kubectl(['-n', ns, 'get', 'pods', '-o', 'json'])) as {
    items: {
      metadata: { name: string; uid: string };
      status: { containerStatuses?: { restartCount: number }[] };
    }[];
  };
  return new Map(
    list.items.map((p) => [
      p.metadata.name,
      {
        uid: p.metadata.uid,
        restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
      },
    ]),
  );
}

async function nodeReady(): Promise<{ ready: string; heartbeat: number }> {
  const out = await kubectl([
    'get',
    'node',
    inject('nodeName'),
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}',
  ]);
  const [ready = '', heartbeat = ''] = out.trim().split(' ');
  return { ready, heartbeat: Date.parse(heartbeat) };
}

async function inventoryPackages(): Promise<number> {
  const out = await kubectl([
    'get',
    'nodeinventories',
    inject('nodeName'),
    '-o',
    'jsonpath={.status.packages[*].name}',
  ]);
  return out.trim().split(' ').filter(Boolean).length;
}

/**
 * Copies an image of the loopback registry to another name, converting its manifest between
 * the OCI and the Docker formats: the same layers under a digest no pod has run.
 */
function copyInOtherFormat(from: string, to: string): void {
  const inspect = (name: string) =>
    execFileSync('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${inject('registry')}/${name}`,
    ]).toString();
  const source = inspect(from);
  // An OCI manifest may leave out its own mediaType; its config's names the format.
  const format = source.includes('application/vnd.oci.') ? 'v2s2' : 'oci';
  execFileSync('skopeo', [
    'copy',
    '--quiet',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `--format=${format}`,
    `docker://${inject('registry')}/${from}`,
    `docker://${inject('registry')}/${to}`,
  ]);
  expect(inspect(to)).not.toBe(source);
}

/** Copies an image of the loopback registry to another name with a label added to its config. */
function copyWithNewConfig(from: string, to: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kube-inspector-e2e-image-'));
  try {
    const layout = `${join(dir, 'layout')}:image`;
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      `docker://${inject('registry')}/${from}`,
      `oci:${layout}`,
    ]);
    execFileSync('umoci', [
      'config',
      '--image',
      layout,
      `--config.label=io.kubeinspector.e2e.copy=${to}@${Date.now()}`,
    ]);
    execFileSync('skopeo', [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}`,
      `docker://${inject('registry')}/${to}`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('faults on the node', () => {
  const faultNs = 'e2e-faults';
  let removeNamespace: () => Promise<void>;
  let findingsBefore: Set<string>;
  let packagesBefore: number;
  beforeAll(async () => {
    removeNamespace = await namespace(faultNs);
    findingsBefore = new Set((await findingAttributes()).keys());
    packagesBefore = await inventoryPackages();
  });
  afterAll(async () => {
    await removeNamespace();
  });

  it('a registry that hangs during a scan: the scan waits it out and the image ends SUCCESSFUL', async () => {
    // A digest no pod ran yet: the controller's image in the other manifest format.
    copyInOtherFormat('kube-inspector:e2e', 'e2e/outage:1');
    // Packets from pods to the registry are dropped (the kubelet pulls from the host, unaffected).
    const rule = [
      'INPUT',
      '-i',
      inject('bridge'),
      '-p',
      'tcp',
      '--dport',
      String(inject('registryPort')),
      '-j',
      'DROP',
    ];
    execFileSync('iptables', ['-I', ...rule]);
    let blocked = true;
    try {
      await apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'outage', namespace: faultNs },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'outage' } },
          template: {
            metadata: { labels: { app: 'outage' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'main',
                  image: `${inject('podRegistry')}/e2e/outage:1`,
                  command: ['sleep', '3600'],
                },
              ],
            },
          },
        },
      });
      await kubectl(['-n', faultNs, 'rollout', 'status', 'deployment/outage', '--timeout=120s']);
      const pending = await eventually('the image waiting for its scan', 60_000, async () => {
        const s = await coverageOf((id) => id.includes('/e2e/outage@'));
        return s?.scanStatus?.reason === 'PENDING_INITIAL_SCAN' ? s : undefined;
      });
      expect(pending.lastScannedAt).toBeUndefined();
      await new Promise((r) => setTimeout(r, 8000));
      execFileSync('iptables', ['-D', ...rule]);
      blocked = false;
      const unblocked = Date.now();
      const done = await eventually('the image scanned', 120_000, async () => {
        const s = await coverageOf((id) => id.includes('/e2e/outage@'));
        const r = s?.scanStatus?.reason;
        return r !== undefined && r !== 'PENDING_INITIAL_SCAN' ? s : undefined;
      });
      console.error(
        `e2e: registry hung 8 s during a scan: scanned ${Date.now() - unblocked} ms after it answered again`,
      );
      expect(done.scanStatus?.reason).toBe('SUCCESSFUL');
    } finally {
      if (blocked) execFileSync('iptables', ['-D', ...rule]);
    }
  });

  it('the registry stopped while a scan waits for it: INTERNAL_ERROR saying why, SUCCESSFUL with its findings once it is back', async () => {
    // Another digest no pod ran: the controller's image (Debian packages, so it has findings)
    // with a label added to its config.
    copyWithNewConfig('kube-inspector:e2e', 'e2e/refused:1');
    // Pods lose the registry first, so the scan is waiting for it when it stops.
    const rule = [
      'INPUT',
      '-i',
      inject('bridge'),
      '-p',
      'tcp',
      '--dport',
      String(inject('registryPort')),
      '-j',
      'DROP',
    ];
    execFileSync('iptables', ['-I', ...rule]);
    let blocked = true;
    let stopped = false;
    const image = (id: string) => id.includes('/e2e/refused@');
    const workload = (id: string) => id === `${faultNs}/Pod/refused`;
    try {
      await apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'refused', namespace: faultNs },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: `${inject('podRegistry')}/e2e/refused:1`,
              command: ['sleep', '3600'],
            },
          ],
        },
      });
      await kubectl([
        '-n',
        faultNs,
        'wait',
        '--for=condition=Ready',
        'pod/refused',
        '--timeout=120s',
      ]);
      await eventually('the image waiting for its scan', 60_000, async () => {
        const s = await coverageOf(image);
        return s?.scanStatus?.reason === 'PENDING_INITIAL_SCAN' ? s : undefined;
      });
      // The registry goes away: its port refuses connections.
      await nodeControl('registry', 'stop');
      stopped = true;
      execFileSync('iptables', ['-D', ...rule]);
      blocked = false;
      const down = Date.now();
      const failed = await eventually('the image INTERNAL_ERROR', 120_000, async () => {
        const c = await coveredResource(image);
        return c?.status.scanStatus?.reason === 'INTERNAL_ERROR' ? c : undefined;
      });
      console.error(
        `e2e: registry stopped during a scan: image INTERNAL_ERROR ${Date.now() - down} ms later: ${failed.status.scanStatus?.message ?? ''}`,
      );
      expect(failed.status.scanStatus?.statusCode).toBe('INACTIVE');
      expect(failed.status.scanStatus?.message).toMatch(/unavailable/);
      await eventually('the pod INTERNAL_ERROR', 60_000, async () =>
        (await coverageOf(workload))?.scanStatus?.reason === 'INTERNAL_ERROR' ? true : undefined,
      );
      expect(await activeFindingsOf(failed.name)).toEqual([]);

      // The registry comes back: the failed scan is tried again after --retry-failed-scans-after
      // (15 s in the e2e overlay), with no event and nothing done by hand.
      await nodeControl('registry', 'start');
      stopped = false;
      const up = Date.now();
      const recovered = await eventually('the image and the pod SUCCESSFUL', 120_000, async () => {
        const i = await coverageOf(image);
        const w = await coverageOf(workload);
        return i?.scanStatus?.reason === 'SUCCESSFUL' && w?.scanStatus?.reason === 'SUCCESSFUL'
          ? { i, w }
          : undefined;
      });
      const recoveredMs = Date.now() - up;
      expect(recovered.i.scanStatus?.statusCode).toBe('ACTIVE');
      expect(recovered.w.scanStatus?.statusCode).toBe('ACTIVE');
      // CVE-2011-3374 (apt, every Debian 12 version) is in the image's packages.
      const findings = await eventually("the image's findings", 60_000, async () => {
        const ids = await activeFindingsOf(failed.name);
        return ids.includes('CVE-2011-3374') ? ids : undefined;
      });
      console.error(
        `e2e: registry back: image and pod SUCCESSFUL ${recoveredMs} ms after it started again, ` +
          `${findings.length} findings ${Date.now() - up} ms after`,
      );
    } finally {
      if (blocked) execFileSync('iptables', ['-D', ...rule]);
      if (stopped) await nodeControl('registry', 'start');
    }
  });

  it('the agent killed mid-collection: it restarts, collects again and the inventory stays', async () => {
    /** The agent pod not being deleted, and whether it runs. */
    const agentPod = async (): Promise<{ name: string; running: boolean } | undefined> => {
      const list = JSON.parse(
        await kubectl([
          '-n',
          ns,
          'get',
          'pods',
          '-l',
          'app.kubernetes.io/component=agent',
          '-o',
          'json',
        ]),
      ) as {
        items: {
          metadata: { name: string; deletionTimestamp?: string };
          status: { phase?: string };
        }[];
      };
      const live = list.items.find((p) => p.metadata.deletionTimestamp === undefined);
      return live && { name: live.metadata.name, running: live.status.phase === 'Running' };
    };
    /**
     * Replaces the agent pod, then SIGKILLs the new agent's processes (a crash) once its log shows
     * a collection under way. Whether that collection had ended is read from the killed
     * container's log (kubectl logs --previous).
     */
    const killMidCollection = async (): Promise<{ pod: string; mid: boolean; at: number }> => {
      const old = (await agentPod())!.name;
      await kubectl(['-n', ns, 'delete', 'pod', old, '--wait=false']);
      const pod = await eventually('a new agent collecting', 120_000, async () => {
        const p = await agentPod();
        if (p === undefined || p.name === old || !p.running) return undefined;
        const logs = await kubectl(['-n', ns, 'logs', p.name]);
        return logs.includes('collecting the node inventory') ? p.name : undefined;
      });
      const id = (
        await kubectl([
          '-n',
          ns,
          'get',
          'pod',
          pod,
          '-o',
          'jsonpath={.status.containerStatuses[0].containerID}',
        ])
      ).replace(/^containerd:\/\//, '');
      const pids = execFileSync('sh', ['-c', `grep -l '${id}' /proc/[0-9]*/cgroup || true`])
        .toString()
        .split('\n')
        .map((f) => /\/proc\/(\d+)\//.exec(f)?.[1])
        .filter((x): x is string => x !== undefined);
      expect(pids.length).toBeGreaterThan(0);
      execFileSync('kill', ['-KILL', ...pids]);
      const at = Date.now();
      const previous = await eventually('the killed container restarted', 120_000, async () => {
        const r = await kubectlResult(['-n', ns, 'logs', pod, '--previous']);
        return r.code === 0 ? r.stdout : undefined;
      });
      return { pod, mid: !/node inventory (written|unchanged)/.test(previous), at };
    };
    const { value: ms, reasons } = await nodeReasonsDuring(async () => {
      let attempt = await killMidCollection();
      // A collection that ended before the kill landed is tried again (at most twice more).
      for (let i = 0; i < 2 && !attempt.mid; i++) attempt = await killMidCollection();
      expect(attempt.mid, 'the agent was killed while it collected').toBe(true);
      // The restarted agent collects again from the start and ends its collection.
      await eventually('a collection of the restarted agent', 180_000, async () => {
        const logs = await kubectl(['-n', ns, 'logs', attempt.pod]);
        return /node inventory (written|unchanged)/.test(logs) ? true : undefined;
      });
      await kubectl([
        '-n',
        ns,
        'rollout',
        'status',
        'daemonset/kube-inspector-agent',
        '--timeout=120s',
      ]);
      await eventually('the node SUCCESSFUL', 120_000, async () =>
        (await coverageOf((id) => id === inject('nodeName')))?.scanStatus?.reason === 'SUCCESSFUL'
          ? true
          : undefined,
      );
      return Date.now() - attempt.at;
    });
    console.error(
      `e2e: agent killed mid-collection: restarted, collected again and node SUCCESSFUL ${ms} ms after the kill; node reasons seen: ${reasons.join(' -> ')}`,
    );
    expect(reasons.at(-1)).toBe('SUCCESSFUL');
    expect(reasons.every((r) => r === 'SUCCESSFUL' || r === 'RESOURCE_UNMANAGED')).toBe(true);
    expect(await inventoryPackages()).toBe(packagesBefore);
  });

  it('the kubelet restarted: pods keep running, the node stays Ready and SUCCESSFUL', async () => {
    const pods = await systemPods();
    const { value, reasons } = await nodeReasonsDuring(async () => {
      await nodeControl('kubelet', 'stop');
      await new Promise((r) => setTimeout(r, 5000));
      const restarted = Date.now();
      await nodeControl('kubelet', 'start');
      await eventually('a node heartbeat from the new kubelet', 120_000, async () => {
        const n = await nodeReady();
        return n.ready === 'True' && n.heartbeat >= Math.floor(restarted / 1000) * 1000
          ? true
          : undefined;
      });
      return Date.now() - restarted;
    });
    console.error(
      `e2e: kubelet restarted: Ready heartbeat ${value} ms after it started; node reasons seen: ${reasons.join(' -> ')}`,
    );
    expect(reasons).toEqual(['SUCCESSFUL']);
    expect(await systemPods()).toEqual(pods);
  });

  it('containerd killed: running pods survive, the node is Ready again once it is back', async () => {
    const pods = await systemPods();
    const { value, reasons } = await nodeReasonsDuring(async () => {
      await nodeControl('containerd', 'kill');
      const killed = Date.now();
      // The kubelet finds the runtime gone at its next status update.
      const notReady = await eventually('the node NotReady', 60_000, async () =>
        (await nodeReady()).ready !== 'True' ? Date.now() - killed : undefined,
      ).catch(() => undefined);
      await nodeControl('containerd', 'start');
      const started = Date.now();
      await eventually('the node Ready again', 120_000, async () =>
        (await nodeReady()).ready === 'True' ? true : undefined,
      );
      return { notReady, readyAgain: Date.now() - started };
    });
    console.error(
      `e2e: containerd killed: node NotReady after ${value.notReady ?? 'never'} ms, Ready ${value.readyAgain} ms after containerd started again; node reasons seen: ${reasons.join(' -> ')}`,
    );
    // Within spec.node.notReadyGraceSeconds (300 s) the node keeps its reason.
    expect(reasons).toEqual(['SUCCESSFUL']);
    await kubectl([
      '-n',
      ns,
      'rollout',
      'status',
      'daemonset/kube-inspector-agent',
      '--timeout=120s',
    ]);
    await controllerReady();
    expect(await systemPods()).toEqual(pods);
  });

  it('nothing is lost: every finding and the node inventory are still there', async () => {
    const after = new Set((await findingAttributes()).keys());
    for (const key of findingsBefore) expect(after.has(key), key).toBe(true);
    expect(await inventoryPackages()).toBe(packagesBefore);
  });
});
