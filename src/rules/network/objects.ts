/**
 * Kubernetes objects (Service, Ingress, NetworkPolicy, Gateway API Gateway and HTTPRoute) as the
 * network-reachability facts. Fields the rules do not read are dropped; malformed entries (a
 * port that is not a number, a backend without a service) are skipped, since the API server
 * validates these kinds and such an entry cannot carry traffic.
 */
import { GATEWAY_GROUP, type GatewayFacts, type ListenerFacts, type ParentRef } from './gateway.ts';
import type { NetworkPolicyFacts, PolicyPeer, PolicyPort, Protocol } from './policy.ts';
import type {
  HttpRouteFacts,
  IngressFacts,
  ServiceFacts,
  ServicePortFacts,
} from './reachability.ts';

type Obj = Record<string, unknown>;

interface KubeLike {
  metadata: { name: string; namespace?: string | undefined };
  spec?: unknown;
}

const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const protocol = (v: unknown): Protocol | undefined =>
  v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : undefined;
const intOrString = (v: unknown): number | string | undefined =>
  typeof v === 'number' || typeof v === 'string' ? v : undefined;

export function serviceFacts(o: KubeLike): ServiceFacts {
  const spec = obj(o.spec);
  const type = str(spec.type);
  const ports: ServicePortFacts[] = [];
  for (const p of list(spec.ports).map(obj)) {
    const port = num(p.port);
    if (port === undefined) continue;
    const name = str(p.name);
    const targetPort = intOrString(p.targetPort);
    const nodePort = num(p.nodePort);
    const proto = protocol(p.protocol);
    ports.push({
      port,
      ...(name !== undefined ? { name } : {}),
      ...(targetPort !== undefined ? { targetPort } : {}),
      ...(nodePort !== undefined ? { nodePort } : {}),
      ...(proto !== undefined ? { protocol: proto } : {}),
    });
  }
  return {
    namespace: o.metadata.namespace ?? '',
    name: o.metadata.name,
    ...(type === 'ClusterIP' ||
    type === 'NodePort' ||
    type === 'LoadBalancer' ||
    type === 'ExternalName'
      ? { type }
      : {}),
    ...(spec.selector !== undefined
      ? { selector: obj(spec.selector) as Record<string, string> }
      : {}),
    ports,
  };
}

function ingressBackend(b: unknown): IngressFacts['backends'][number] | undefined {
  const service = obj(obj(b).service);
  const name = str(service.name);
  const port = obj(service.port);
  const p = num(port.number) ?? str(port.name);
  return name === undefined || p === undefined ? undefined : { service: name, port: p };
}

export function ingressFacts(o: KubeLike): IngressFacts {
  const spec = obj(o.spec);
  const backends = [
    spec.defaultBackend,
    ...list(spec.rules).flatMap((r) => list(obj(obj(r).http).paths).map((p) => obj(p).backend)),
  ]
    .map(ingressBackend)
    .filter((b): b is IngressFacts['backends'][number] => b !== undefined);
  return { namespace: o.metadata.namespace ?? '', name: o.metadata.name, backends };
}

export function httpRouteFacts(o: KubeLike): HttpRouteFacts {
  const spec = obj(o.spec);
  const ns = o.metadata.namespace ?? '';
  const parentRefs = list(spec.parentRefs)
    .map(obj)
    .filter(
      (p) =>
        (p.kind ?? 'Gateway') === 'Gateway' &&
        (p.group ?? GATEWAY_GROUP) === GATEWAY_GROUP &&
        typeof p.name === 'string',
    )
    .map((p): ParentRef => {
      const sectionName = str(p.sectionName);
      const port = num(p.port);
      return {
        namespace: str(p.namespace) ?? ns,
        name: str(p.name)!,
        ...(sectionName !== undefined ? { sectionName } : {}),
        ...(port !== undefined ? { port } : {}),
      };
    });
  const hostnames = list(spec.hostnames).filter((h): h is string => typeof h === 'string');
  const backends = list(spec.rules)
    .flatMap((r) => list(obj(r).backendRefs).map(obj))
    .filter(
      (b) =>
        (b.kind ?? 'Service') === 'Service' && (b.group ?? '') === '' && typeof b.name === 'string',
    )
    .map((b) => {
      const namespace = str(b.namespace);
      const port = num(b.port);
      return {
        name: str(b.name)!,
        ...(namespace !== undefined ? { namespace } : {}),
        ...(port !== undefined ? { port } : {}),
      };
    });
  return {
    namespace: ns,
    name: o.metadata.name,
    parentRefs,
    ...(hostnames.length > 0 ? { hostnames } : {}),
    backends,
  };
}

export function gatewayFacts(o: KubeLike): GatewayFacts {
  const spec = obj(o.spec);
  const listeners: ListenerFacts[] = [];
  for (const l of list(spec.listeners).map(obj)) {
    const name = str(l.name);
    const port = num(l.port);
    const proto = str(l.protocol);
    if (name === undefined || port === undefined || proto === undefined) continue;
    const allowed = obj(l.allowedRoutes);
    const namespaces = obj(allowed.namespaces);
    const from = str(namespaces.from);
    const hostname = str(l.hostname);
    const kinds = list(allowed.kinds)
      .map(obj)
      .filter((k) => typeof k.kind === 'string')
      .map((k) => ({ group: str(k.group) ?? GATEWAY_GROUP, kind: str(k.kind)! }));
    listeners.push({
      name,
      port,
      protocol: proto,
      ...(hostname !== undefined ? { hostname } : {}),
      ...(from === 'Same' || from === 'All' || from === 'Selector' ? { from } : {}),
      ...(namespaces.selector !== undefined ? { selector: obj(namespaces.selector) } : {}),
      ...(kinds.length > 0 ? { kinds } : {}),
    });
  }
  return { namespace: o.metadata.namespace ?? '', name: o.metadata.name, listeners };
}

function policyPort(p: Obj): PolicyPort {
  const proto = protocol(p.protocol);
  const port = intOrString(p.port);
  const endPort = num(p.endPort);
  return {
    ...(proto !== undefined ? { protocol: proto } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(endPort !== undefined ? { endPort } : {}),
  };
}

function policyPeer(p: Obj): PolicyPeer {
  const ip = obj(p.ipBlock);
  return {
    ...(p.podSelector !== undefined ? { podSelector: obj(p.podSelector) } : {}),
    ...(p.namespaceSelector !== undefined ? { namespaceSelector: obj(p.namespaceSelector) } : {}),
    ...(typeof ip.cidr === 'string'
      ? {
          ipBlock: {
            cidr: ip.cidr,
            except: list(ip.except).filter((e): e is string => typeof e === 'string'),
          },
        }
      : {}),
  };
}

export function networkPolicyFacts(o: KubeLike): NetworkPolicyFacts {
  const spec = obj(o.spec);
  const types = list(spec.policyTypes).filter(
    (t): t is 'Ingress' | 'Egress' => t === 'Ingress' || t === 'Egress',
  );
  return {
    namespace: o.metadata.namespace ?? '',
    name: o.metadata.name,
    podSelector: obj(spec.podSelector),
    ...(types.length > 0 ? { policyTypes: types } : {}),
    ...(spec.ingress !== undefined
      ? {
          ingress: list(spec.ingress).map((r) => {
            const rule = obj(r);
            return {
              ...(rule.from !== undefined
                ? { from: list(rule.from).map(obj).map(policyPeer) }
                : {}),
              ...(rule.ports !== undefined
                ? { ports: list(rule.ports).map(obj).map(policyPort) }
                : {}),
            };
          }),
        }
      : {}),
    ...(spec.egress !== undefined ? { egress: list(spec.egress) } : {}),
  };
}
