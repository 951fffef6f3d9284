/**
 * network-reachability against Trivy's Kubernetes configuration checks (the checks
 * trivy-operator's configuration audit runs), on the same manifests: a Deployment (or a bare
 * Pod) and the Services, Ingresses and NetworkPolicies around it, run through `trivy config`
 * offline with the checks built into its binary. Trivy judges each object alone; kube-inspector judges the
 * workload with what surrounds it. For each case and each topic both look at, they must agree
 * whether it is reported, except where a difference is listed below with its reason
 * (docs/rules-network-reachability.md has the same list for people).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trivyConfig } from '../trivy-testing.ts';
import { workloadFacts } from '../workload.ts';
import { ingressFacts, networkPolicyFacts, serviceFacts } from './objects.ts';
import { networkReachability } from './reachability.ts';

type Obj = Record<string, unknown> & {
  kind: string;
  metadata: { name: string; namespace: string; [k: string]: unknown };
};

/**
 * What both could report, as our rule ids and Trivy's check ids. An empty side means the other
 * has nothing that looks at it.
 */
const TOPICS: Readonly<Record<string, { ours: readonly string[]; trivy: readonly string[] }>> = {
  'host port': { ours: ['NETWORK-REACHABILITY-HOSTPORT'], trivy: ['KSV024'] },
  'host network': { ours: ['NETWORK-REACHABILITY-HOSTNETWORK'], trivy: ['KSV009'] },
  'Service of type LoadBalancer': { ours: ['NETWORK-REACHABILITY-LOADBALANCER'], trivy: [] },
  'node port': { ours: ['NETWORK-REACHABILITY-NODEPORT'], trivy: [] },
  Ingress: { ours: ['NETWORK-REACHABILITY-INGRESS'], trivy: [] },
  'Service externalIPs': { ours: [], trivy: ['AVD-KSV-0108'] },
  'NetworkPolicy without a pod selector': { ours: [], trivy: ['KSV038'] },
};

/** Where the two disagree: `<case name> | <topic>`, with who reports it. */
const DIFFERENCES: Readonly<Record<string, 'only Trivy' | 'only kube-inspector'>> = {
  // KSV024 reports a hostPort of 0, which means no host port.
  'hostPort 0 | host port': 'only Trivy',
  // Trivy judges the Deployment alone: the NetworkPolicy that closes the port is not read.
  'hostPort behind a default-deny policy | host port': 'only Trivy',
  // A host-network pod's ports are the host's: kube-inspector reports them as the host network.
  'hostNetwork and hostPort | host port': 'only Trivy',
  // A host-network pod that declares no container port: kube-inspector cannot name a port.
  'hostNetwork without container ports | host network': 'only Trivy',
  // Trivy has no check on the Service objects that open a way in, nor on Ingresses. (A
  // LoadBalancer's node port is allocated by the API server: a manifest has none yet.)
  'a LoadBalancer Service | Service of type LoadBalancer': 'only kube-inspector',
  'a NodePort Service | node port': 'only kube-inspector',
  'an Ingress in front of a ClusterIP Service | Ingress': 'only kube-inspector',
  'a LoadBalancer Service and a policy admitting the internet | Service of type LoadBalancer':
    'only kube-inspector',
  // kube-inspector does not read externalIPs (docs: Limits).
  'a ClusterIP Service with externalIPs | Service externalIPs': 'only Trivy',
  // KSV038 is a lint of the policy object (podSelector missing), not about any workload.
  'a NetworkPolicy without a podSelector | NetworkPolicy without a pod selector': 'only Trivy',
};

const workload = (spec: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: `registry.example/web@sha256:${'0'.repeat(64)}`,
            ports: [{ name: 'http', containerPort: 8080 }],
          },
        ],
        ...spec,
      },
    },
  },
});

const withPorts = (ports: Record<string, unknown>[], spec: Record<string, unknown> = {}) =>
  workload({
    containers: [{ name: 'web', image: `registry.example/web@sha256:${'0'.repeat(64)}`, ports }],
    ...spec,
  });

const service = (spec: Record<string, unknown>): Obj => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    ...spec,
  },
});

const policy = (spec: Record<string, unknown>): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'web', namespace: 'shop' },
  spec,
});

interface Case {
  name: string;
  objects: Obj[];
}

const CASES: Case[] = [
  { name: 'a Deployment with no way in', objects: [workload()] },
  { name: 'a hostPort', objects: [withPorts([{ containerPort: 8080, hostPort: 8080 }])] },
  { name: 'hostPort 0', objects: [withPorts([{ containerPort: 8080, hostPort: 0 }])] },
  {
    name: 'a hostPort on an init container',
    objects: [
      workload({
        initContainers: [
          {
            name: 'init',
            image: 'busybox@sha256:' + '1'.repeat(64),
            ports: [{ containerPort: 9000, hostPort: 9000 }],
          },
        ],
      }),
    ],
  },
  {
    name: 'hostPort behind a default-deny policy',
    objects: [
      withPorts([{ containerPort: 8080, hostPort: 8080 }]),
      policy({ podSelector: {}, policyTypes: ['Ingress'] }),
    ],
  },
  {
    name: 'hostPort and a policy admitting the internet',
    objects: [
      withPorts([{ containerPort: 8080, hostPort: 8080 }]),
      policy({
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
      }),
    ],
  },
  { name: 'hostNetwork', objects: [workload({ hostNetwork: true })] },
  {
    name: 'hostNetwork behind a default-deny policy',
    objects: [
      workload({ hostNetwork: true }),
      policy({ podSelector: {}, policyTypes: ['Ingress'] }),
    ],
  },
  {
    name: 'hostNetwork and hostPort',
    objects: [withPorts([{ containerPort: 8080, hostPort: 8080 }], { hostNetwork: true })],
  },
  {
    name: 'hostNetwork without container ports',
    objects: [withPorts([], { hostNetwork: true })],
  },
  { name: 'hostNetwork false', objects: [workload({ hostNetwork: false })] },
  { name: 'a ClusterIP Service', objects: [workload(), service({})] },
  { name: 'a LoadBalancer Service', objects: [workload(), service({ type: 'LoadBalancer' })] },
  {
    name: 'a NodePort Service',
    objects: [
      workload(),
      service({ type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }),
    ],
  },
  {
    name: 'an Ingress in front of a ClusterIP Service',
    objects: [
      workload(),
      service({}),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
      },
    ],
  },
  {
    name: 'a LoadBalancer Service behind a default-deny policy',
    objects: [
      workload(),
      service({ type: 'LoadBalancer' }),
      policy({ podSelector: {}, policyTypes: ['Ingress'] }),
    ],
  },
  {
    name: 'a LoadBalancer Service and a policy admitting the internet',
    objects: [
      workload(),
      service({ type: 'LoadBalancer' }),
      policy({
        podSelector: {},
        ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }] }],
      }),
    ],
  },
  {
    name: 'a ClusterIP Service with externalIPs',
    objects: [workload(), service({ externalIPs: ['203.0.113.10'] })],
  },
  {
    name: 'a bare Pod with a hostPort',
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'tool', namespace: 'shop', labels: { app: 'tool' } },
        spec: {
          containers: [
            {
              name: 'tool',
              image: `registry.example/tool@sha256:${'2'.repeat(64)}`,
              ports: [{ containerPort: 9000, hostPort: 9000 }],
            },
          ],
        },
      },
    ],
  },
  {
    name: "a static pod's mirror on the host network",
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'probe-node-1',
          namespace: 'kube-system',
          annotations: { 'kubernetes.io/config.mirror': 'b4f3e2a1' },
          ownerReferences: [
            { apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'u', controller: true },
          ],
        },
        spec: {
          hostNetwork: true,
          containers: [
            {
              name: 'probe',
              image: `registry.example/probe@sha256:${'3'.repeat(64)}`,
              ports: [{ containerPort: 9100 }],
            },
          ],
        },
      },
    ],
  },
  {
    name: 'a NetworkPolicy without a podSelector',
    objects: [workload(), { ...policy({ ingress: [{ from: [{}] }] }) }],
  },
];

/** Our rule ids for a case: the findings of its workload (the first object). */
function ours(c: Case): Set<string> {
  const [deployment, ...rest] = c.objects;
  const facts = workloadFacts(deployment!);
  if (typeof facts === 'string') throw new Error(facts);
  const of = (kind: string) => rest.filter((o) => o.kind === kind);
  const out = networkReachability.produce({
    workloads: [facts],
    cluster: {
      services: of('Service').map(serviceFacts),
      ingresses: of('Ingress').map(ingressFacts),
      httpRoutes: [],
      networkPolicies: of('NetworkPolicy').map(networkPolicyFacts),
    },
  });
  expect(out.notEvaluated).toEqual([]);
  return new Set(out.findings.map((f) => f.status.ruleId!));
}

describe('network-reachability compared with Trivy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'net-trivy-'));
  const trivy = new Map<string, Set<string>>();

  beforeAll(async () => {
    // One folder per case, one file per object: a Target names the case and the object.
    CASES.forEach((c, i) => {
      mkdirSync(join(dir, 'm', `case-${i}`), { recursive: true });
      c.objects.forEach((o, j) =>
        writeFileSync(join(dir, 'm', `case-${i}`, `${j}-${o.kind}.yaml`), stringify(o)),
      );
    });
    const report = await trivyConfig(join(dir, 'm'), join(dir, 'cache'));
    for (const r of report.Results ?? []) {
      const c = r.Target.split('/')[0]!;
      const ids = trivy.get(c) ?? new Set<string>();
      for (const m of r.Misconfigurations ?? []) if (m.Status !== 'PASS') ids.add(m.ID);
      trivy.set(c, ids);
    }
  }, 320_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Trivy read every object', () => {
    const files = readdirSync(join(dir, 'm'), { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => f.endsWith('.yaml'))).toHaveLength(
      CASES.flatMap((c) => c.objects).length,
    );
    // Every case has a Deployment Trivy judged (it fails some check of every Deployment here).
    expect(trivy.size).toBe(CASES.length);
  });

  it('agrees on every topic both look at, except the differences explained', () => {
    const found: Record<string, string> = {};
    CASES.forEach((c, i) => {
      const mine = ours(c);
      const theirs = trivy.get(`case-${i}`) ?? new Set<string>();
      for (const [topic, ids] of Object.entries(TOPICS)) {
        const a = ids.ours.some((id) => mine.has(id));
        const b = ids.trivy.some((id) => theirs.has(id));
        if (a !== b) found[`${c.name} | ${topic}`] = a ? 'only kube-inspector' : 'only Trivy';
      }
    });
    expect(found).toEqual(DIFFERENCES);
  });

  it('both report the plainly exposed cases', () => {
    // A sample both must report, so an empty answer on either side cannot pass as agreement.
    for (const [name, topic] of [
      ['a hostPort', 'host port'],
      ['a bare Pod with a hostPort', 'host port'],
      ["a static pod's mirror on the host network", 'host network'],
      ['a hostPort on an init container', 'host port'],
      ['hostNetwork', 'host network'],
      ['hostNetwork behind a default-deny policy', 'host network'],
    ] as const) {
      const i = CASES.findIndex((c) => c.name === name);
      expect(
        TOPICS[topic]!.trivy.some((id) => trivy.get(`case-${i}`)?.has(id)),
        `${name}: Trivy`,
      ).toBe(true);
      expect(
        TOPICS[topic]!.ours.some((id) => ours(CASES[i]!).has(id)),
        `${name}: kube-inspector`,
      ).toBe(true);
    }
  });
});
