/**
 * NetworkPolicy ingress semantics, as the Kubernetes documentation defines them, as pure
 * functions: which policies select a pod, and whether they admit a peer on a port.
 *
 * - A pod no policy with policyType Ingress selects is not isolated: everything is admitted.
 * - A selected pod admits what at least one ingress rule of at least one selecting policy
 *   admits (policies are additive, order does not matter).
 * - A rule admits a peer when its `from` is empty or one of its peers matches, and its `ports`
 *   are empty or one of them matches. A peer with both namespaceSelector and podSelector
 *   matches pods selected by both; a podSelector alone means the policy's namespace; an
 *   ipBlock matches addresses (cluster-external ones: pod addresses are ephemeral).
 * - policyTypes absent: Ingress, plus Egress when the policy has egress rules.
 */
import { selectorMatches } from '../../coverage/config.ts';
import type { LabelSelector } from '../../api/v1alpha1/common.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface PolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicyFacts {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
  egress?: unknown[];
}

/** A pod as the policies see it. */
export interface PolicyPod {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Named container ports, for policies that name a port. */
  namedPorts: ReadonlyMap<string, { port: number; protocol: Protocol }>;
}

/** Where traffic comes from. */
export type Peer =
  | { kind: 'external'; ip?: string }
  | {
      kind: 'pod';
      namespace: string;
      labels: Readonly<Record<string, string>>;
      namespaceLabels: Readonly<Record<string, string>>;
    };

export interface Admission {
  admitted: boolean;
  /** Why: no policy isolates the pod, or which policy admits (or that none does). */
  reason: string;
  /** The policies that select the pod for ingress, by `namespace/name`. */
  policies: string[];
  /** For an external peer admitted by ipBlocks: the CIDRs it may come from. */
  sources?: string[];
}

function affectsIngress(p: NetworkPolicyFacts): boolean {
  if (p.policyTypes !== undefined && p.policyTypes.length > 0)
    return p.policyTypes.includes('Ingress');
  return true;
}

/** The policies that isolate the pod for ingress. */
export function selectingPolicies(
  policies: readonly NetworkPolicyFacts[],
  pod: Pick<PolicyPod, 'namespace' | 'labels'>,
): NetworkPolicyFacts[] {
  return policies.filter(
    (p) =>
      p.namespace === pod.namespace &&
      affectsIngress(p) &&
      selectorMatches(p.podSelector, pod.labels),
  );
}

// ---------------------------------------------------------------- addresses

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Whether an IPv4 address lies in a CIDR; undefined when either is not IPv4. */
export function inCidr(ip: string, cidr: string): boolean | undefined {
  const [base, bits] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base ?? '');
  const n = Number(bits);
  if (a === undefined || b === undefined || !Number.isInteger(n) || n < 0 || n > 32)
    return undefined;
  if (n === 0) return true;
  const size = 2 ** (32 - n);
  return Math.floor(a / size) === Math.floor(b / size);
}

function ipBlockAdmits(block: NonNullable<PolicyPeer['ipBlock']>, ip: string | undefined): boolean {
  // No address: "from outside the cluster", which any ipBlock admits some of.
  if (ip === undefined) return true;
  if (inCidr(ip, block.cidr) !== true) return false;
  return !(block.except ?? []).some((e) => inCidr(ip, e) === true);
}

function peerMatches(peer: PolicyPeer, policyNamespace: string, from: Peer): boolean {
  if (peer.ipBlock !== undefined)
    return from.kind === 'external' && ipBlockAdmits(peer.ipBlock, from.ip);
  if (from.kind !== 'pod') return false;
  const nsOk =
    peer.namespaceSelector !== undefined
      ? selectorMatches(peer.namespaceSelector, from.namespaceLabels)
      : from.namespace === policyNamespace;
  const podOk = peer.podSelector === undefined || selectorMatches(peer.podSelector, from.labels);
  return nsOk && podOk;
}

function portMatches(p: PolicyPort, port: number, protocol: Protocol, pod: PolicyPod): boolean {
  if ((p.protocol ?? 'TCP') !== protocol) return false;
  if (p.port === undefined) return true;
  if (typeof p.port === 'string') {
    const named = pod.namedPorts.get(p.port);
    return named !== undefined && named.port === port && named.protocol === protocol;
  }
  const end = p.endPort ?? p.port;
  return port >= p.port && port <= end;
}

/** Whether the policies admit traffic from `from` to the pod's `port`. */
export function admits(
  policies: readonly NetworkPolicyFacts[],
  pod: PolicyPod,
  from: Peer,
  port: number,
  protocol: Protocol,
): Admission {
  const selecting = selectingPolicies(policies, pod);
  const names = selecting.map((p) => `${p.namespace}/${p.name}`).sort();
  if (selecting.length === 0)
    return {
      admitted: true,
      reason: 'no NetworkPolicy selects the pod (default allow)',
      policies: [],
    };
  const by: string[] = [];
  const sources = new Set<string>();
  for (const policy of [...selecting].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const rule of policy.ingress ?? []) {
      const ports = rule.ports ?? [];
      if (ports.length > 0 && !ports.some((p) => portMatches(p, port, protocol, pod))) continue;
      const peers = rule.from ?? [];
      const matching = peers.filter((peer) => peerMatches(peer, policy.namespace, from));
      if (peers.length > 0 && matching.length === 0) continue;
      by.push(`${policy.namespace}/${policy.name}`);
      if (peers.length === 0) sources.add(from.kind === 'external' ? '0.0.0.0/0' : '*');
      for (const m of matching) if (m.ipBlock !== undefined) sources.add(m.ipBlock.cidr);
    }
  }
  if (by.length === 0) {
    return {
      admitted: false,
      reason: `NetworkPolicies ${names.join(', ')} select the pod and admit no such traffic`,
      policies: names,
    };
  }
  const unique = [...new Set(by)];
  return {
    admitted: true,
    reason: `admitted by NetworkPolicy ${unique.join(', ')}`,
    policies: names,
    ...(from.kind === 'external' ? { sources: [...sources].sort() } : {}),
  };
}
