// The findings API server: an aggregated API (findings.kubeinspector.io/v1alpha1) that serves
// Finding from a FindingStore. One request handler, usable on a node:https server (the way
// kube-apiserver's front proxy reaches it) or on plain HTTP in tests:
//   health (/healthz, /livez, /readyz)        no authentication, no store
//   discovery and OpenAPI                     authenticated, not authorised (system:discovery), no store, no limit
//   findings                                  authenticated, authorised per verb, bounded in flight
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { FINDINGS_GROUP, FINDINGS_VERSION } from '../api/v1alpha1/common.ts';
import type { FindingStore } from '../findings-store/store.ts';
import type { Authenticator, Authorizer, UserInfo } from './auth-types.ts';
import type { RequestContext, ServerConfig } from './context.ts';
import { handleDelete, handleDeleteCollection } from './deletes.ts';
import { serveDiscovery, serveOpenApi } from './documents.ts';
import { writeStatus } from './http-io.ts';
import { handleGet, handleList, handleWatch } from './reads.ts';
import { type ResourceRoute, route } from './routes.ts';
import { ApiError, type Status, apiError, failure } from './status.ts';
import { handleCreate, handlePatch, handleUpdate } from './writes.ts';
import { roleOf } from './write-rules.ts';

export interface FindingsApiOptions {
  store: FindingStore;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** The controller's usernames: create, /status, every field. */
  controllerUsernames: readonly string[];
  /** Who else may delete: the garbage collector and namespace controller identities. */
  deleterUsernames: readonly string[];
  /** Non-watch resource requests in flight before 429 (default 400, kube-apiserver's). */
  maxRequestsInFlight?: number;
  /** Open watches before 429 (default 1000). */
  maxWatches?: number;
  now?: () => Date;
  /** A watch without timeoutSeconds lasts between this and twice this (default 1800 s). */
  minRequestTimeoutSeconds?: number;
  /** Bookmark interval of watches that allow them (default 60 s). */
  bookmarkIntervalMs?: number;
  /**
   * A request that has not started its answer by then gets 504 and gives its seat back
   * (default 60 s, kube-apiserver's request timeout). A list already streaming is not cut.
   */
  requestTimeoutMs?: number;
  /** Largest request body (default 3 MiB, kube-apiserver's). */
  maxBodyBytes?: number;
  /** /readyz answers 200 while this is true (default always). */
  ready?: () => boolean;
  /** Errors answered with 500, for logging. */
  onInternalError?: (err: unknown) => void;
}

export interface FindingsApiServer {
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Resource requests and watches in flight now. */
  inFlight(): { requests: number; watches: number };
  /** Ends every open watch (shutdown). */
  close(): void;
}

const MASTERS = 'system:masters';

function config(o: FindingsApiOptions): ServerConfig {
  const min = o.minRequestTimeoutSeconds ?? 1800;
  return {
    store: o.store,
    now: o.now ?? (() => new Date()),
    policy: { controllerUsernames: o.controllerUsernames, deleterUsernames: o.deleterUsernames },
    watchTimeoutSeconds: () => Math.floor(min * (1 + Math.random())),
    bookmarkIntervalMs: o.bookmarkIntervalMs ?? 60_000,
    maxBodyBytes: o.maxBodyBytes ?? 3 * 1024 * 1024,
  };
}

/** kube-apiserver's 403 wording for a denied resource request. */
export function forbiddenMessage(user: UserInfo, r: ResourceRoute, reason?: string): string {
  const resource = r.subresource ? `findings/${r.subresource}` : 'findings';
  const subject =
    r.name !== undefined ? `findings.${FINDINGS_GROUP} "${r.name}"` : `findings.${FINDINGS_GROUP}`;
  const scope =
    r.namespace !== undefined ? `in the namespace "${r.namespace}"` : 'at the cluster scope';
  const why = reason ? `: ${reason}` : '';
  return `${subject} is forbidden: User "${user.name}" cannot ${r.verb} resource "${resource}" in API group "${FINDINGS_GROUP}" ${scope}${why}`;
}

async function authorize(authorizer: Authorizer, user: UserInfo, r: ResourceRoute): Promise<void> {
  if (user.groups.includes(MASTERS)) return;
  const decision = await authorizer.authorize({
    kind: 'resource',
    user,
    verb: r.verb,
    group: FINDINGS_GROUP,
    version: FINDINGS_VERSION,
    resource: 'findings',
    ...(r.subresource ? { subresource: r.subresource } : {}),
    ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    ...(r.name !== undefined ? { name: r.name } : {}),
  });
  if (!decision.allowed) {
    throw apiError(
      'Forbidden',
      forbiddenMessage(user, r, decision.reason),
      r.name !== undefined ? { name: r.name } : {},
    );
  }
}

/** /status is written by the controller only, whatever RBAC grants. */
function statusWriter(cfg: ServerConfig, user: UserInfo, r: ResourceRoute): void {
  if (r.subresource !== 'status' || (r.verb !== 'update' && r.verb !== 'patch')) return;
  if (roleOf(user.name, cfg.policy) === 'controller') return;
  throw apiError(
    'Forbidden',
    `findings.${FINDINGS_GROUP} "${r.name ?? ''}" is forbidden: User "${user.name}" cannot ${r.verb} findings/status: status is written by the controller`,
    { name: r.name ?? '' },
  );
}

const HANDLERS: Record<string, (ctx: RequestContext) => Promise<void>> = {
  get: handleGet,
  list: handleList,
  watch: handleWatch,
  create: handleCreate,
  update: handleUpdate,
  patch: handlePatch,
  delete: handleDelete,
  deletecollection: handleDeleteCollection,
};

function tooManyRequests(): ApiError {
  const status: Status = failure('TooManyRequests', 'Too many requests, please try again later.');
  status.details = { retryAfterSeconds: 1 };
  return new ApiError(status);
}

/** The handler's work, or a 504 once `ms` pass without an answer started. */
async function bounded(work: Promise<void>, res: http.ServerResponse, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      if (!res.headersSent) resolve('timeout');
    }, ms);
  });
  try {
    const first = await Promise.race([work.then(() => 'done' as const), timedOut]);
    if (first === 'timeout') {
      work.catch(() => undefined); // finishes (or fails) unobserved; its answer is the 504
      throw apiError('Timeout', `Timeout: request did not complete within ${ms / 1000}s`);
    }
  } finally {
    clearTimeout(timer);
  }
}

export function createFindingsApiServer(options: FindingsApiOptions): FindingsApiServer {
  const cfg = config(options);
  const shutdown = new AbortController();
  const counts = { requests: 0, watches: 0 };
  const limits = {
    requests: options.maxRequestsInFlight ?? 400,
    watches: options.maxWatches ?? 1000,
  };
  const ready = options.ready ?? (() => true);
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;

  async function resource(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    user: UserInfo,
    r: ResourceRoute,
  ): Promise<void> {
    if (r.verb === '')
      throw apiError(
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    await authorize(options.authorizer, user, r);
    statusWriter(cfg, user, r);
    const slot = r.verb === 'watch' ? 'watches' : 'requests';
    if (counts[slot] >= limits[slot]) throw tooManyRequests();
    counts[slot]++;
    try {
      const work = HANDLERS[r.verb]!({
        req,
        res,
        url,
        user,
        route: r,
        config: cfg,
        signal: shutdown.signal,
      });
      await (slot === 'watches' ? work : bounded(work, res, requestTimeoutMs));
    } finally {
      counts[slot]--;
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://findings.invalid');
    const r = route(req.method ?? 'GET', url);
    if (r.kind === 'health') {
      const ok = r.check !== 'readyz' || ready();
      res.writeHead(ok ? 200 : 500, {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(ok ? 'ok' : `[-]${r.check} failed: not ready\n${r.check} check failed`);
      return;
    }
    const authn = options.authenticator.authenticate(req);
    if (!authn.ok) throw apiError('Unauthorized', 'Unauthorized');
    if (r.kind === 'discovery') return serveDiscovery(req, res, r.document);
    if (r.kind === 'openapi') return serveOpenApi(req, res, r.document, url);
    if (r.kind === 'notFound')
      throw apiError('NotFound', 'the server could not find the requested resource');
    return resource(req, res, url, authn.user, r.resource);
  }

  return {
    handler(req, res) {
      handle(req, res).catch((err: unknown) => {
        if (err instanceof ApiError) return writeStatus(res, err.status);
        options.onInternalError?.(err);
        writeStatus(
          res,
          failure(
            'InternalError',
            `Internal error occurred: ${(err as Error)?.message ?? String(err)}`,
          ),
        );
      });
    },
    inFlight: () => ({ ...counts }),
    close: () => shutdown.abort(),
  };
}

export interface ListenOptions {
  host: string;
  port: number;
  /** TLS options (certificate, key, client CA, requestCert); omitted → plain HTTP (tests). */
  tls?: https.ServerOptions;
}

export interface RunningServer {
  server: http.Server;
  /** The port actually bound (for port 0). */
  port: number;
  close(): Promise<void>;
}

/** Starts the handler on host:port, over TLS when tls is given. */
export async function listenFindingsApi(
  api: FindingsApiServer,
  listen: ListenOptions,
): Promise<RunningServer> {
  const server = listen.tls
    ? https.createServer(listen.tls, api.handler)
    : http.createServer(api.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      api.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
