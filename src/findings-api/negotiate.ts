// Content negotiation as kube-apiserver does it: the Accept header is a list of media types in
// order of preference, each optionally asking for a transformed form of the answer
// (`as=Table`, `as=PartialObjectMetadata[List]`, `as=APIGroupDiscoveryList`). The first
// alternative the server can produce wins; none → 406. Pure.

/** One media range of an Accept header with its parameters (lower-cased keys). */
export interface MediaRange {
  type: string;
  subtype: string;
  params: Record<string, string>;
}

/** What a resource request answers with. */
export type Output =
  | { kind: 'object' }
  | { kind: 'table'; version: 'v1' | 'v1beta1' }
  | { kind: 'metadata'; version: 'v1' | 'v1beta1' };

/** The three shapes of resource endpoints: one object, a list, a watch stream. */
export type Endpoint = 'object' | 'list' | 'watch';

export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '')
    return [{ type: '*', subtype: '*', params: {} }];
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [mime, ...rest] = part.split(';').map((s) => s.trim());
    if (!mime) continue;
    const [type, subtype] = mime.toLowerCase().split('/');
    if (!type || !subtype) continue;
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0)
        params[p.slice(0, eq).trim().toLowerCase()] = p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '');
    }
    ranges.push({ type, subtype, params });
  }
  return ranges;
}

/** True for application/json, application/*, * / * (JSON is the only encoding served). */
function acceptsJson(r: MediaRange): boolean {
  if (r.type === '*' && r.subtype === '*') return true;
  return r.type === 'application' && (r.subtype === 'json' || r.subtype === '*');
}

function metaVersion(v: string | undefined): 'v1' | 'v1beta1' | undefined {
  return v === 'v1' || v === 'v1beta1' ? v : undefined;
}

/** The output for one media range, or undefined when it cannot be produced for the endpoint. */
function outputFor(r: MediaRange, endpoint: Endpoint): Output | undefined {
  if (!acceptsJson(r)) return undefined;
  const as = r.params.as;
  if (as === undefined) return { kind: 'object' };
  if (r.params.g !== 'meta.k8s.io') return undefined;
  const version = metaVersion(r.params.v);
  if (!version) return undefined;
  if (as === 'Table') return { kind: 'table', version };
  if (as === 'PartialObjectMetadataList' && endpoint === 'list')
    return { kind: 'metadata', version };
  if (as === 'PartialObjectMetadata' && endpoint !== 'list') return { kind: 'metadata', version };
  return undefined;
}

/** The first producible output of the Accept header, or undefined (answer 406). */
export function negotiate(accept: string | undefined, endpoint: Endpoint): Output | undefined {
  for (const r of parseAccept(accept)) {
    const out = outputFor(r, endpoint);
    if (out) return out;
  }
  return undefined;
}

export type DiscoveryOutput = 'aggregated-v2' | 'aggregated-v2beta1' | 'legacy';

/** /apis: aggregated discovery when asked for first, legacy JSON otherwise, undefined → 406. */
export function negotiateDiscovery(accept: string | undefined): DiscoveryOutput | undefined {
  for (const r of parseAccept(accept)) {
    if (!acceptsJson(r)) continue;
    const { as, g, v } = r.params;
    if (as === undefined) return 'legacy';
    if (as === 'APIGroupDiscoveryList' && g === 'apidiscovery.k8s.io') {
      if (v === 'v2') return 'aggregated-v2';
      if (v === 'v2beta1') return 'aggregated-v2beta1';
    }
  }
  return undefined;
}

/** The media type (without parameters) of a request body. */
export function contentType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}
