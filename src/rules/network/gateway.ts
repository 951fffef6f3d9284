/**
 * Which listeners of which Gateways accept an HTTPRoute, from the Gateways' and the route's
 * specs, as the Gateway API (gateway.networking.k8s.io/v1) defines attachment:
 *
 * - a parentRef names a Gateway (group `gateway.networking.k8s.io`, kind `Gateway`, namespace
 *   the route's unless given); a Gateway that does not exist accepts nothing;
 * - `sectionName` narrows it to the listener of that name, `port` to the listeners on that port
 *   (both given: both must match);
 * - a listener accepts HTTPRoutes when its protocol is HTTP or HTTPS and its `allowedRoutes.kinds`
 *   is empty or lists HTTPRoute;
 * - and when the route's namespace is allowed: `from: Same` (the default) the Gateway's own,
 *   `All` any, `Selector` those whose labels the selector matches;
 * - and when the route's hostnames and the listener's hostname intersect (either absent means
 *   any host; `*.example.com` matches hosts with one or more labels before `example.com`).
 *
 * Gateway status (what a controller accepted and the addresses it gave) is not read: attachment
 * is judged from the specs people wrote, whether or not a controller serves the GatewayClass.
 */
import type { LabelSelector } from '../../api/v1alpha1/common.ts';
import { selectorMatches } from '../../coverage/config.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface ListenerFacts {
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  /** `allowedRoutes.namespaces.from` (Same when absent). */
  from?: 'Same' | 'All' | 'Selector';
  /** `allowedRoutes.namespaces.selector`, for `from: Selector`. */
  selector?: LabelSelector;
  /** `allowedRoutes.kinds`, group defaulted to the Gateway API's. */
  kinds?: { group: string; kind: string }[];
}

export interface GatewayFacts {
  namespace: string;
  name: string;
  listeners: ListenerFacts[];
}

/** A route's reference to a Gateway, namespace defaulted to the route's. */
export interface ParentRef {
  namespace: string;
  name: string;
  sectionName?: string;
  port?: number;
}

/** A listener that accepts a route, as `namespace/name:port` names it in a finding's path. */
export interface AcceptingListener {
  gateway: string;
  listener: string;
  port: number;
}

/** Whether two host names (either possibly a `*.` wildcard) can name the same host. */
export function hostnamesIntersect(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  const wild = (h: string) => h.startsWith('*.');
  // `*.example.com` stands for the hosts ending in `.example.com` (one or more labels before).
  const suffix = (w: string) => w.slice(1);
  if (wild(x) && wild(y)) return suffix(x).endsWith(suffix(y)) || suffix(y).endsWith(suffix(x));
  if (wild(x)) return y.endsWith(suffix(x));
  if (wild(y)) return x.endsWith(suffix(y));
  return false;
}

function acceptsKind(l: ListenerFacts): boolean {
  if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') return false;
  if (l.kinds === undefined || l.kinds.length === 0) return true;
  return l.kinds.some((k) => k.group === GATEWAY_GROUP && k.kind === 'HTTPRoute');
}

function acceptsNamespace(
  g: GatewayFacts,
  l: ListenerFacts,
  routeNamespace: string,
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): boolean {
  switch (l.from ?? 'Same') {
    case 'All':
      return true;
    case 'Selector': {
      const labels = namespaceLabels.get(routeNamespace);
      // A namespace not known (not cached yet) is not taken as matching.
      return (
        labels !== undefined && l.selector !== undefined && selectorMatches(l.selector, labels)
      );
    }
    default:
      return routeNamespace === g.namespace;
  }
}

function acceptsHostnames(l: ListenerFacts, hostnames: readonly string[]): boolean {
  if (l.hostname === undefined || hostnames.length === 0) return true;
  return hostnames.some((h) => hostnamesIntersect(h, l.hostname!));
}

/**
 * The listeners that accept a route in `routeNamespace` with these parentRefs and hostnames, in
 * the order of the parentRefs and of each Gateway's listeners, each listener once.
 */
export function acceptingListeners(
  route: { namespace: string; parentRefs: readonly ParentRef[]; hostnames?: readonly string[] },
  gateways: readonly GatewayFacts[],
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): AcceptingListener[] {
  const out: AcceptingListener[] = [];
  const seen = new Set<string>();
  for (const ref of route.parentRefs) {
    const g = gateways.find((x) => x.namespace === ref.namespace && x.name === ref.name);
    if (g === undefined) continue;
    for (const l of g.listeners) {
      if (ref.sectionName !== undefined && ref.sectionName !== l.name) continue;
      if (ref.port !== undefined && ref.port !== l.port) continue;
      if (!acceptsKind(l)) continue;
      if (!acceptsNamespace(g, l, route.namespace, namespaceLabels)) continue;
      if (!acceptsHostnames(l, route.hostnames ?? [])) continue;
      const key = `${g.namespace}/${g.name}/${l.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ gateway: `${g.namespace}/${g.name}`, listener: l.name, port: l.port });
    }
  }
  return out;
}
