// Serving the static documents: discovery (legacy and aggregated, by Accept) and OpenAPI v2/v3,
// with ETag and If-None-Match (304) as kube-aggregator's downloaders expect. Never touches the
// store, so it answers while the store is busy.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DISCOVERY, type Document, document, notModified } from './discovery.ts';
import { negotiateDiscovery } from './negotiate.ts';
import { openApiV2, openApiV3, openApiV3Root } from './openapi.ts';
import { apiError } from './status.ts';

const v3 = document(openApiV3());
const OPENAPI = {
  v2: document(openApiV2()),
  v3,
  v3root: document(openApiV3Root(v3.body)),
};

function serve(
  req: IncomingMessage,
  res: ServerResponse,
  doc: Document,
  extra: Record<string, string> = {},
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw apiError(
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  }
  const headers = { ETag: doc.etag, Vary: 'Accept', ...extra };
  if (notModified(req.headers['if-none-match'], doc.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': doc.contentType,
    'Content-Length': Buffer.byteLength(doc.body),
  });
  res.end(req.method === 'HEAD' ? undefined : doc.body);
}

export function serveDiscovery(
  req: IncomingMessage,
  res: ServerResponse,
  which: 'groupList' | 'group' | 'resourceList',
): void {
  if (which !== 'groupList') return serve(req, res, DISCOVERY[which]);
  const out = negotiateDiscovery(req.headers.accept);
  if (!out) {
    throw apiError(
      'NotAcceptable',
      'only the following media types are accepted: application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
  }
  const doc =
    out === 'legacy'
      ? DISCOVERY.groupList
      : out === 'aggregated-v2'
        ? DISCOVERY.aggregatedV2
        : DISCOVERY.aggregatedV2beta1;
  serve(req, res, doc);
}

export function serveOpenApi(
  req: IncomingMessage,
  res: ServerResponse,
  which: 'v2' | 'v3root' | 'v3',
  url: URL,
): void {
  // A request naming the current hash may be cached for good, as kube-openapi allows.
  const hash = url.searchParams.get('hash');
  const immutable =
    which === 'v3' && hash !== null && OPENAPI.v3root.body.includes(`hash=${hash}"`);
  serve(
    req,
    res,
    OPENAPI[which],
    immutable ? { 'Cache-Control': 'public, immutable' } : { 'Cache-Control': 'no-cache, private' },
  );
}

export { OPENAPI };
