/**
 * The registry client's HTTP layer: one request followed through redirects (credentials never
 * leave the origin they were given for), and the one retry loop every request goes through,
 * registry and token endpoint alike: connection errors, 429 and 5xx are retried with capped
 * exponential backoff or as long as Retry-After says, a bounded number of times.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { RegistryError } from './errors.ts';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface TransportOptions {
  requestTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  retries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  userAgent: string;
}

/** One request as `follow` sends it. */
export interface HttpRequest {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** The Authorization header value, sent only to the origin of the first URL. */
  auth?: string | undefined;
  signal?: AbortSignal | undefined;
  /** True when the whole body is read at once: the request timeout then covers the body too. */
  whole: boolean;
}

type RequestOptions = Omit<NonNullable<Parameters<typeof request>[1]>, 'dispatcher'>;

const MAX_REDIRECTS = 5;
const RETRYABLE = new Set([429, 500, 502, 503, 504]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function header(h: HttpResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Delay before retry `attempt` (0-based): Retry-After when given, else capped exponential with jitter. */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | undefined,
  base: number,
  max: number,
  now: number = Date.now(),
): number {
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, max);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.min(Math.max(0, date - now), max);
  }
  const exp = Math.min(max, base * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2);
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

export function abortError(
  signal: AbortSignal | undefined,
  what: string,
  cause: unknown,
): RegistryError {
  const reason: unknown = signal?.reason;
  if (reason instanceof RegistryError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new RegistryError('TIMEOUT', `${what}: timed out`, { cause: reason });
  }
  return new RegistryError('TIMEOUT', `${what}: aborted (${describe(reason ?? cause)})`, {
    cause: reason ?? cause,
  });
}

/** Reads a whole body, refusing one over `max` bytes. */
export async function readCapped(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const declared = Number(header(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw new RegistryError(
      'TOO_LARGE',
      `${what} is ${declared} bytes, over the ${max}-byte limit`,
    );
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      res.body.destroy();
      throw new RegistryError('TOO_LARGE', `${what} is over the ${max}-byte limit`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request signal bounded by the request timeout. */
export function timeoutSignal(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
}

export class Transport {
  readonly options: TransportOptions;
  readonly dispatcher: Dispatcher;

  constructor(options: TransportOptions, dispatcher: Dispatcher) {
    this.options = options;
    this.dispatcher = dispatcher;
  }

  /**
   * Calls `once` until it answers with something other than a connection error, 429 or 5xx,
   * and returns that answer; gives up with UNAVAILABLE after the configured retries.
   */
  async attempts(
    what: string,
    signal: AbortSignal | undefined,
    once: () => Promise<HttpResponse>,
  ): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await once();
      } catch (err) {
        if (signal?.aborted === true) throw abortError(signal, what, err);
        if (err instanceof RegistryError) throw err;
        if (attempt >= this.options.retries) {
          const message = `${what}: ${describe(err)} (after ${attempt + 1} attempts)`;
          throw new RegistryError('UNAVAILABLE', message, { cause: err });
        }
        await this.#backoff(attempt, undefined, signal);
        continue;
      }
      if (!RETRYABLE.has(res.status)) return res;
      const retryAfter = header(res.headers, 'retry-after');
      await res.body.dump();
      if (attempt >= this.options.retries) {
        const message = `${what}: HTTP ${res.status} after ${attempt + 1} attempts`;
        throw new RegistryError('UNAVAILABLE', message, { status: res.status });
      }
      await this.#backoff(attempt, retryAfter, signal);
    }
  }

  /** One request on the transport's connection pool, with no redirect followed. */
  async request(url: URL, options: RequestOptions): Promise<HttpResponse> {
    const res = await request(url, { ...options, dispatcher: this.dispatcher });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /** Sends one request and follows redirects; plain HTTP after HTTPS is refused. */
  async follow(url: string, req: HttpRequest): Promise<HttpResponse> {
    let current = url;
    const origin = new URL(url).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const h: Record<string, string> = { 'user-agent': this.options.userAgent, ...req.headers };
      // Blob redirects go to object storage: never forward the registry's credentials.
      if (req.auth !== undefined && new URL(current).origin === origin) h.authorization = req.auth;
      const res = await request(current, {
        method: req.method,
        headers: h,
        dispatcher: this.dispatcher,
        signal: req.whole
          ? timeoutSignal(req.signal, this.options.requestTimeoutMs)
          : (req.signal ?? null),
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.bodyIdleTimeoutMs,
      });
      const location = header(res.headers, 'location');
      if (!REDIRECTS.has(res.statusCode) || location === undefined) {
        return { status: res.statusCode, headers: res.headers, body: res.body };
      }
      await res.body.dump();
      current = redirectTarget(url, current, location);
    }
    throw new RegistryError('PROTOCOL', `${url}: more than ${MAX_REDIRECTS} redirects`);
  }

  async #backoff(
    attempt: number,
    retryAfter: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { backoffBaseMs, backoffMaxMs } = this.options;
    const ms = retryDelayMs(attempt, retryAfter, backoffBaseMs, backoffMaxMs);
    try {
      await sleep(ms, undefined, signal === undefined ? {} : { signal });
    } catch (err) {
      throw abortError(signal, 'backoff', err);
    }
  }
}

function redirectTarget(url: string, current: string, location: string): string {
  const next = new URL(location, current);
  if (next.protocol !== 'https:' && next.protocol !== 'http:') {
    throw new RegistryError('PROTOCOL', `${url}: redirect to unsupported scheme ${next.protocol}`);
  }
  if (next.protocol === 'http:' && new URL(current).protocol === 'https:') {
    throw new RegistryError('PROTOCOL', `${url}: refusing redirect from HTTPS to plain HTTP`);
  }
  return next.toString();
}
