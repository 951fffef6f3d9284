// The cis rules package end to end: the node agent (in-process, with the pod-bound token of its
// node) evaluates the CIS checks on a root filesystem laid out like a kubeadm worker, with some
// files and settings failing their check and the rest passing; it writes the results in its
// NodeInventory and the findings controller turns the failed ones into CIS_BENCHMARK findings.
// The node's package vulnerabilities (cve) are evaluated beside them: fixing a file closes its CIS
// finding and nothing else; switching cis off removes the results and closes the CIS findings
// while the vulnerability findings stay open.
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupAgent } from '../../src/agent/agent.ts';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { Finding, FindingStatus } from '../../src/api/v1alpha1/finding.ts';
import type { NodeInventory } from '../../src/api/v1alpha1/node-inventory.ts';
import { setupAssessments } from '../../src/controllers/assessments/index.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { collectionPath, objectPath, type KubeObject } from '../../src/kube/resources.ts';
import { Manager } from '../../src/runtime/manager.ts';
import {
  agentToken,
  applyAgentManifests,
  nodeWithAgentPod,
  tokenKubeConfig,
} from './agent-support.ts';
import { bookwormDpkgStatus, databaseCopy } from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const API = 'kubeinspector.io/v1alpha1';
const NODE = 'worker-1';

const KUBELET_CONFIG = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
readOnlyPort: 10255
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
podPidsLimit: 4096
rotateCertificates: true
serverTLSBootstrap: true
tlsCipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
`;

/** A kubeadm worker's files: failing 4.1.6, 4.1.9, 4.2.1, 4.2.4, /tmp noexec and send_redirects. */
function prepareNode(root: string): void {
  const file = (path: string, content: string, mode = 0o600, owner = 0) => {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
    chownSync(p, owner, owner);
  };
  const dpkg = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
  file('etc/os-release', readFileSync(join(dpkg, 'os-release'), 'utf8'), 0o644);
  file('var/lib/dpkg/status', bookwormDpkgStatus(), 0o644);
  file('etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '[Service]\n');
  file('etc/kubernetes/kubelet.conf', 'apiVersion: v1\nkind: Config\n', 0o600, 1000);
  file('etc/kubernetes/pki/ca.crt', '-----BEGIN CERTIFICATE-----\n');
  file('var/lib/kubelet/config.yaml', KUBELET_CONFIG, 0o644);
  // /tmp lacks noexec; /dev/shm is not a separate mount here (its checks do not apply).
  file(
    'proc/1/mounts',
    '/dev/sda1 / ext4 rw,relatime 0 0\ntmpfs /tmp tmpfs rw,nosuid,nodev,relatime 0 0\n',
    0o444,
  );
  file('proc/sys/net/ipv4/conf/all/send_redirects', '1\n', 0o644);
  file('proc/sys/net/ipv4/conf/default/send_redirects', '0\n', 0o644);
  for (const conf of ['all', 'default']) {
    file(`proc/sys/net/ipv4/conf/${conf}/accept_redirects`, '0\n', 0o644);
    file(`proc/sys/net/ipv6/conf/${conf}/accept_redirects`, '0\n', 0o644);
  }
  file('proc/sys/net/ipv4/tcp_syncookies', '1\n', 0o644);
  file('proc/sys/kernel/randomize_va_space', '2\n', 0o644);
  // The kubelet's process as procfs shows it, started as kubeadm starts it: the agent follows its
  // --config and --kubeconfig (here kubeadm's paths) and reads its flags (none overrides a field).
  const kubelet = '/usr/bin/kubelet';
  const args = [
    kubelet,
    '--kubeconfig=/etc/kubernetes/kubelet.conf',
    '--config=/var/lib/kubelet/config.yaml',
  ];
  file('proc/1187/cmdline', args.map((a) => `${a}\0`).join(''), 0o444);
  file('proc/1187/comm', 'kubelet\n', 0o444);
  symlinkSync(kubelet, join(root, 'proc/1187/exe'));
}

describe('cis rules package with the node agent', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let rootfs: string;
  let db: Awaited<ReturnType<typeof databaseCopy>> | undefined;
  const agentStop = new AbortController();
  let agentRun: Promise<void> | undefined;

  const scanConfiguration = (rulesPackages: string[]) =>
    env.apply({
      apiVersion: API,
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { rulesPackages },
    });
  /** The node's findings of one type, by rule (or vulnerability) id. */
  const nodeFindings = async (type: string): Promise<Map<string, FindingStatus>> => {
    const list = await env.client.request<{ items: (Finding & KubeObject)[] }>(
      'GET',
      collectionPath(kinds.findings, env.adminNamespace),
      {
        query: {
          labelSelector: `${LABELS.coveredResource}=${coveredResourceName.node(NODE)},${LABELS.type}=${type}`,
        },
      },
    );
    return new Map(
      list.items
        .filter((f) => f.status?.type === type)
        .map((f) => [f.status!.ruleId ?? f.status!.vulnerabilityId ?? f.metadata.name, f.status!]),
    );
  };
  const cisFindings = () => nodeFindings('CIS_BENCHMARK');
  const vulnerabilities = () => nodeFindings('PACKAGE_VULNERABILITY');
  const inventory = () =>
    env.client.request<NodeInventory>('GET', objectPath(kinds.nodeInventories, NODE));

  beforeAll(async () => {
    rootfs = mkdtempSync(join(tmpdir(), 'cis-node-'));
    prepareNode(rootfs);
    env = await startProductEnvironment();
    await applyAgentManifests(env);
    await scanConfiguration(['cve', 'cis']);
    db = await databaseCopy();
    controller = await startController(env, {
      database: db.source,
      setups: [setupCoverage, setupFindings, setupAssessments],
    });
    const uid = await nodeWithAgentPod(env, NODE);
    const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const manager = await Manager.create({
      kubeConfig: tokenKubeConfig(env, await agentToken(env, { name: `agent-${NODE}`, uid })),
      log,
      registry: new Registry(),
      bindAddress: '127.0.0.1',
      metricsPort: 0,
      probePort: 0,
    });
    // Collections every second, so a fixed file is seen at once.
    setupAgent({
      manager,
      log,
      nodeName: NODE,
      hostRoot: rootfs,
      agentVersion: '0.0.0-test',
      intervalMs: 1000,
      jitter: 0,
    });
    agentRun = manager.run(agentStop.signal);
  }, 300_000);

  afterAll(async () => {
    agentStop.abort();
    await agentRun;
    await controller?.stop();
    await env?.stop();
    db?.remove();
    if (rootfs !== undefined) rmSync(rootfs, { recursive: true, force: true });
  });

  it('failed checks become CIS_BENCHMARK findings with the benchmark, control, level, weight, found value and remediation', async () => {
    const first = await eventually(
      'the CIS findings of the node',
      async () => {
        const f = await cisFindings();
        return f.size >= 6 ? f : undefined;
      },
      120_000,
    );
    expect([...first.keys()].sort()).toEqual([
      'CIS-K8S-4.1.6',
      'CIS-K8S-4.1.9',
      'CIS-K8S-4.2.1',
      'CIS-K8S-4.2.4',
      'CIS-LINUX-1.1.5',
      'CIS-LINUX-3.1.2',
    ]);
    expect(first.get('CIS-K8S-4.2.1')).toMatchObject({
      type: 'CIS_BENCHMARK',
      status: 'ACTIVE',
      severity: 'MEDIUM',
      rulesPackage: 'cis',
      resource: { type: 'NODE', id: NODE, kind: 'Node', name: NODE },
      ruleDetails: {
        benchmark: 'CIS Kubernetes Benchmark',
        benchmarkVersion: '1.9.0',
        level: 'LEVEL_1',
        scored: true,
        found: 'true',
      },
      recommendation: {
        text: "In the kubelet's configuration file (kubeadm: /var/lib/kubelet/config.yaml): set authentication.anonymous.enabled: false, and remove --anonymous-auth from its command line; restart the kubelet.",
      },
    });
    expect(first.get('CIS-K8S-4.1.9')?.ruleDetails?.found).toBe('mode 644');
    expect(first.get('CIS-K8S-4.1.6')?.ruleDetails?.found).toBe('1000:1000');
    // A Manual control is not scored and is reported at a lower severity.
    expect(first.get('CIS-K8S-4.2.4')).toMatchObject({
      severity: 'LOW',
      ruleDetails: { scored: false, found: '10255' },
    });
    expect(first.get('CIS-LINUX-1.1.5')).toMatchObject({
      ruleDetails: {
        benchmark: 'CIS Distribution Independent Linux Benchmark',
        found: 'rw,nosuid,nodev,relatime',
      },
      recommendation: {
        text: 'Add noexec to the options of /tmp in /etc/fstab and remount it.',
      },
    });
    expect(first.get('CIS-LINUX-3.1.2')?.ruleDetails?.found).toBe(
      'net.ipv4.conf.all.send_redirects=1, net.ipv4.conf.default.send_redirects=0',
    );

    // The facts the agent reported: every check, passed ones and ones that do not apply too.
    const results = (await inventory()).status?.cisResults ?? [];
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get('4.1.10')).toEqual({ id: '4.1.10', status: 'PASSED', found: '0:0' });
    expect(byId.get('1.1.17')?.status).toBe('NOT_APPLICABLE');
    expect(results.filter((r) => r.status === 'FAILED')).toHaveLength(6);

    // The node's package vulnerabilities are evaluated in the same pass, beside them.
    const vulns = await eventually("the node's vulnerability findings", async () => {
      const v = await vulnerabilities();
      return v.size > 0 ? v : undefined;
    });
    expect([...vulns.values()].every((f) => f.status === 'ACTIVE')).toBe(true);
  });

  it('a fixed file closes its finding and the others stay open', async () => {
    const config = join(rootfs, 'var/lib/kubelet/config.yaml');
    writeFileSync(
      config,
      KUBELET_CONFIG.replace('enabled: true\n  webhook', 'enabled: false\n  webhook'),
    );
    chmodSync(config, 0o600);
    const fixed = await eventually(
      '4.1.9 and 4.2.1 closed',
      async () => {
        const f = await cisFindings();
        return f.get('CIS-K8S-4.1.9')?.status === 'CLOSED' &&
          f.get('CIS-K8S-4.2.1')?.status === 'CLOSED'
          ? f
          : undefined;
      },
      60_000,
    );
    expect(
      [...fixed]
        .filter(([, s]) => s.status === 'ACTIVE')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['CIS-K8S-4.1.6', 'CIS-K8S-4.2.4', 'CIS-LINUX-1.1.5', 'CIS-LINUX-3.1.2']);
    const vulns = await vulnerabilities();
    expect(vulns.size).toBeGreaterThan(0);
    expect([...vulns.values()].every((f) => f.status === 'ACTIVE')).toBe(true);
  });

  it('an assessment run with cis writes the findings of the nodes it collected and names a node without results', async () => {
    const admin = env.adminNamespace;
    await env.kubectl('label', 'node', NODE, 'pool=cis');
    await env.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-2', labels: { pool: 'cis' } },
    });
    await env.apply(
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'cis-nodes', namespace: admin },
        spec: { resourceTypes: ['NODE'], selectors: [{ matchLabels: { pool: 'cis' } }] },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'cis', namespace: admin },
        spec: {
          targetRef: { name: 'cis-nodes' },
          rulesPackages: ['cis'],
          durationSeconds: 180,
          findingAttributes: { audit: 'cis' },
        },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'cis-1', namespace: admin },
        spec: { templateRef: { name: 'cis' } },
      },
    );
    type Run = {
      status?: {
        state?: string;
        collected?: { nodes?: string[] };
        conditions?: { type: string; message?: string }[];
      };
    };
    const runNow = async () =>
      JSON.parse(
        await env.kubectl('get', 'assessmentrun', 'cis-1', '-n', admin, '-o', 'json'),
      ) as Run;
    await eventually('run collecting', async () =>
      (await runNow()).status?.state === 'COLLECTING_DATA' ? true : undefined,
    );
    await env.kubectl(
      'patch',
      'assessmentrun',
      'cis-1',
      '-n',
      admin,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { stop: { action: 'START_EVALUATION' } } }),
    );
    const done = await eventually('run completed', async () => {
      const r = await runNow();
      return r.status?.state?.startsWith('COMPLETED') === true ? r : undefined;
    });
    expect(done.status?.state).toBe('COMPLETED_WITH_ERRORS');
    expect(done.status?.collected?.nodes).toEqual([NODE, 'worker-2']);
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'node worker-2 has no CIS check results in its NodeInventory',
    );
    const list = await env.client.request<{ items: (Finding & KubeObject)[] }>(
      'GET',
      collectionPath(kinds.findings, admin),
      { query: { labelSelector: `${LABELS.run}=cis-1` } },
    );
    const items = list.items.filter((f) => f.status?.ruleId !== undefined);
    expect(items.map((f) => f.status!.ruleId).sort()).toEqual([
      'CIS-K8S-4.1.6',
      'CIS-K8S-4.2.4',
      'CIS-LINUX-1.1.5',
      'CIS-LINUX-3.1.2',
    ]);
    for (const f of items) {
      expect(f.spec?.attributes).toEqual({ audit: 'cis' });
      expect(f.status).toMatchObject({
        type: 'CIS_BENCHMARK',
        rulesPackage: 'cis',
        status: 'ACTIVE',
        resource: { type: 'NODE', id: NODE },
      });
      expect(f.metadata.ownerReferences?.[0]).toMatchObject({
        kind: 'AssessmentRun',
        name: 'cis-1',
      });
    }
  });

  it('cis switched off: the agent stops reporting results, every CIS finding closes, the vulnerabilities stay', async () => {
    const before = await vulnerabilities();
    await scanConfiguration(['cve']);
    await eventually(
      'every CIS finding closed',
      async () => {
        const f = await cisFindings();
        return f.size > 0 && [...f.values()].every((s) => s.status === 'CLOSED') ? true : undefined;
      },
      60_000,
    );
    await eventually('the results gone from the NodeInventory', async () =>
      (await inventory()).status?.cisResults === undefined ? true : undefined,
    );
    const after = await vulnerabilities();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect([...after.values()].every((f) => f.status === 'ACTIVE')).toBe(true);
  });
});
