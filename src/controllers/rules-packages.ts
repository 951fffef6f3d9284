/**
 * The facts the workload rules packages read, gathered from the controllers' caches, and the
 * producers that turn them into findings. Both the assessment runs and the continuous findings
 * controller come through here, so a rules package is evaluated the same way in both.
 */
import { CIS_CHECKS } from '../agent/cis/checks.ts';
import type { RulesPackage } from '../api/v1alpha1/common.ts';
import type { NodeInventory } from '../api/v1alpha1/node-inventory.ts';
import type { BuiltFinding } from '../findings/build.ts';
import type { Cache } from '../kube/cache.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';
import type { Manager } from '../runtime/manager.ts';
import { securityBestPractices } from '../rules/best-practices/evaluate.ts';
import { cisBenchmark, type NodeCisFacts } from '../rules/cis.ts';
import {
  gatewayFacts,
  httpRouteFacts,
  ingressFacts,
  networkPolicyFacts,
  serviceFacts,
} from '../rules/network/objects.ts';
import {
  networkReachability,
  workloadExposures,
  type ClusterNetworkFacts,
} from '../rules/network/reachability.ts';
import { adjustScore, type ExposureFacts } from '../rules/score.ts';
import type { NotEvaluated } from '../rules/producer.ts';
import {
  workloadFacts,
  workloadId,
  type PodTemplate,
  type WorkloadFacts,
} from '../rules/workload.ts';
import { informers, keepsPodSpec } from './informers.ts';

/** Rules packages whose findings are about workloads. */
export const WORKLOAD_RULES_PACKAGES: readonly RulesPackage[] = [
  'security-best-practices',
  'network-reachability',
];

/** The kinds network-reachability reads besides the workloads. */
export const NETWORK_RESOURCES = {
  services: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  ingresses: {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
  },
  networkPolicies: {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
  },
  /** Gateway API Gateways and routes: served only where the Gateway API's CRDs are installed. */
  gateways: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'gateways',
    kind: 'Gateway',
    namespaced: true,
  },
  httpRoutes: {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    kind: 'HTTPRoute',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

export interface NetworkCaches {
  services: Cache;
  ingresses: Cache;
  networkPolicies: Cache;
  /** Empty where the Gateway API is not installed; fills once it is. */
  httpRoutes: Cache;
  /** Empty where the Gateway API is not installed; fills once it is. */
  gateways: Cache;
  /** Namespaces (labels), for Gateway listeners that allow routes by namespace selector. */
  namespaces: Cache;
}

export interface WorkloadCaches {
  /** Workload objects by kind (Deployment, StatefulSet, DaemonSet, Job, CronJob). */
  workloads: ReadonlyMap<string, Cache>;
  /** Pods: whole specs for the pods that are workloads of their own (keepsPodSpec). */
  pods: Cache;
  /** ReplicaSets, whose template stands for a pod of a ReplicaSet no Deployment runs. */
  replicaSets: Cache;
  serviceAccounts: Cache;
  network: NetworkCaches;
}

/** Keeps the metadata (without managedFields and annotations) and the spec. */
function trimToSpec(obj: KubeObject): KubeObject {
  const { managedFields: _drop, annotations: _a, ...metadata } = obj.metadata;
  return {
    ...(obj.apiVersion !== undefined ? { apiVersion: obj.apiVersion } : {}),
    ...(obj.kind !== undefined ? { kind: obj.kind } : {}),
    metadata,
    spec: obj.spec,
  };
}

/**
 * Creates (or joins) the caches of Services, Ingresses, NetworkPolicies, Gateway API Gateways and
 * HTTPRoutes, and Namespaces.
 */
export function networkCaches(m: Manager): NetworkCaches {
  return {
    services: m.informer(NETWORK_RESOURCES.services, { transform: trimToSpec }),
    ingresses: m.informer(NETWORK_RESOURCES.ingresses, { transform: trimToSpec }),
    networkPolicies: m.informer(NETWORK_RESOURCES.networkPolicies, { transform: trimToSpec }),
    httpRoutes: m.informer(NETWORK_RESOURCES.httpRoutes, { transform: trimToSpec, optional: {} }),
    gateways: m.informer(NETWORK_RESOURCES.gateways, { transform: trimToSpec, optional: {} }),
    namespaces: informers.namespaces(m),
  };
}

/** The network facts of the namespaces given, from the caches. */
export function clusterNetworkFacts(
  c: NetworkCaches,
  namespaces: ReadonlySet<string>,
): ClusterNetworkFacts {
  const inScope = (o: KubeObject) => namespaces.has(o.metadata.namespace ?? '');
  // Routes of any namespace (a backendRef may name a Service of another one) and the Gateways
  // of every namespace they attach to.
  const routes = c.httpRoutes.list().map(httpRouteFacts);
  const reaching = routes.filter((r) =>
    r.backends.some((b) => namespaces.has(b.namespace ?? r.namespace)),
  );
  return {
    services: c.services.list().filter(inScope).map(serviceFacts),
    ingresses: c.ingresses.list().filter(inScope).map(ingressFacts),
    httpRoutes: reaching,
    gateways: reaching.length > 0 ? c.gateways.list().map(gatewayFacts) : [],
    namespaceLabels: new Map(
      reaching.length > 0
        ? c.namespaces.list().map((n) => [n.metadata.name, n.metadata.labels ?? {}])
        : [],
    ),
    networkPolicies: c.networkPolicies.list().filter(inScope).map(networkPolicyFacts),
  };
}

export interface WorkloadRef {
  namespace: string;
  kind: string;
  name: string;
}

/** The facts of one workload from the caches, or why there are none. */
export function workloadFactsOf(c: WorkloadCaches, ref: WorkloadRef): WorkloadFacts | string {
  const facts = ref.kind === 'Pod' ? podFacts(c, ref) : controllerFacts(c, ref);
  if (typeof facts === 'string') return facts;
  const spec = facts.template.spec ?? {};
  const saName =
    typeof spec.serviceAccountName === 'string' && spec.serviceAccountName !== ''
      ? spec.serviceAccountName
      : 'default';
  const sa = c.serviceAccounts.get(`${ref.namespace}/${saName}`) as
    (KubeObject & { automountServiceAccountToken?: boolean }) | undefined;
  if (sa !== undefined) {
    facts.serviceAccount =
      typeof sa.automountServiceAccountToken === 'boolean'
        ? { automountServiceAccountToken: sa.automountServiceAccountToken }
        : {};
  }
  return facts;
}

/**
 * The object whose pod template the pod-template secret scan reads for `ref`
 * (`scanWorkloadTemplate(ref.kind, object)`), or why there is none: a controller's own object;
 * for a pod that is a workload of its own, its spec, or the template of the ReplicaSet no
 * Deployment runs that it was made from (the field paths stay the pod's own).
 */
export function templateObjectOf(c: WorkloadCaches, ref: WorkloadRef): object | string {
  if (ref.kind !== 'Pod')
    return (
      c.workloads.get(ref.kind)?.get(`${ref.namespace}/${ref.name}`) ??
      `${ref.kind} ${ref.namespace}/${ref.name} no longer exists`
    );
  const facts = podFacts(c, ref);
  return typeof facts === 'string' ? facts : { spec: facts.template.spec };
}

function controllerFacts(c: WorkloadCaches, ref: WorkloadRef): WorkloadFacts | string {
  const obj = c.workloads.get(ref.kind)?.get(`${ref.namespace}/${ref.name}`);
  if (obj === undefined) return `${ref.kind} ${ref.namespace}/${ref.name} no longer exists`;
  return workloadFacts({ ...(obj as KubeObject & Record<string, unknown>), kind: ref.kind });
}

/**
 * A pod that is a workload of its own (no controller, a static pod's mirror, a controller
 * kube-inspector does not know): its own metadata and spec, kept whole in the cache. A pod of a
 * ReplicaSet that no Deployment runs is evaluated through the ReplicaSet's pod template, which
 * its spec was made from (the field paths stay the pod's own).
 */
function podFacts(c: WorkloadCaches, ref: WorkloadRef): WorkloadFacts | string {
  const pod = c.pods.get(`${ref.namespace}/${ref.name}`);
  if (pod === undefined) return `Pod ${ref.namespace}/${ref.name} no longer exists`;
  if (keepsPodSpec(pod.metadata))
    return workloadFacts({ ...(pod as KubeObject & Record<string, unknown>), kind: 'Pod' });
  const owner = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  const rs =
    owner?.kind === 'ReplicaSet'
      ? (c.replicaSets.get(`${ref.namespace}/${owner.name}`) as
          (KubeObject & { spec?: { template?: PodTemplate } }) | undefined)
      : undefined;
  const template = rs?.spec?.template;
  if (template?.spec === undefined)
    return `Pod ${ref.namespace}/${ref.name}: the pod template of its ${owner?.kind ?? 'controller'} ${owner?.name ?? ''} is not known yet`;
  return {
    namespace: ref.namespace,
    kind: 'Pod',
    name: ref.name,
    template: {
      metadata: {
        ...template.metadata,
        ...(pod.metadata.labels !== undefined ? { labels: pod.metadata.labels } : {}),
      },
      spec: template.spec,
    },
    templatePath: '',
  };
}

/** The findings of the workload rules packages among `packages` for these workloads. */
export function produceWorkloadFindings(
  packages: readonly RulesPackage[],
  facts: readonly WorkloadFacts[],
  network: NetworkCaches,
): { findings: BuiltFinding[]; notEvaluated: NotEvaluated[] } {
  const findings: BuiltFinding[] = [];
  const notEvaluated: NotEvaluated[] = [];
  if (packages.includes('security-best-practices')) {
    const out = securityBestPractices.produce(facts);
    findings.push(...out.findings);
    notEvaluated.push(...out.notEvaluated);
  }
  if (packages.includes('network-reachability')) {
    const cluster = clusterNetworkFacts(network, new Set(facts.map((f) => f.namespace)));
    const out = networkReachability.produce({ workloads: facts, cluster });
    findings.push(...out.findings);
    notEvaluated.push(...out.notEvaluated);
  }
  return { findings, notEvaluated };
}

/**
 * The findings of the workload rules packages among `packages` for these workloads, and the
 * workloads that could not be evaluated.
 */
export function evaluateWorkloadPackages(
  packages: readonly RulesPackage[],
  c: WorkloadCaches,
  refs: readonly WorkloadRef[],
): { findings: BuiltFinding[]; notEvaluated: NotEvaluated[] } {
  if (!packages.some((p) => WORKLOAD_RULES_PACKAGES.includes(p)))
    return { findings: [], notEvaluated: [] };
  const facts: WorkloadFacts[] = [];
  const notEvaluated: NotEvaluated[] = [];
  for (const ref of refs) {
    const f = workloadFactsOf(c, ref);
    if (typeof f === 'string') notEvaluated.push({ id: workloadId(ref), reason: f });
    else facts.push(f);
  }
  const out = produceWorkloadFindings(packages, facts, c.network);
  return { findings: out.findings, notEvaluated: [...notEvaluated, ...out.notEvaluated] };
}

/**
 * Who can reach the workloads given from outside the cluster, for the exposure-adjusted score;
 * undefined when one of them cannot be evaluated (a workload or pod not cached yet): an
 * unknown exposure never lowers a score.
 */
export function exposureOf(
  c: WorkloadCaches,
  refs: readonly WorkloadRef[],
): ExposureFacts | undefined {
  const facts: WorkloadFacts[] = [];
  for (const ref of refs) {
    const f = workloadFactsOf(c, ref);
    if (typeof f === 'string') return undefined;
    facts.push(f);
  }
  const cluster = clusterNetworkFacts(c.network, new Set(facts.map((f) => f.namespace)));
  return {
    workloads: facts.map((f) => ({
      id: workloadId(f),
      exposures: workloadExposures(f, cluster).map(
        (e) => `${e.entry} ${e.entryId} ${e.port}/${e.protocol}`,
      ),
    })),
  };
}

/**
 * Lowers the scores of image vulnerability findings whose images no workload exposes
 * (src/rules/score.ts); `workloadsOf` names the workloads running a digest. Only a lowered
 * score is written. Exposure is computed once per digest.
 */
export function adjustImageScores(
  built: readonly BuiltFinding[],
  workloadsOf: (digest: string) => readonly WorkloadRef[],
  c: WorkloadCaches,
): void {
  const exposures = new Map<string, ExposureFacts | undefined>();
  for (const b of built) {
    const r = b.status.resource;
    const digest = r?.imageDigest;
    if (r?.type !== 'CONTAINER_IMAGE' || digest === undefined) continue;
    if (!exposures.has(digest)) {
      const refs = workloadsOf(digest);
      exposures.set(digest, refs.length === 0 ? undefined : exposureOf(c, refs));
    }
    const adjusted = adjustScore(b.status.cvss, exposures.get(digest), b.status.inspectorScore);
    if (adjusted === undefined) continue;
    if ((adjusted.inspectorScoreDetails.adjustedCvss.adjustments ?? []).length === 0) continue;
    b.status.inspectorScore = adjusted.inspectorScore;
    b.status.inspectorScoreDetails = adjusted.inspectorScoreDetails;
  }
}

/**
 * The CIS_BENCHMARK findings of nodes, from the check results their agents last wrote in their
 * NodeInventories. A node without results is not evaluated: its agent runs the checks only while
 * the ScanConfiguration switches cis on (ADR 0621).
 */
export function evaluateCisNodes(
  inventories: Cache<NodeInventory & KubeObject>,
  nodes: readonly string[],
): { findings: BuiltFinding[]; notEvaluated: NotEvaluated[] } {
  const facts: NodeCisFacts[] = [];
  const notEvaluated: NotEvaluated[] = [];
  for (const node of nodes) {
    const results = inventories.get(node)?.status?.cisResults;
    if (results === undefined)
      notEvaluated.push({
        id: node,
        reason: `node ${node} has no CIS check results in its NodeInventory: the node agent runs the checks while the ScanConfiguration's spec.rulesPackages includes cis`,
      });
    else facts.push({ node, results });
  }
  const out = cisBenchmark.produce({ checks: CIS_CHECKS, nodes: facts });
  return { findings: out.findings, notEvaluated: [...notEvaluated, ...out.notEvaluated] };
}
