/**
 * The workload rules packages' evaluation cost (`make bench`): security-best-practices and
 * network-reachability over a synthetic cluster, the pure evaluators alone (no API server).
 *
 * Sizes (environment): BENCH_RULE_WORKLOADS (5000 Deployments), BENCH_RULE_NAMESPACES (100),
 * BENCH_RULE_SERVICES (5000: one per workload, every fifth a LoadBalancer), BENCH_RULE_POLICIES
 * (one default-deny and one allow per namespace), BENCH_RULE_ROUTES (500 HTTPRoutes, one for
 * every tenth Service, attached to one of BENCH_RULE_GATEWAYS (10) Gateways, each with an HTTP
 * listener taking routes of every namespace and one taking routes of its own namespace only).
 * Prints the time of each package over all workloads, the findings they produce, and the heap
 * used.
 */
import { securityBestPractices } from '../src/rules/best-practices/evaluate.ts';
import type { NetworkPolicyFacts } from '../src/rules/network/policy.ts';
import type { GatewayFacts } from '../src/rules/network/gateway.ts';
import {
  networkReachability,
  type ClusterNetworkFacts,
  type HttpRouteFacts,
  type ServiceFacts,
} from '../src/rules/network/reachability.ts';
import { workloadFacts, type WorkloadFacts } from '../src/rules/workload.ts';

const size = (name: string, def: number): number => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`${name} must be a positive integer, not ${process.env[name]}`);
  return v;
};

const W = size('BENCH_RULE_WORKLOADS', 5000);
const NS = size('BENCH_RULE_NAMESPACES', 100);
const S = size('BENCH_RULE_SERVICES', W);

const workloads: WorkloadFacts[] = [];
for (let i = 0; i < W; i++) {
  const f = workloadFacts({
    kind: 'Deployment',
    metadata: { name: `app-${i}`, namespace: `ns-${i % NS}` },
    spec: {
      template: {
        metadata: { labels: { app: `app-${i}` } },
        spec: {
          securityContext: i % 2 === 0 ? { runAsNonRoot: true } : {},
          containers: [
            {
              name: 'main',
              image: `registry.example/app-${i}:1.0`,
              ports: [{ name: 'http', containerPort: 8080 }],
              securityContext: { allowPrivilegeEscalation: i % 3 === 0 },
            },
            { name: 'sidecar', image: `registry.example/proxy@sha256:${'a'.repeat(64)}` },
          ],
          volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }],
        },
      },
    },
  });
  if (typeof f === 'string') throw new Error(f);
  workloads.push(f);
}
const services: ServiceFacts[] = [];
for (let i = 0; i < S; i++) {
  services.push({
    namespace: `ns-${i % NS}`,
    name: `svc-${i}`,
    type: i % 5 === 0 ? 'LoadBalancer' : 'ClusterIP',
    selector: { app: `app-${i % W}` },
    ports: [{ port: 80, targetPort: 'http' }],
  });
}
const policies: NetworkPolicyFacts[] = [];
for (let n = 0; n < NS; n++) {
  policies.push({ namespace: `ns-${n}`, name: 'deny', podSelector: {}, policyTypes: ['Ingress'] });
  policies.push({
    namespace: `ns-${n}`,
    name: 'allow-web',
    podSelector: { matchLabels: { app: `app-${n}` } },
    ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 8080 }] }],
  });
}
const R = size('BENCH_RULE_ROUTES', Math.ceil(S / 10));
const G = size('BENCH_RULE_GATEWAYS', 10);
const gateways: GatewayFacts[] = [];
for (let g = 0; g < G; g++) {
  gateways.push({
    namespace: 'gateways',
    name: `gw-${g}`,
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP', from: 'All' },
      { name: 'internal', port: 8080, protocol: 'HTTP' },
    ],
  });
}
const httpRoutes: HttpRouteFacts[] = [];
for (let r = 0; r < R; r++) {
  const svc = services[(r * 10) % S]!;
  httpRoutes.push({
    namespace: svc.namespace,
    name: `route-${r}`,
    parentRefs: [{ namespace: 'gateways', name: `gw-${r % G}` }],
    backends: [{ name: svc.name, port: 80 }],
  });
}
const cluster: ClusterNetworkFacts = {
  services,
  ingresses: [],
  httpRoutes,
  gateways,
  networkPolicies: policies,
};

function time<T>(what: string, f: () => T): T {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const out = f();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  console.log(
    `${what}: ${ms.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms of CPU (${((cpuMs * 1000) / W).toFixed(0)} µs of CPU per workload)`,
  );
  return out;
}

console.log(
  `${W} workloads in ${NS} namespaces, ${S} Services, ${policies.length} NetworkPolicies, ${R} HTTPRoutes on ${G} Gateways`,
);
const sbp = time('security-best-practices', () => securityBestPractices.produce(workloads));
console.log(`  ${sbp.findings.length} findings`);
// Per namespace, as the controller evaluates (each workload against its namespace's objects).
const byNs = new Map<string, ClusterNetworkFacts>();
for (let n = 0; n < NS; n++) {
  const ns = `ns-${n}`;
  byNs.set(ns, {
    services: services.filter((s) => s.namespace === ns),
    ingresses: [],
    httpRoutes: httpRoutes.filter((r) => r.namespace === ns),
    gateways,
    networkPolicies: policies.filter((p) => p.namespace === ns),
  });
}
const nr = time('network-reachability (per namespace)', () =>
  workloads.flatMap(
    (w) =>
      networkReachability.produce({ workloads: [w], cluster: byNs.get(w.namespace)! }).findings,
  ),
);
console.log(`  ${nr.length} findings`);
const all = time('network-reachability (whole cluster at once)', () =>
  networkReachability.produce({ workloads, cluster }),
);
console.log(`  ${all.findings.length} findings`);
if (global.gc) global.gc();
console.log(`heap used: ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
