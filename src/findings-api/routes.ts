// Which endpoint a request addresses and, for resources, the verb kube-apiserver's RequestInfo
// would give it (the verb RBAC and SubjectAccessReview speak). Pure.
import { FINDINGS_GROUP, FINDINGS_VERSION } from '../api/v1alpha1/common.ts';
import { parseFieldSelector } from '../findings-store/selectors.ts';

export type Route =
  | { kind: 'health'; check: 'healthz' | 'livez' | 'readyz' }
  | { kind: 'discovery'; document: 'groupList' | 'group' | 'resourceList' }
  | { kind: 'openapi'; document: 'v2' | 'v3root' | 'v3' }
  | { kind: 'resource'; resource: ResourceRoute }
  | { kind: 'notFound' };

export interface ResourceRoute {
  verb: string;
  namespace?: string;
  name?: string;
  subresource?: 'status';
}

const HEALTH = /^\/(healthz|livez|readyz)(\/[^/]+)?$/;
const BASE = `/apis/${FINDINGS_GROUP}/${FINDINGS_VERSION}`;

/** Segments of the resource part of a path (after /apis/<group>/<version>/), or undefined. */
function resourcePath(segs: string[]):
  | {
      watchPath: boolean;
      ns: string | undefined;
      name: string | undefined;
      sub: string | undefined;
    }
  | undefined {
  let rest = segs;
  const watchPath = rest[0] === 'watch';
  if (watchPath) rest = rest.slice(1);
  let ns: string | undefined;
  if (rest[0] === 'namespaces') {
    if (rest.length < 3) return undefined;
    ns = rest[1];
    rest = rest.slice(2);
  }
  if (rest[0] !== 'findings' || rest.length > 3) return undefined;
  const name = rest[1];
  const sub = rest[2];
  if (sub !== undefined && sub !== 'status') return undefined;
  if (name !== undefined && ns === undefined) return undefined;
  if (watchPath && sub !== undefined) return undefined;
  return { watchPath, ns, name, sub };
}

const FALSE = new Set(['0', 'f', 'false', 'n', 'no', 'off']);

/** A boolean query parameter as apimachinery converts it: present and not a "false" spelling. */
export function queryBool(v: string | null): boolean | undefined {
  return v === null ? undefined : !FALSE.has(v.toLowerCase());
}

/**
 * The name a list or watch is limited to by `fieldSelector=metadata.name=<name>`, which
 * kube-apiserver puts in the request's attributes so RBAC resourceNames apply to it.
 */
function nameFromFieldSelector(url: URL): string | undefined {
  const text = url.searchParams.get('fieldSelector');
  if (!text) return undefined;
  try {
    const term = parseFieldSelector(text).requirements.find(
      (r) => r.field === 'metadata.name' && r.operator === 'Equals',
    );
    const name = term?.value;
    return name && name !== '.' && name !== '..' && !/[/%]/.test(name) ? name : undefined;
  } catch {
    return undefined;
  }
}

function resourceVerb(
  method: string,
  p: { watchPath: boolean; ns: string | undefined; name: string | undefined },
  watchParam: boolean,
): string | undefined {
  if (p.watchPath) return method === 'GET' ? 'watch' : undefined;
  // The path across namespaces only lists and watches, as for any namespaced resource.
  if (p.ns === undefined && method !== 'GET' && method !== 'HEAD') return undefined;
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watchParam ? 'watch' : p.name !== undefined ? 'get' : 'list';
    case 'POST':
      return p.name === undefined ? 'create' : undefined;
    case 'PUT':
      return p.name !== undefined ? 'update' : undefined;
    case 'PATCH':
      return p.name !== undefined ? 'patch' : undefined;
    case 'DELETE':
      return p.name !== undefined ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}

/** Routes a request; a resource path with a method it does not take gets verb "". */
export function route(method: string, url: URL): Route {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const health = HEALTH.exec(path);
  if (health) return { kind: 'health', check: health[1] as 'healthz' };
  if (path === '/apis') return { kind: 'discovery', document: 'groupList' };
  if (path === `/apis/${FINDINGS_GROUP}`) return { kind: 'discovery', document: 'group' };
  if (path === BASE) return { kind: 'discovery', document: 'resourceList' };
  if (path === '/openapi/v2') return { kind: 'openapi', document: 'v2' };
  if (path === '/openapi/v3') return { kind: 'openapi', document: 'v3root' };
  if (path === `/openapi/v3${BASE}`) return { kind: 'openapi', document: 'v3' };
  if (!path.startsWith(`${BASE}/`)) return { kind: 'notFound' };
  const segs = path
    .slice(BASE.length + 1)
    .split('/')
    .map(decodeURIComponent);
  const p = resourcePath(segs);
  if (!p) return { kind: 'notFound' };
  const verb = resourceVerb(method, p, queryBool(url.searchParams.get('watch')) === true) ?? '';
  const resource: ResourceRoute = { verb };
  if (p.ns !== undefined) resource.namespace = p.ns;
  const name =
    p.name ?? (verb === 'list' || verb === 'watch' ? nameFromFieldSelector(url) : undefined);
  if (name !== undefined) resource.name = name;
  if (p.sub === 'status') resource.subresource = 'status';
  return { kind: 'resource', resource };
}
