// The HTTP client every controller uses for the Kubernetes API.
//
// @kubernetes/client-node supplies the configuration and the authentication
// headers (tokens, exec plugins, OIDC: re-read per request so rotation works);
// requests go through ONE keep-alive undici Agent per cluster (client-node
// 2.0.1 builds a new dispatcher per call). On top: a client-side QPS/burst
// limit, 429 Retry-After handling, a timeout on every non-watch request,
// typed errors and the standard rest_client_* metrics.
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter, Histogram, type Registry } from 'prom-client';
import { Agent, fetch, type Response } from 'undici';
import { TokenBucket } from './token-bucket.ts';

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A Kubernetes `Status` object as returned with errors. */
export interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

/** An API request that failed with an HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: Status | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    method: string,
    path: string,
    status: number,
    body: Status | undefined,
    retryAfter?: number,
  ) {
    const reason = body?.reason ?? '';
    super(
      `${method} ${path}: ${status}${reason ? ` ${reason}` : ''}${body?.message ? `: ${body.message}` : ''}`,
    );
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.body = body;
    this.retryAfterSeconds = retryAfter;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.status === 409;
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.status === 410;

export interface ClientOptions {
  /** Requests per second allowed on average; <= 0 disables the limit. Default 50. */
  qps?: number;
  /** Requests allowed in a burst. Default 100. */
  burst?: number;
  /** Timeout of every request except watches, in ms. Default 30 s. */
  timeoutMs?: number;
  /** How many times a request refused with 429 is retried (after Retry-After). Default 5. */
  maxRetriesOn429?: number;
  userAgent?: string;
  registry?: Registry;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the client's timeout; 0 means none (watches). */
  timeoutMs?: number;
}

interface Metrics {
  requests: Counter<'code' | 'method' | 'host'>;
  duration: Histogram<'verb' | 'host'>;
}

const metricsByRegistry = new WeakMap<Registry, Metrics>();

function clientMetrics(registry: Registry): Metrics {
  let m = metricsByRegistry.get(registry);
  if (m === undefined) {
    m = {
      requests: new Counter({
        name: 'rest_client_requests_total',
        help: 'Number of HTTP requests to the Kubernetes API, partitioned by status code, method, and host.',
        labelNames: ['code', 'method', 'host'],
        registers: [registry],
      }),
      duration: new Histogram({
        name: 'rest_client_request_duration_seconds',
        help: 'Request latency in seconds to the Kubernetes API, broken down by verb and host.',
        labelNames: ['verb', 'host'],
        buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class KubeClient {
  readonly server: string;
  private readonly kc: KubeConfig;
  private readonly agent: Agent;
  private readonly bucket: TokenBucket | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetriesOn429: number;
  private readonly userAgent: string;
  private readonly host: string;
  private readonly metrics: Metrics | undefined;

  private constructor(kc: KubeConfig, agent: Agent, options: ClientOptions) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.kc = kc;
    this.server = cluster.server.replace(/\/+$/, '');
    this.host = new URL(this.server).host;
    this.agent = agent;
    const qps = options.qps ?? 50;
    this.bucket = qps > 0 ? new TokenBucket(qps, options.burst ?? 100) : undefined;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetriesOn429 = options.maxRetriesOn429 ?? 5;
    this.userAgent = options.userAgent ?? 'kube-inspector';
    this.metrics = options.registry ? clientMetrics(options.registry) : undefined;
  }

  /** Builds a client with one keep-alive connection pool for the kubeconfig's current cluster. */
  static async create(kc: KubeConfig, options: ClientOptions = {}): Promise<KubeClient> {
    const https: {
      ca?: Buffer;
      cert?: Buffer;
      key?: Buffer;
      rejectUnauthorized?: boolean;
      servername?: string;
    } = {};
    await kc.applyToHTTPSOptions(https);
    const connect: Record<string, unknown> = { keepAlive: true, keepAliveInitialDelay: 30_000 };
    for (const k of ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const) {
      if (https[k] !== undefined) connect[k] = https[k];
    }
    const agent = new Agent({ connect, keepAliveTimeout: 60_000, connections: 64 });
    return new KubeClient(kc, agent, options);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const opts: { headers?: Record<string, string> } = {};
    await this.kc.applyToHTTPSOptions(opts);
    return { ...(opts.headers ?? {}) };
  }

  private url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  /**
   * Sends a request and returns the response once its status is 2xx.
   * 429s are retried after Retry-After; other errors throw ApiError.
   */
  async raw(method: Verb, path: string, options: RequestOptions = {}): Promise<Response> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      await this.bucket?.take(options.signal);
      const headers: Record<string, string> = {
        ...(await this.authHeaders()),
        accept: 'application/json',
        'user-agent': this.userAgent,
      };
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] = options.contentType ?? 'application/json';
      }
      const signals = [
        options.signal,
        timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined,
      ].filter((s): s is AbortSignal => s !== undefined);
      const started = performance.now();
      let res: Response;
      try {
        res = await fetch(this.url(path, options.query), {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          dispatcher: this.agent,
          ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
        });
      } catch (err) {
        this.metrics?.requests.inc({ code: '<error>', method, host: this.host });
        throw err;
      } finally {
        this.metrics?.duration.observe(
          { verb: method, host: this.host },
          (performance.now() - started) / 1000,
        );
      }
      this.metrics?.requests.inc({ code: String(res.status), method, host: this.host });
      if (res.ok) return res;

      const text = await res.text().catch(() => '');
      let status: Status | undefined;
      try {
        status = JSON.parse(text) as Status;
      } catch {
        status = { message: text.slice(0, 500) };
      }
      const retryAfter = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
      if (res.status === 429 && attempt < this.maxRetriesOn429) {
        // API Priority and Fairness says when to come back; never sooner than 1 s.
        const seconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1;
        await sleep(Math.min(seconds, 60) * 1000, options.signal);
        continue;
      }
      throw new ApiError(
        method,
        path,
        res.status,
        status,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
  }

  /** Sends a request and parses the JSON response. */
  async request<T>(method: Verb, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, options);
    return (await res.json()) as T;
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }
}
