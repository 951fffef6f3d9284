import { describe, expect, it } from 'vitest';
import { FindingStatusSchema } from '../../api/v1alpha1/finding.ts';
import { workloadFacts, type WorkloadFacts } from '../workload.ts';
import type { GatewayFacts } from './gateway.ts';
import type { NetworkPolicyFacts } from './policy.ts';
import {
  networkReachability,
  workloadExposures,
  type ClusterNetworkFacts,
  type ServiceFacts,
} from './reachability.ts';

function web(spec: Record<string, unknown> = {}): WorkloadFacts {
  const f = workloadFacts({
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      template: {
        metadata: { labels: { app: 'web', tier: 'front' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'web:1',
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'metrics', containerPort: 9090 },
              ],
            },
          ],
          ...spec,
        },
      },
    },
  });
  if (typeof f === 'string') throw new Error(f);
  return f;
}

const svc = (over: Partial<ServiceFacts> = {}): ServiceFacts => ({
  namespace: 'shop',
  name: 'web',
  type: 'ClusterIP',
  selector: { app: 'web' },
  ports: [{ name: 'http', port: 80, targetPort: 'http' }],
  ...over,
});

const cluster = (over: Partial<ClusterNetworkFacts> = {}): ClusterNetworkFacts => ({
  services: [],
  ingresses: [],
  httpRoutes: [],
  networkPolicies: [],
  ...over,
});

/** A Gateway with HTTP and HTTPS listeners taking routes from every namespace. */
const publicGateway: GatewayFacts = {
  namespace: 'infra',
  name: 'public',
  listeners: [
    { name: 'http', port: 80, protocol: 'HTTP', from: 'All' },
    { name: 'https', port: 443, protocol: 'HTTPS', from: 'All' },
  ],
};

const denyAll: NetworkPolicyFacts = {
  namespace: 'shop',
  name: 'deny-all',
  podSelector: {},
  policyTypes: ['Ingress'],
};
const fromInternet: NetworkPolicyFacts = {
  namespace: 'shop',
  name: 'web-from-internet',
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 'http' }] }],
};
const fromPodsOnly: NetworkPolicyFacts = {
  namespace: 'shop',
  name: 'web-from-frontends',
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { role: 'frontend' } } }] }],
};

interface Case {
  name: string;
  workload?: WorkloadFacts;
  cluster: ClusterNetworkFacts;
  /** `entry entryId port/protocol`, in order. */
  exposures: string[];
}

const CASES: Case[] = [
  { name: 'no Service: not reachable', cluster: cluster(), exposures: [] },
  {
    name: 'a ClusterIP Service alone: not reachable',
    cluster: cluster({ services: [svc()] }),
    exposures: [],
  },
  {
    name: 'an Ingress in front of a ClusterIP Service, by port number',
    cluster: cluster({
      services: [svc()],
      ingresses: [{ namespace: 'shop', name: 'web', backends: [{ service: 'web', port: 80 }] }],
    }),
    exposures: ['Ingress shop/web 8080/TCP'],
  },
  {
    name: 'an Ingress naming the Service port',
    cluster: cluster({
      services: [svc()],
      ingresses: [{ namespace: 'shop', name: 'web', backends: [{ service: 'web', port: 'http' }] }],
    }),
    exposures: ['Ingress shop/web 8080/TCP'],
  },
  {
    name: 'an Ingress of another namespace does not reach the Service',
    cluster: cluster({
      services: [svc()],
      ingresses: [{ namespace: 'other', name: 'web', backends: [{ service: 'web', port: 80 }] }],
    }),
    exposures: [],
  },
  {
    name: 'a NodePort Service',
    cluster: cluster({
      services: [
        svc({ type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }),
      ],
    }),
    exposures: ['NodePort shop/web:*:30080 8080/TCP'],
  },
  {
    name: 'a LoadBalancer Service and its node port',
    cluster: cluster({
      services: [
        svc({ type: 'LoadBalancer', ports: [{ port: 443, targetPort: 8080, nodePort: 31443 }] }),
      ],
    }),
    exposures: ['LoadBalancer shop/web:443 8080/TCP', 'NodePort shop/web:*:31443 8080/TCP'],
  },
  {
    name: 'a Service whose selector does not match the pods',
    cluster: cluster({ services: [svc({ type: 'LoadBalancer', selector: { app: 'api' } })] }),
    exposures: [],
  },
  {
    name: 'a Service with no selector selects nothing',
    cluster: cluster({ services: [svc({ type: 'LoadBalancer', selector: {} })] }),
    exposures: [],
  },
  {
    name: 'a target port the pod does not have',
    cluster: cluster({
      services: [svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 'grpc' }] })],
    }),
    exposures: [],
  },
  {
    name: 'an HTTPRoute attached to a Gateway',
    cluster: cluster({
      services: [svc()],
      gateways: [publicGateway],
      httpRoutes: [
        {
          namespace: 'shop',
          name: 'web',
          parentRefs: [{ namespace: 'infra', name: 'public' }],
          backends: [{ name: 'web', port: 80 }],
        },
      ],
    }),
    exposures: ['HTTPRoute shop/web 8080/TCP'],
  },
  {
    name: 'an HTTPRoute naming a Gateway that does not exist is no way in',
    cluster: cluster({
      services: [svc()],
      gateways: [publicGateway],
      httpRoutes: [
        {
          namespace: 'shop',
          name: 'web',
          parentRefs: [{ namespace: 'infra', name: 'missing' }],
          backends: [{ name: 'web', port: 80 }],
        },
      ],
    }),
    exposures: [],
  },
  {
    name: 'an HTTPRoute the Gateway allows only from its own namespace is no way in',
    cluster: cluster({
      services: [svc()],
      gateways: [{ ...publicGateway, listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }],
      httpRoutes: [
        {
          namespace: 'shop',
          name: 'web',
          parentRefs: [{ namespace: 'infra', name: 'public' }],
          backends: [{ name: 'web', port: 80 }],
        },
      ],
    }),
    exposures: [],
  },
  {
    name: 'default deny closes a LoadBalancer',
    cluster: cluster({
      services: [svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }] })],
      networkPolicies: [denyAll],
    }),
    exposures: [],
  },
  {
    name: 'a policy admitting the internet on the http port opens it again',
    cluster: cluster({
      services: [
        svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }, { port: 9090 }] }),
      ],
      networkPolicies: [denyAll, fromInternet],
    }),
    exposures: ['LoadBalancer shop/web:80 8080/TCP'],
  },
  {
    name: 'a policy admitting only pods keeps the outside out',
    cluster: cluster({
      services: [svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }] })],
      networkPolicies: [fromPodsOnly],
    }),
    exposures: [],
  },
  {
    name: 'a hostPort',
    workload: web({
      containers: [{ name: 'web', ports: [{ containerPort: 8080, hostPort: 80 }] }],
    }),
    cluster: cluster(),
    exposures: ['HostPort *:80 8080/TCP'],
  },
  {
    name: 'a hostPort behind default deny',
    workload: web({
      containers: [{ name: 'web', ports: [{ containerPort: 8080, hostPort: 80 }] }],
    }),
    cluster: cluster({ networkPolicies: [denyAll] }),
    exposures: [],
  },
  {
    name: 'the host network: every port, whatever the policies',
    workload: web({
      hostNetwork: true,
      containers: [
        {
          name: 'dns',
          ports: [
            { containerPort: 53, protocol: 'UDP' },
            { containerPort: 53, protocol: 'TCP' },
          ],
        },
      ],
    }),
    cluster: cluster({ networkPolicies: [denyAll] }),
    exposures: ['HostNetwork *:53 53/UDP', 'HostNetwork *:53 53/TCP'],
  },
];

describe('network-reachability: ways in from outside', () => {
  it.each(CASES)('$name', ({ workload, cluster: c, exposures }) => {
    const got = workloadExposures(workload ?? web(), c).map(
      (e) => `${e.entry} ${e.entryId} ${e.port}/${e.protocol}`,
    );
    expect(got).toEqual(exposures);
  });

  it('names the whole path, outermost first', () => {
    const [e] = workloadExposures(
      web(),
      cluster({
        services: [svc()],
        gateways: [publicGateway],
        httpRoutes: [
          {
            namespace: 'shop',
            name: 'web',
            parentRefs: [{ namespace: 'infra', name: 'public' }],
            backends: [{ name: 'web' }],
          },
        ],
      }),
    );
    // Both listeners accept the route: the path names each by its port.
    expect(e?.path).toEqual([
      { componentType: 'Internet', componentId: 'outside the cluster' },
      { componentType: 'Gateway', componentId: 'infra/public:80' },
      { componentType: 'Gateway', componentId: 'infra/public:443' },
      { componentType: 'HTTPRoute', componentId: 'shop/web' },
      { componentType: 'Service', componentId: 'shop/web:80' },
      { componentType: 'Pod', componentId: 'shop/Deployment/web:8080' },
    ]);
  });
});

describe('network-reachability producer', () => {
  it('writes valid NETWORK_REACHABILITY findings: MEDIUM when no policy chose it, LOW when one did', () => {
    const c = cluster({
      services: [svc({ type: 'LoadBalancer', ports: [{ port: 443, targetPort: 8080 }] })],
      ingresses: [{ namespace: 'shop', name: 'web', backends: [{ service: 'web', port: 443 }] }],
    });
    const open = networkReachability.produce({ workloads: [web()], cluster: c });
    expect(open.notEvaluated).toEqual([]);
    expect(open.findings.map((f) => `${f.status.ruleId} ${f.status.severity}`).sort()).toEqual([
      'NETWORK-REACHABILITY-INGRESS MEDIUM',
      'NETWORK-REACHABILITY-LOADBALANCER MEDIUM',
    ]);
    const ingress = open.findings.find((f) => f.status.ruleId === 'NETWORK-REACHABILITY-INGRESS')!;
    expect(ingress.status).toMatchObject({
      type: 'NETWORK_REACHABILITY',
      rulesPackage: 'network-reachability',
      title:
        'Port 8080 of Deployment shop/web is reachable from outside the cluster through Ingress shop/web - TCP',
      networkReachabilityDetails: {
        protocol: 'TCP',
        openPortRange: { begin: 8080, end: 8080 },
        networkPath: [
          { componentType: 'Internet', componentId: 'outside the cluster' },
          { componentType: 'Ingress', componentId: 'shop/web' },
          { componentType: 'Service', componentId: 'shop/web:443' },
          { componentType: 'Pod', componentId: 'shop/Deployment/web:8080' },
        ],
      },
      ruleDetails: { found: 'no NetworkPolicy selects the pod (default allow)' },
    });
    for (const f of open.findings)
      expect(FindingStatusSchema.safeParse(f.status).success).toBe(true);

    const chosen = networkReachability.produce({
      workloads: [web()],
      cluster: { ...c, networkPolicies: [fromInternet] },
    });
    expect(chosen.findings.map((f) => f.status.severity)).toEqual(['LOW', 'LOW']);
    expect(chosen.findings[0]!.status.description).toContain(
      'admitted by NetworkPolicy shop/web-from-internet from 0.0.0.0/0',
    );
  });

  it('reports an SCTP port it cannot record instead of dropping it', () => {
    const w = web({
      containers: [
        { name: 'sig', ports: [{ containerPort: 3868, protocol: 'SCTP', hostPort: 3868 }] },
      ],
    });
    const out = networkReachability.produce({ workloads: [w], cluster: cluster() });
    expect(out.findings).toEqual([]);
    expect(out.notEvaluated).toEqual([
      {
        id: 'shop/Deployment/web',
        reason:
          'port 3868/SCTP is reachable through HostPort *:3868, but findings record TCP and UDP ports only',
      },
    ]);
  });
});
