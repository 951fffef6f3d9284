// Rules packages beyond cve on a control plane of their own: security-best-practices switched on
// in the ScanConfiguration turns a Deployment's pod template into CONFIGURATION findings that
// follow the template (a new violation appears, a fixed one closes) and close when the package
// is switched off; an assessment run with the package writes the same findings, owned by the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { setupAssessments } from '../../src/controllers/assessments/index.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { collectionPath, core, type KubeObject } from '../../src/kube/resources.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeSecrets } from '../../src/code-scan/testing.ts';
import { gatewayCrd, httpRouteCrd } from '../support/gateway-api.ts';
import { buildImage, startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  type PushedImage,
  Writer,
  kubeletNodeStatus,
  kubeletPodStatus,
  nodeObject,
  ownerRef,
  push,
  runWorkload,
} from './coverage-fixtures.ts';
import { bookwormDpkgStatus, databaseCopy } from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const API = 'kubeinspector.io/v1alpha1';
const NS = 'shop';

describe('rules packages', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let registry: TestRegistry;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  let image: PushedImage;

  /** Findings with a status under a label selector, by rule id (and status). */
  const findings = async (namespace: string, selector: string) => {
    const list = await env.client.request<{ items: (Finding & KubeObject)[] }>(
      'GET',
      collectionPath(kinds.findings, namespace),
      { query: { labelSelector: selector } },
    );
    return list.items.filter((f) => f.status?.ruleId !== undefined);
  };
  const byRule = (items: (Finding & KubeObject)[]) =>
    new Map(items.map((f) => [f.status!.ruleId!, f.status!]));
  const scanConfiguration = (rulesPackages: string[]) =>
    env.apply({
      apiVersion: API,
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { rulesPackages },
    });
  const patchTemplate = (spec: object) =>
    env.kubectl(
      'patch',
      'deployment',
      'web',
      '-n',
      NS,
      '--type=strategic',
      '-p',
      JSON.stringify({ spec: { template: { spec } } }),
    );

  /**
   * Waits for a run to collect, stops its collection at once and resolves with the run once it
   * has ended (COMPLETED or COMPLETED_WITH_ERRORS: callers check which).
   */
  const runToEnd = async (name: string, namespace = NS) => {
    type Run = {
      status?: { state?: string; message?: string; findingCounts?: Record<string, number> };
    };
    const get = async () =>
      JSON.parse(
        await env.kubectl('get', 'assessmentrun', name, '-n', namespace, '-o', 'json'),
      ) as Run;
    await eventually('run collecting', async () =>
      (await get()).status?.state === 'COLLECTING_DATA' ? true : undefined,
    );
    await env.kubectl(
      'patch',
      'assessmentrun',
      name,
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { stop: { action: 'START_EVALUATION' } } }),
    );
    return eventually(
      'run ended',
      async () => {
        const r = await get();
        return r.status?.state === 'COMPLETED' || r.status?.state === 'COMPLETED_WITH_ERRORS'
          ? r
          : undefined;
      },
      120_000,
    );
  };

  beforeAll(async () => {
    [env, registry] = await Promise.all([startProductEnvironment(), startRegistry()]);
    const w = new Writer(env.client);
    db = await databaseCopy();
    const dpkg = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    image = await push(
      registry.url,
      registry.host,
      'shop/web',
      '1.0',
      buildImage({
        layers: [
          [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/os-release', content: readFileSync(join(dpkg, 'os-release'), 'utf8') },
            { path: 'var/lib/dpkg/status', content: bookwormDpkgStatus() },
          ],
        ],
      }),
    );
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    const node = await w.create(core.nodes, nodeObject('node-1'));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, Date.now()), 'kubelet');
    await runWorkload(
      w,
      'Deployment',
      NS,
      'web',
      'node-1',
      [{ name: 'web', image }],
      'Running',
      Date.now(),
      { labels: { app: 'web' } },
    );
    controller = await startController(env, {
      database: db.source,
      insecureRegistries: [registry.host],
      setups: [setupCoverage, setupFindings, setupAssessments],
      // The Gateway API is installed while the controller runs: looked for again every 2 s.
      reflector: { optionalRecheckMs: 2000 },
    });
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
    await registry?.stop();
    db?.remove();
  });

  it('security-best-practices switched on evaluates workloads continuously and follows their template', async () => {
    await scanConfiguration(['cve', 'security-best-practices']);
    const cr = coveredResourceName.workload(NS, 'Deployment', 'web');
    const selector = `${LABELS.coveredResource}=${cr}`;
    const first = await eventually(
      'the findings of the Deployment',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector));
        return f.has('HARDENING-SERVICE-ACCOUNT-TOKEN') ? f : undefined;
      },
      90_000,
    );
    // The fixture's template sets no securityContext at all: restricted fails, baseline passes.
    expect([...first.keys()].sort()).toEqual([
      'HARDENING-CPU-LIMIT',
      'HARDENING-IMAGE-DIGEST',
      'HARDENING-MEMORY-LIMIT',
      'HARDENING-SERVICE-ACCOUNT-TOKEN',
      'PSS-RESTRICTED-CAPABILITIES',
      'PSS-RESTRICTED-PRIVILEGE-ESCALATION',
      'PSS-RESTRICTED-RUN-AS-NON-ROOT',
      'PSS-RESTRICTED-SECCOMP',
    ]);
    expect(first.get('PSS-RESTRICTED-SECCOMP')).toMatchObject({
      type: 'CONFIGURATION',
      status: 'ACTIVE',
      rulesPackage: 'security-best-practices',
      resource: { type: 'WORKLOAD', id: `${NS}/Deployment/web`, namespace: NS, name: 'web' },
      ruleDetails: {
        benchmark: 'Pod Security Standards',
        level: 'restricted',
        fieldPaths: ['spec.template.spec.containers[0].securityContext.seccompProfile.type'],
      },
    });

    // Sharing the host PID namespace appears as a new finding.
    await patchTemplate({ hostPID: true });
    const withHost = await eventually('the host namespaces finding', async () => {
      const f = byRule(await findings(env.adminNamespace, selector));
      return f.get('PSS-BASELINE-HOST-NAMESPACES')?.status === 'ACTIVE' ? f : undefined;
    });
    expect(withHost.get('PSS-BASELINE-HOST-NAMESPACES')?.ruleDetails?.fieldPaths).toEqual([
      'spec.template.spec.hostPID',
    ]);

    // Fixed: that finding closes, the others stay open.
    await patchTemplate({ hostPID: false, automountServiceAccountToken: false });
    const fixed = await eventually('the fixed findings closed', async () => {
      const f = byRule(await findings(env.adminNamespace, selector));
      return f.get('PSS-BASELINE-HOST-NAMESPACES')?.status === 'CLOSED' &&
        f.get('HARDENING-SERVICE-ACCOUNT-TOKEN')?.status === 'CLOSED'
        ? f
        : undefined;
    });
    expect(fixed.get('PSS-RESTRICTED-SECCOMP')?.status).toBe('ACTIVE');

    // Switched off: everything it found closes.
    await scanConfiguration(['cve']);
    await eventually('every workload finding closed', async () => {
      const f = await findings(env.adminNamespace, selector);
      return f.length > 0 && f.every((x) => x.status?.status === 'CLOSED') ? true : undefined;
    });
  });

  it('an assessment run with security-best-practices writes the findings of the workloads it collected', async () => {
    await env.apply(
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'web', namespace: NS },
        spec: { resourceTypes: ['WORKLOAD'], selectors: [{ matchLabels: { app: 'web' } }] },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'hardening', namespace: NS },
        spec: {
          targetRef: { name: 'web' },
          rulesPackages: ['security-best-practices'],
          durationSeconds: 180,
          findingAttributes: { team: 'storefront' },
        },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'hardening-1', namespace: NS },
        spec: { templateRef: { name: 'hardening' } },
      },
    );
    const done = await runToEnd('hardening-1');
    expect(done.status?.state, done.status?.message).toBe('COMPLETED');
    const items = await findings(NS, `${LABELS.run}=hardening-1`);
    expect(done.status?.findingCounts?.total).toBe(items.length);
    const rules = byRule(items);
    // The template was patched above: seccomp still missing, the token no longer mounted.
    expect(rules.has('PSS-RESTRICTED-SECCOMP')).toBe(true);
    expect(rules.has('HARDENING-SERVICE-ACCOUNT-TOKEN')).toBe(false);
    for (const f of items) {
      expect(f.spec?.attributes).toEqual({ team: 'storefront' });
      expect(f.status?.rulesPackage).toBe('security-best-practices');
      expect(f.metadata.ownerReferences?.[0]).toMatchObject({
        kind: 'AssessmentRun',
        name: 'hardening-1',
      });
    }
  });
  it('an assessment run with the code package writes the secrets of the pod templates and images it collected', async () => {
    // Covered images are code-scanned while WorkloadCode is on: the run reads those results.
    await env.apply({
      apiVersion: API,
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {
        activation: { scanTypes: ['Node', 'Image', 'Workload', 'WorkloadCode'] },
        rulesPackages: ['cve'],
      },
    });
    const token = fakeSecrets('code-run')['github-token']!;
    const stripe = fakeSecrets('code-run')['stripe-secret-key']!;
    // A second workload of the app whose image ships a secret in its application files.
    const dpkg = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    const leaky = await push(
      registry.url,
      registry.host,
      'shop/api',
      '1.0',
      buildImage({
        layers: [
          [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/os-release', content: readFileSync(join(dpkg, 'os-release'), 'utf8') },
            { path: 'var/lib/dpkg/status', content: bookwormDpkgStatus() },
          ],
          [{ path: 'app/settings.env', content: `STRIPE_KEY=${stripe}\n` }],
        ],
      }),
    );
    await runWorkload(
      new Writer(env.client),
      'Deployment',
      NS,
      'api',
      'node-1',
      [{ name: 'api', image: leaky }],
      'Running',
      Date.now(),
      {
        labels: { app: 'web' },
      },
    );
    // A workload's code coverage is SUCCESSFUL once its images were scanned with code scanning.
    for (const workload of ['web', 'api']) {
      const codeCr = coveredResourceName.workloadCode(NS, 'Deployment', workload);
      await eventually(
        `${workload} code-scanned`,
        async () => {
          const o = JSON.parse(
            (await env.kubectl('get', 'coverage', codeCr, '--ignore-not-found', '-o', 'json')) ||
              '{}',
          ) as { status?: { scanStatus?: { reason?: string } } };
          return o.status?.scanStatus?.reason === 'SUCCESSFUL' ? true : undefined;
        },
        120_000,
      );
    }
    await patchTemplate({
      containers: [{ name: 'web', env: [{ name: 'GITHUB_TOKEN', value: token }] }],
    });
    await env.apply(
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'web-code', namespace: NS },
        spec: {
          resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'],
          selectors: [{ matchLabels: { app: 'web' } }],
        },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'code', namespace: NS },
        spec: { targetRef: { name: 'web-code' }, rulesPackages: ['code'], durationSeconds: 180 },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'code-1', namespace: NS },
        spec: { templateRef: { name: 'code' } },
      },
    );
    const done = await runToEnd('code-1');
    const items = await findings(NS, `${LABELS.run}=code-1`);
    const template = items.find((f) => f.status?.codeVulnerabilityDetails?.fieldPath !== undefined);
    expect(template?.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      ruleId: 'github-token',
      rulesPackage: 'code',
      resource: { type: 'WORKLOAD', name: 'web', namespace: NS },
    });
    expect(template?.status?.codeVulnerabilityDetails?.fieldPath).toMatch(
      /env\[name=GITHUB_TOKEN\]\.value$/,
    );
    const inImage = items.find((f) => f.status?.resource?.type === 'CONTAINER_IMAGE');
    expect(inImage?.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      ruleId: 'stripe-secret-key',
      rulesPackage: 'code',
      codeVulnerabilityDetails: { filePath: { filePath: '/app/settings.env', startLine: 1 } },
      resource: { type: 'CONTAINER_IMAGE', imageDigest: leaky.digest },
    });
    // Never the secret itself: not in the run's findings, not in the run.
    for (const secret of [token, stripe]) {
      expect(JSON.stringify(items)).not.toContain(secret);
      expect(JSON.stringify(done)).not.toContain(secret);
    }
    // The image was code-scanned (coverage with WorkloadCode on): evaluated, nothing missing.
    expect(done.status?.state, JSON.stringify(done.status)).toBe('COMPLETED');
    for (const f of items)
      expect(f.metadata.ownerReferences?.[0]).toMatchObject({
        kind: 'AssessmentRun',
        name: 'code-1',
      });
    await patchTemplate({ containers: [{ name: 'web', env: null }] });
    // The other tests know one workload of the app.
    await env.kubectl(
      'delete',
      'deployment/api',
      'replicaset/api-7c9d8f6b5',
      '-n',
      NS,
      '--wait=true',
    );
    // No kubelet confirms a pod's end here: deleted at once.
    await env.kubectl('delete', 'pod', '-n', NS, '-l', 'app=api', '--grace-period=0', '--force');
  });

  it('network-reachability finds a LoadBalancer in front of the Deployment, and a default-deny policy closes it', async () => {
    await scanConfiguration(['network-reachability']);
    await env.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-public', namespace: NS },
      spec: {
        type: 'LoadBalancer',
        selector: { app: 'web' },
        ports: [{ name: 'https', port: 443, targetPort: 8080 }],
      },
    });
    const cr = coveredResourceName.workload(NS, 'Deployment', 'web');
    const selector = `${LABELS.coveredResource}=${cr},${LABELS.type}=NETWORK_REACHABILITY`;
    const open = await eventually(
      'the reachability findings',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector));
        return f.get('NETWORK-REACHABILITY-LOADBALANCER')?.status === 'ACTIVE' ? f : undefined;
      },
      60_000,
    );
    const lb = open.get('NETWORK-REACHABILITY-LOADBALANCER')!;
    expect(lb).toMatchObject({
      type: 'NETWORK_REACHABILITY',
      severity: 'MEDIUM',
      rulesPackage: 'network-reachability',
      networkReachabilityDetails: {
        protocol: 'TCP',
        openPortRange: { begin: 8080, end: 8080 },
        networkPath: [
          { componentType: 'Internet', componentId: 'outside the cluster' },
          { componentType: 'LoadBalancer', componentId: `${NS}/web-public:443` },
          { componentType: 'Service', componentId: `${NS}/web-public:443` },
          { componentType: 'Pod', componentId: `${NS}/Deployment/web:8080` },
        ],
      },
    });
    // The API server allocated a node port: that way in is found too.
    expect(open.get('NETWORK-REACHABILITY-NODEPORT')?.status).toBe('ACTIVE');

    await env.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: NS },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    await eventually('the reachability findings closed', async () => {
      const f = await findings(env.adminNamespace, selector);
      return f.length >= 2 && f.every((x) => x.status?.status === 'CLOSED') ? true : undefined;
    });
  });

  it('network-reachability follows HTTPRoutes through the Gateway listeners that accept them, once the Gateway API is installed', async () => {
    // The controller started without the Gateway API: its Gateway and HTTPRoute caches are
    // empty and synced.
    await scanConfiguration(['network-reachability']);
    const gw = 'gateway-shop';
    const w = new Writer(env.client);
    await env.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: gw } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gateways' } },
    );
    await runWorkload(
      w,
      'Deployment',
      gw,
      'store',
      'node-1',
      [{ name: 'store', image }],
      'Running',
      Date.now(),
      {
        labels: { app: 'store' },
      },
    );
    await env.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'store', namespace: gw },
      spec: { selector: { app: 'store' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    // Too large for the last-applied annotation of a client-side apply.
    for (const crd of [await gatewayCrd(), await httpRouteCrd()])
      await env.kubectl('apply', '--server-side', '-f', crd);
    await env.kubectl(
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/gateways.gateway.networking.k8s.io',
      'crd/httproutes.gateway.networking.k8s.io',
    );
    // Three listeners: one takes the route, one takes routes of its own namespace only, one
    // takes TCP routes only.
    await env.apply(
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'public', namespace: 'gateways' },
        spec: {
          gatewayClassName: 'example',
          listeners: [
            {
              name: 'http',
              port: 80,
              protocol: 'HTTP',
              allowedRoutes: { namespaces: { from: 'All' } },
            },
            { name: 'internal', port: 8080, protocol: 'HTTP' },
            {
              name: 'tcp',
              port: 9000,
              protocol: 'TCP',
              allowedRoutes: { namespaces: { from: 'All' } },
            },
          ],
        },
      },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'store', namespace: gw },
        spec: {
          parentRefs: [{ name: 'public', namespace: 'gateways' }],
          rules: [{ backendRefs: [{ name: 'store', port: 80 }] }],
        },
      },
    );
    const cr = coveredResourceName.workload(gw, 'Deployment', 'store');
    const selector = `${LABELS.coveredResource}=${cr},${LABELS.type}=NETWORK_REACHABILITY`;
    const open = await eventually(
      'the HTTPRoute finding',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector));
        return f.get('NETWORK-REACHABILITY-HTTPROUTE')?.status === 'ACTIVE' ? f : undefined;
      },
      60_000,
    );
    expect(open.get('NETWORK-REACHABILITY-HTTPROUTE')?.networkReachabilityDetails).toMatchObject({
      openPortRange: { begin: 8080, end: 8080 },
      networkPath: [
        { componentType: 'Internet', componentId: 'outside the cluster' },
        { componentType: 'Gateway', componentId: 'gateways/public:80' },
        { componentType: 'HTTPRoute', componentId: `${gw}/store` },
        { componentType: 'Service', componentId: `${gw}/store:80` },
        { componentType: 'Pod', componentId: `${gw}/Deployment/store:8080` },
      ],
    });
    // A ClusterIP Service alone is no way in: the route is the only finding.
    expect([...open.keys()]).toEqual(['NETWORK-REACHABILITY-HTTPROUTE']);

    // The route now names only the listener of the Gateway's own namespace: no way in.
    await env.kubectl(
      'patch',
      'httproute',
      'store',
      '-n',
      gw,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'internal' }] },
      }),
    );
    await eventually(
      'the HTTPRoute finding closed',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector));
        return f.get('NETWORK-REACHABILITY-HTTPROUTE')?.status === 'CLOSED' ? true : undefined;
      },
      60_000,
    );
    // The listener lets the route's namespace in by its label: the way in is back, on port 8080.
    await env.kubectl('label', 'namespace', gw, 'gateway-access=public');
    await env.kubectl(
      'patch',
      'gateway',
      'public',
      '-n',
      'gateways',
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'add',
          path: '/spec/listeners/1/allowedRoutes',
          value: {
            namespaces: {
              from: 'Selector',
              selector: { matchLabels: { 'gateway-access': 'public' } },
            },
          },
        },
      ]),
    );
    const reopened = await eventually(
      'the HTTPRoute finding through the internal listener',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector)).get(
          'NETWORK-REACHABILITY-HTTPROUTE',
        );
        return f?.status === 'ACTIVE' ? f : undefined;
      },
      60_000,
    );
    expect(reopened.networkReachabilityDetails?.networkPath?.[1]).toEqual({
      componentType: 'Gateway',
      componentId: 'gateways/public:8080',
    });

    // Removing the Gateway API takes the Gateways and routes with it: the finding closes.
    await env.kubectl(
      'delete',
      'crd',
      'httproutes.gateway.networking.k8s.io',
      'gateways.gateway.networking.k8s.io',
      '--wait=true',
    );
    await eventually(
      'the HTTPRoute finding closed again',
      async () => {
        const f = byRule(await findings(env.adminNamespace, selector));
        return f.get('NETWORK-REACHABILITY-HTTPROUTE')?.status === 'CLOSED' ? true : undefined;
      },
      60_000,
    );
  });

  it('bare Pods and static pods are workloads of their own for both workload packages, continuously and in assessment runs', async () => {
    await scanConfiguration(['security-best-practices', 'network-reachability']);
    const ns = 'standalone';
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const w = new Writer(env.client);
    const node = await env.client.request<KubeObject>('GET', `/api/v1/nodes/node-1`);
    // An image of their own: these pods are exposed, and the score tests below want the
    // Deployment's image exposed by nobody.
    const dpkg = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    const toolImage = await push(
      registry.url,
      registry.host,
      'standalone/tool',
      '1.0',
      buildImage({
        layers: [
          [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/os-release', content: readFileSync(join(dpkg, 'os-release'), 'utf8') },
            { path: 'var/lib/dpkg/status', content: bookwormDpkgStatus() },
          ],
          [{ path: 'usr/local/bin/tool', content: '#!/bin/sh\necho tool\n' }],
        ],
      }),
    );
    const containers = [{ name: 'tool', image: toolImage }];
    const started = Date.now();
    // A bare Pod with a host port, and a static pod's mirror (owned by its Node) on the host
    // network, as a kubelet writes it.
    const bare = await w.create(core.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'tool', namespace: ns, labels: { app: 'tool' } },
      spec: {
        nodeName: 'node-1',
        containers: [
          {
            name: 'tool',
            image: toolImage.reference,
            ports: [{ name: 'http', containerPort: 9000, hostPort: 9000 }],
          },
        ],
      },
    });
    await w.setStatus(core.pods, bare, kubeletPodStatus(containers, 'Running', started), 'kubelet');
    const mirror = await w.create(core.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'probe-node-1',
        namespace: ns,
        labels: { app: 'tool', tier: 'node' },
        annotations: {
          'kubernetes.io/config.mirror': 'b4f3e2a1',
          'kubernetes.io/config.source': 'file',
        },
        ownerReferences: [ownerRef({ ...node, apiVersion: 'v1', kind: 'Node' })],
      },
      spec: {
        nodeName: 'node-1',
        hostNetwork: true,
        containers: [
          {
            name: 'tool',
            image: toolImage.reference,
            ports: [{ name: 'metrics', containerPort: 9100 }],
          },
        ],
      },
    });
    await w.setStatus(
      core.pods,
      mirror,
      kubeletPodStatus(containers, 'Running', started),
      'kubelet',
    );

    const of = (name: string) =>
      `${LABELS.coveredResource}=${coveredResourceName.workload(ns, 'Pod', name)}`;
    const bareFindings = await eventually(
      'the findings of the bare Pod',
      async () => {
        const f = byRule(await findings(env.adminNamespace, of('tool')));
        return f.get('NETWORK-REACHABILITY-HOSTPORT')?.status === 'ACTIVE' &&
          f.get('PSS-BASELINE-HOST-PORTS')?.status === 'ACTIVE'
          ? f
          : undefined;
      },
      90_000,
    );
    expect(bareFindings.get('PSS-BASELINE-HOST-PORTS')).toMatchObject({
      resource: { type: 'WORKLOAD', id: `${ns}/Pod/tool`, namespace: ns, name: 'tool' },
      ruleDetails: { fieldPaths: ['spec.containers[0].ports[0].hostPort'] },
    });
    expect(bareFindings.get('NETWORK-REACHABILITY-HOSTPORT')?.networkReachabilityDetails).toEqual({
      protocol: 'TCP',
      openPortRange: { begin: 9000, end: 9000 },
      networkPath: [
        { componentType: 'Internet', componentId: 'outside the cluster' },
        { componentType: 'HostPort', componentId: '*:9000' },
        { componentType: 'Pod', componentId: `${ns}/Pod/tool:9000` },
      ],
    });
    const mirrorFindings = await eventually(
      'the findings of the static pod',
      async () => {
        const f = byRule(await findings(env.adminNamespace, of('probe-node-1')));
        return f.get('NETWORK-REACHABILITY-HOSTNETWORK')?.status === 'ACTIVE' &&
          f.get('PSS-BASELINE-HOST-NAMESPACES')?.status === 'ACTIVE'
          ? f
          : undefined;
      },
      90_000,
    );
    expect(mirrorFindings.get('PSS-BASELINE-HOST-NAMESPACES')?.ruleDetails?.fieldPaths).toEqual([
      'spec.hostNetwork',
    ]);

    // The bare Pod's labels are its template's: a policy selecting them closes the host port.
    await env.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny-tool', namespace: ns },
      spec: { podSelector: { matchLabels: { app: 'tool' } }, policyTypes: ['Ingress'] },
    });
    await eventually('the host port finding closed', async () => {
      const f = byRule(await findings(env.adminNamespace, of('tool')));
      return f.get('NETWORK-REACHABILITY-HOSTPORT')?.status === 'CLOSED' ? true : undefined;
    });

    // An assessment run evaluates both pods: it completes without errors.
    await env.apply(
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'pods', namespace: ns },
        spec: { resourceTypes: ['WORKLOAD'], selectors: [{ matchLabels: { app: 'tool' } }] },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'pods', namespace: ns },
        spec: {
          targetRef: { name: 'pods' },
          rulesPackages: ['security-best-practices', 'network-reachability'],
          durationSeconds: 180,
        },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'pods-1', namespace: ns },
        spec: { templateRef: { name: 'pods' } },
      },
    );
    const done = await runToEnd('pods-1', ns);
    expect(done.status?.state, done.status?.message).toBe('COMPLETED');
    const items = await findings(ns, `${LABELS.run}=pods-1`);
    expect(done.status?.findingCounts?.total).toBe(items.length);
    const found = new Set(items.map((f) => `${f.status!.resource!.name} ${f.status!.ruleId}`));
    for (const expected of [
      'tool PSS-BASELINE-HOST-PORTS',
      'probe-node-1 PSS-BASELINE-HOST-NAMESPACES',
      'probe-node-1 NETWORK-REACHABILITY-HOSTNETWORK',
    ])
      expect(found, expected).toContain(expected);
    // The policy closes the bare Pod's host port in the run as well.
    expect(found).not.toContain('tool NETWORK-REACHABILITY-HOSTPORT');
  });

  it('a network vulnerability of an image no workload exposes gets a lowered score, and its base score back once exposed', async () => {
    // Here the LoadBalancer exists and the default-deny policy closes it.
    await scanConfiguration(['cve', 'network-reachability']);
    const cr = coveredResourceName.image(image.repository, image.digest);
    const network = (f: Finding & KubeObject) =>
      (f.status?.cvss ?? []).some((c) => /(^|\/)AV:N(\/|$)/.test(c.scoringVector));
    const lowered = await eventually(
      'an adjusted score',
      async () => {
        const all = (
          await env.client.request<{ items: (Finding & KubeObject)[] }>(
            'GET',
            collectionPath(kinds.findings, env.adminNamespace),
            { query: { labelSelector: `${LABELS.coveredResource}=${cr}` } },
          )
        ).items.filter((f) => f.status?.status === 'ACTIVE' && network(f));
        return all.length > 0 && all.every((f) => f.status?.inspectorScoreDetails !== undefined)
          ? all
          : undefined;
      },
      90_000,
    );
    for (const f of lowered) {
      const adjusted = f.status!.inspectorScoreDetails!.adjustedCvss;
      expect(adjusted.scoringVector).toMatch(/(^|\/)AV:A(\/|$)/);
      expect(adjusted.adjustments?.[0]).toMatchObject({ metric: 'AV' });
      expect(adjusted.adjustments?.[0]?.reason).toContain(`${NS}/Deployment/web`);
      const base = Math.max(...(f.status!.cvss ?? []).map((c) => c.baseScore));
      expect(f.status!.inspectorScore).toBeLessThan(base);
    }

    // The policy goes: the LoadBalancer reaches the pods, the scores are the base scores again.
    await env.kubectl('delete', 'networkpolicy', 'default-deny', '-n', NS);
    await eventually('base scores again', async () => {
      const all = (
        await env.client.request<{ items: (Finding & KubeObject)[] }>(
          'GET',
          collectionPath(kinds.findings, env.adminNamespace),
          { query: { labelSelector: `${LABELS.coveredResource}=${cr}` } },
        )
      ).items.filter((f) => f.status?.status === 'ACTIVE' && network(f));
      return all.length === lowered.length &&
        all.every((f) => f.status?.inspectorScoreDetails === undefined)
        ? true
        : undefined;
    });
  });

  it('an assessment run lowers the score of a network vulnerability in an image no workload exposes', async () => {
    await env.apply(
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'default-deny', namespace: NS },
        spec: { podSelector: {}, policyTypes: ['Ingress'] },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'web-images', namespace: NS },
        spec: {
          resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'],
          selectors: [{ matchLabels: { app: 'web' } }],
        },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'web-cve', namespace: NS },
        spec: { targetRef: { name: 'web-images' }, rulesPackages: ['cve'], durationSeconds: 180 },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'web-cve-1', namespace: NS },
        spec: { templateRef: { name: 'web-cve' } },
      },
    );
    const done = await runToEnd('web-cve-1');
    expect(done.status?.state, done.status?.message).toBe('COMPLETED');
    const all = (
      await env.client.request<{ items: (Finding & KubeObject)[] }>(
        'GET',
        collectionPath(kinds.findings, NS),
        { query: { labelSelector: `${LABELS.run}=web-cve-1` } },
      )
    ).items.filter((f) =>
      (f.status?.cvss ?? []).some((c) => /(^|\/)AV:N(\/|$)/.test(c.scoringVector)),
    );
    expect(all.length).toBeGreaterThan(0);
    for (const f of all) {
      expect(f.status?.inspectorScoreDetails?.adjustedCvss.scoringVector).toMatch(
        /(^|\/)AV:A(\/|$)/,
      );
      expect(f.status?.inspectorScoreDetails?.adjustedCvss.adjustments?.[0]?.reason).toContain(
        `${NS}/Deployment/web`,
      );
    }
  });
});
