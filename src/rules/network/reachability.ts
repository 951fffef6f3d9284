/**
 * The `network-reachability` rules package: for each workload, every way traffic from outside
 * the cluster can reach its pods, and whether the NetworkPolicies that select them admit it.
 *
 * Ways in (each one a path, outermost step first):
 * - a Service of type LoadBalancer:   LoadBalancer → Service → Pod
 * - a Service of type NodePort (and a LoadBalancer's node port): Node → Service → Pod
 * - an Ingress backend:               Ingress → Service → Pod
 * - a Gateway API HTTPRoute backend:  Gateway listener → HTTPRoute → Service → Pod, only
 *   through a listener of an existing Gateway that accepts the route (gateway.ts)
 * - a container hostPort:             Node → Pod
 * - hostNetwork:                      Node → Pod, every container port (NetworkPolicies do not
 *   apply to host-network pods)
 *
 * A Service reaches the pods its selector selects (same namespace), on the target port of each
 * of its ports (a number, or a container port's name). A path whose traffic the pod's
 * NetworkPolicies do not admit from outside gives no finding. One NETWORK_REACHABILITY finding
 * per workload, way in and port.
 */
import type { Severity } from '../../api/v1alpha1/common.ts';
import type { ComputedStatus } from '../../findings/build.ts';
import {
  buildRuleFinding,
  sortFindings,
  type FindingProducer,
  type ProducedFindings,
} from '../producer.ts';
import { workloadId, workloadResource, type WorkloadFacts } from '../workload.ts';
import { acceptingListeners, type GatewayFacts, type ParentRef } from './gateway.ts';
import {
  admits,
  type Admission,
  type NetworkPolicyFacts,
  type PolicyPod,
  type Protocol,
} from './policy.ts';

export interface ServicePortFacts {
  name?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
  protocol?: Protocol;
}

export interface ServiceFacts {
  namespace: string;
  name: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  selector?: Record<string, string>;
  ports: ServicePortFacts[];
}

/** An Ingress, its backends flattened (default backend and every rule path). */
export interface IngressFacts {
  namespace: string;
  name: string;
  backends: { service: string; port: number | string }[];
}

/** A Gateway API HTTPRoute (present only where its CRD is installed). */
export interface HttpRouteFacts {
  namespace: string;
  name: string;
  /** Its references to Gateways (other parents are not ways in). */
  parentRefs: ParentRef[];
  hostnames?: string[];
  backends: { namespace?: string; name: string; port?: number }[];
}

export interface ClusterNetworkFacts {
  services: readonly ServiceFacts[];
  ingresses: readonly IngressFacts[];
  httpRoutes: readonly HttpRouteFacts[];
  /** Gateways of every namespace (a route counts only through a listener that accepts it). */
  gateways?: readonly GatewayFacts[];
  /** Namespace labels, for listeners that allow routes from namespaces by selector. */
  namespaceLabels?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  networkPolicies: readonly NetworkPolicyFacts[];
}

export interface ReachabilityFacts {
  workloads: readonly WorkloadFacts[];
  cluster: ClusterNetworkFacts;
}

export type EntryType =
  'LoadBalancer' | 'NodePort' | 'Ingress' | 'HTTPRoute' | 'HostPort' | 'HostNetwork';

export interface PathStep {
  componentType: string;
  componentId: string;
}

/** One way in from outside that the pod's policies admit. */
export interface Exposure {
  entry: EntryType;
  /** The object (or node port) traffic enters through. */
  entryId: string;
  /** Pod port and protocol the traffic arrives on. */
  port: number;
  protocol: Protocol;
  path: PathStep[];
  admission: Admission;
}

interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: Protocol;
  hostPort?: number;
}

function containerPorts(w: WorkloadFacts): ContainerPort[] {
  const spec = w.template.spec ?? {};
  const out: ContainerPort[] = [];
  for (const list of ['containers', 'initContainers'] as const) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs as { ports?: unknown }[]) {
      if (!Array.isArray(c.ports)) continue;
      for (const p of c.ports as Record<string, unknown>[]) {
        if (typeof p.containerPort !== 'number') continue;
        out.push({
          containerPort: p.containerPort,
          protocol: (typeof p.protocol === 'string' ? p.protocol : 'TCP') as Protocol,
          ...(typeof p.name === 'string' ? { name: p.name } : {}),
          ...(typeof p.hostPort === 'number' && p.hostPort > 0 ? { hostPort: p.hostPort } : {}),
        });
      }
    }
  }
  return out;
}

function policyPod(w: WorkloadFacts, ports: ContainerPort[]): PolicyPod {
  const named = new Map<string, { port: number; protocol: Protocol }>();
  for (const p of ports)
    if (p.name !== undefined) named.set(p.name, { port: p.containerPort, protocol: p.protocol });
  return { namespace: w.namespace, labels: w.template.metadata?.labels ?? {}, namedPorts: named };
}

function selects(svc: ServiceFacts, w: WorkloadFacts): boolean {
  const sel = svc.selector ?? {};
  const labels = w.template.metadata?.labels ?? {};
  const keys = Object.keys(sel);
  return (
    svc.namespace === w.namespace && keys.length > 0 && keys.every((k) => labels[k] === sel[k])
  );
}

/** The pod port a Service port sends to, or undefined when this pod has no such port. */
function targetOf(sp: ServicePortFacts, pod: PolicyPod): number | undefined {
  const t = sp.targetPort ?? sp.port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return pod.namedPorts.get(t)?.port;
}

const NONE: ReadonlyMap<string, Readonly<Record<string, string>>> = new Map();

const step = (componentType: string, componentId: string): PathStep => ({
  componentType,
  componentId,
});

interface Candidate {
  entry: EntryType;
  entryId: string;
  port: number;
  protocol: Protocol;
  path: PathStep[];
  /** hostNetwork pods are outside NetworkPolicy. */
  hostNetwork?: boolean;
}

/** The HTTPRoutes sending to a Service port, through the Gateway listeners accepting them. */
function routeCandidates(
  c: ClusterNetworkFacts,
  svc: ServiceFacts,
  sp: ServicePortFacts,
  to: { port: number; protocol: Protocol; svcStep: PathStep; podStep: (p: number) => PathStep },
): Candidate[] {
  const out: Candidate[] = [];
  for (const route of c.httpRoutes) {
    for (const b of route.backends) {
      if ((b.namespace ?? route.namespace) !== svc.namespace || b.name !== svc.name) continue;
      if (b.port !== undefined && b.port !== sp.port) continue;
      // A way in only through a Gateway listener that accepts the route.
      const listeners = acceptingListeners(route, c.gateways ?? [], c.namespaceLabels ?? NONE);
      if (listeners.length === 0) continue;
      const routeId = `${route.namespace}/${route.name}`;
      const gatewaySteps = [...new Set(listeners.map((l) => `${l.gateway}:${l.port}`))];
      out.push({
        entry: 'HTTPRoute',
        entryId: routeId,
        port: to.port,
        protocol: to.protocol,
        path: [
          ...gatewaySteps.map((g) => step('Gateway', g)),
          step('HTTPRoute', routeId),
          to.svcStep,
          to.podStep(to.port),
        ],
      });
    }
  }
  return out;
}

function serviceCandidates(
  w: WorkloadFacts,
  c: ClusterNetworkFacts,
  pod: PolicyPod,
  podStep: (p: number) => PathStep,
): Candidate[] {
  const out: Candidate[] = [];
  for (const svc of c.services) {
    if (!selects(svc, w)) continue;
    const svcId = `${svc.namespace}/${svc.name}`;
    for (const sp of svc.ports) {
      const port = targetOf(sp, pod);
      if (port === undefined) continue;
      const protocol = sp.protocol ?? 'TCP';
      const svcStep = step('Service', `${svcId}:${sp.port}`);
      if (svc.type === 'LoadBalancer') {
        out.push({
          entry: 'LoadBalancer',
          entryId: `${svcId}:${sp.port}`,
          port,
          protocol,
          path: [step('LoadBalancer', `${svcId}:${sp.port}`), svcStep, podStep(port)],
        });
      }
      if (svc.type === 'NodePort' || (svc.type === 'LoadBalancer' && sp.nodePort !== undefined)) {
        const node = `*:${sp.nodePort ?? 'allocated'}`;
        out.push({
          entry: 'NodePort',
          entryId: `${svcId}:${node}`,
          port,
          protocol,
          path: [step('NodePort', node), svcStep, podStep(port)],
        });
      }
      for (const ing of c.ingresses) {
        if (ing.namespace !== svc.namespace) continue;
        for (const b of ing.backends) {
          if (b.service !== svc.name || (b.port !== sp.port && b.port !== sp.name)) continue;
          const ingId = `${ing.namespace}/${ing.name}`;
          out.push({
            entry: 'Ingress',
            entryId: ingId,
            port,
            protocol,
            path: [step('Ingress', ingId), svcStep, podStep(port)],
          });
        }
      }
      out.push(...routeCandidates(c, svc, sp, { port, protocol, svcStep, podStep }));
    }
  }
  return out;
}

/** Every way in from outside the cluster that the workload's NetworkPolicies admit. */
export function workloadExposures(w: WorkloadFacts, c: ClusterNetworkFacts): Exposure[] {
  const ports = containerPorts(w);
  const pod = policyPod(w, ports);
  const podStep = (p: number) => step('Pod', `${workloadId(w)}:${p}`);
  const candidates = serviceCandidates(w, c, pod, podStep);
  const hostNetwork = w.template.spec?.hostNetwork === true;
  for (const p of ports) {
    if (p.hostPort !== undefined && !hostNetwork) {
      const node = `*:${p.hostPort}`;
      candidates.push({
        entry: 'HostPort',
        entryId: node,
        port: p.containerPort,
        protocol: p.protocol,
        path: [step('HostPort', node), podStep(p.containerPort)],
      });
    }
    if (hostNetwork) {
      const node = `*:${p.containerPort}`;
      candidates.push({
        entry: 'HostNetwork',
        entryId: node,
        port: p.containerPort,
        protocol: p.protocol,
        path: [step('HostNetwork', node), podStep(p.containerPort)],
        hostNetwork: true,
      });
    }
  }
  const out: Exposure[] = [];
  const seen = new Set<string>();
  for (const cand of candidates) {
    const key = `${cand.entry}|${cand.entryId}|${cand.port}|${cand.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const admission: Admission = hostNetwork
      ? {
          admitted: true,
          reason: 'the pod uses the host network: NetworkPolicies do not apply to it',
          policies: [],
        }
      : admits(c.networkPolicies, pod, { kind: 'external' }, cand.port, cand.protocol);
    if (!admission.admitted) continue;
    out.push({
      entry: cand.entry,
      entryId: cand.entryId,
      port: cand.port,
      protocol: cand.protocol,
      path: [step('Internet', 'outside the cluster'), ...cand.path],
      admission,
    });
  }
  return out;
}

const ENTRY_WORDS: Record<EntryType, string> = {
  LoadBalancer: 'a LoadBalancer Service',
  NodePort: 'a NodePort',
  Ingress: 'Ingress',
  HTTPRoute: 'HTTPRoute',
  HostPort: 'a hostPort',
  HostNetwork: 'the host network',
};

function severityOf(e: Exposure): Severity {
  // An explicit policy admitting it: exposure someone chose. No policy at all: nobody did.
  return e.admission.policies.length > 0 ? 'LOW' : 'MEDIUM';
}

export const networkReachability: FindingProducer<ReachabilityFacts> = {
  rulesPackage: 'network-reachability',
  findingType: 'NETWORK_REACHABILITY',
  produce({ workloads, cluster }): ProducedFindings {
    const notEvaluated: ProducedFindings['notEvaluated'] = [];
    const findings = workloads.flatMap((w) =>
      workloadExposures(w, cluster)
        .filter((e) => {
          if (e.protocol !== 'SCTP') return true;
          notEvaluated.push({
            id: workloadId(w),
            reason: `port ${e.port}/SCTP is reachable through ${e.entry} ${e.entryId}, but findings record TCP and UDP ports only`,
          });
          return false;
        })
        .map((e) => {
          const through =
            e.entry === 'HostPort' || e.entry === 'HostNetwork' || e.entry === 'NodePort'
              ? `${ENTRY_WORDS[e.entry]} (${e.entryId})`
              : `${ENTRY_WORDS[e.entry]} ${e.entryId}`;
          const extra: Partial<ComputedStatus> = {
            networkReachabilityDetails: {
              protocol: e.protocol as 'TCP' | 'UDP',
              openPortRange: { begin: e.port, end: e.port },
              networkPath: e.path.slice(0, 30),
            },
          };
          return buildRuleFinding(networkReachability, workloadResource(w), {
            ruleId: `NETWORK-REACHABILITY-${e.entry.toUpperCase()}`,
            identity: `${e.entryId}|${e.port}/${e.protocol}`,
            title: `Port ${e.port} of ${w.kind} ${w.namespace}/${w.name} is reachable from outside the cluster through ${through} - ${e.protocol}`,
            description: `Traffic from outside the cluster reaches port ${e.port}/${e.protocol} of the pods of ${w.kind} ${w.namespace}/${w.name}: ${e.path.map((s) => `${s.componentType} ${s.componentId}`).join(' -> ')}. ${e.admission.reason}${e.admission.sources !== undefined && e.admission.sources.length > 0 ? ` from ${e.admission.sources.join(', ')}` : ''}.`,
            severity: severityOf(e),
            recommendation: {
              text:
                e.admission.policies.length === 0
                  ? 'If the port is not meant to be public, remove the way in, or add a NetworkPolicy that selects the pods and admits only the sources that need it.'
                  : 'Check that the NetworkPolicies admitting this traffic admit only the sources that need it.',
              url: 'https://kubernetes.io/docs/concepts/services-networking/network-policies/',
            },
            details: { found: e.admission.reason },
            extra,
          });
        }),
    );
    return { findings: sortFindings(findings), notEvaluated };
  },
};
