/**
 * A database fetched from an HTTP(S) URL and refreshed on an interval with conditional
 * requests (`If-None-Match` with the last ETag, `If-Modified-Since` with the last
 * `Last-Modified`). A new database is built completely before it replaces the current one in a
 * single assignment, so readers see either the old or the new one; a failed refresh (network
 * error, timeout, HTTP error, unreadable payload, a payload with no valid record) keeps the last
 * good database and is reported in the status.
 */
import type { VulnDatabase } from './database.ts';
import { loadBytes } from './loader.ts';

export type RefreshOutcome = 'updated' | 'not-modified' | 'failed';

export interface RemoteStatus {
  url: string;
  /** When the last refresh finished, successful or not. */
  lastCheck: Date | undefined;
  /** When a database was last loaded (or confirmed unchanged by a 304). */
  lastSuccess: Date | undefined;
  lastOutcome: RefreshOutcome | undefined;
  /** The error of the last refresh, when it failed. */
  lastError: string | undefined;
  consecutiveFailures: number;
  etag: string | undefined;
  lastModified: string | undefined;
}

export interface RemoteOptions {
  url: string;
  /** Time between refreshes, in milliseconds (default one hour). */
  intervalMs?: number;
  /** Per-request timeout, in milliseconds (default 5 minutes). */
  timeoutMs?: number;
  /** Largest payload accepted, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Called after every refresh. */
  onRefresh?: (outcome: RefreshOutcome, status: RemoteStatus) => void;
  fetch?: typeof fetch;
  now?: () => Date;
}

async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new Error(`payload of ${declared} bytes is larger than the limit of ${maxBytes}`);
  }
  if (res.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`payload is larger than the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export class RemoteDatabase {
  private db: VulnDatabase | undefined;
  private readonly options: Required<Omit<RemoteOptions, 'onRefresh'>> & {
    onRefresh: RemoteOptions['onRefresh'] | undefined;
  };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RefreshOutcome> | undefined;
  private stopped = false;
  readonly status: RemoteStatus;

  constructor(options: RemoteOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`unsupported URL scheme ${url.protocol} (use http or https)`);
    }
    this.options = {
      url: options.url,
      intervalMs: options.intervalMs ?? 3_600_000,
      timeoutMs: options.timeoutMs ?? 300_000,
      maxBytes: options.maxBytes ?? 2 ** 31,
      onRefresh: options.onRefresh,
      fetch: options.fetch ?? fetch,
      now: options.now ?? (() => new Date()),
    };
    this.status = {
      url: options.url,
      lastCheck: undefined,
      lastSuccess: undefined,
      lastOutcome: undefined,
      lastError: undefined,
      consecutiveFailures: 0,
      etag: undefined,
      lastModified: undefined,
    };
  }

  /** The last good database, or `undefined` before the first successful load. */
  get current(): VulnDatabase | undefined {
    return this.db;
  }

  /** One refresh; concurrent calls share the one in flight. */
  refresh(): Promise<RefreshOutcome> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRefresh(): Promise<RefreshOutcome> {
    const { url, timeoutMs, maxBytes, now } = this.options;
    let outcome: RefreshOutcome;
    try {
      const headers: Record<string, string> = { accept: 'application/zip, application/json' };
      // Conditional headers only make sense while we hold the database they describe.
      if (this.db !== undefined && this.status.etag !== undefined)
        headers['if-none-match'] = this.status.etag;
      if (this.db !== undefined && this.status.lastModified !== undefined) {
        headers['if-modified-since'] = this.status.lastModified;
      }
      const res = await this.options.fetch(url, {
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (res.status === 304 && this.db !== undefined) {
        await res.body?.cancel();
        outcome = 'not-modified';
      } else if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
      } else {
        const bytes = await readCapped(res, maxBytes);
        const next = loadBytes(bytes, url);
        if (next.size === 0 && next.stats.malformed > 0) {
          const first = next.stats.errors[0];
          throw new Error(
            `no valid record among ${next.stats.malformed} malformed` +
              (first === undefined ? '' : ` (first: ${first.source}: ${first.message})`),
          );
        }
        this.db = next; // the swap: one assignment
        this.status.etag = res.headers.get('etag') ?? undefined;
        this.status.lastModified = res.headers.get('last-modified') ?? undefined;
        outcome = 'updated';
      }
      this.status.lastSuccess = now();
      this.status.lastError = undefined;
      this.status.consecutiveFailures = 0;
    } catch (err) {
      outcome = 'failed';
      this.status.lastError = err instanceof Error ? err.message : String(err);
      this.status.consecutiveFailures++;
    }
    this.status.lastCheck = now();
    this.status.lastOutcome = outcome;
    this.options.onRefresh?.(outcome, this.status);
    return outcome;
  }

  /** Loads now, then refreshes every interval until {@link stop}. */
  async start(): Promise<RefreshOutcome> {
    this.stopped = false;
    const first = await this.refresh();
    this.schedule();
    return first;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().then(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
