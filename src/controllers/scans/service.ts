/**
 * The scan service: the one component that scans container images for the controllers, and
 * the one place their results live in the process.
 *
 * Contract:
 * - Who requests: the coverage image reconciler (purpose `coverage`: an image it covers) and
 *   the assessment run reconciler (purpose `run`: an image a run collected that coverage does
 *   not hold). Both call {@link ScanService.request}; a digest waiting or running is never
 *   scanned twice, whoever asks, and at most `concurrency` scans run at once. Credentials are
 *   fetched by name when the scan starts.
 * - Who is told: a request may carry `onDone`; it is called once when that digest's scan ends
 *   (the run reconciler passes a function that enqueues the run's key, so no reconcile waits
 *   for a registry). Listeners of {@link ScanService.onChange} hear every change of the
 *   covered results (coverage requeues the image and its users, findings re-matches).
 * - Who reads: coverage and findings read covered results with {@link ScanService.get}; a
 *   run reads {@link ScanService.resultFor}, which also sees the results of run-only scans.
 * - Covered results (a scan any coverage request asked for) are kept until coverage deletes
 *   the image. Results of scans only runs asked for are kept in a bounded LRU and never become
 *   covered results, whose presence means "covered and scanned".
 * - What survives a restart or failover: nothing. Results are in memory only (inventories are
 *   never written to etcd); coverage rescans continuous images it finds without a result, a
 *   run in evaluation requests its scans again, and the scanner's layer cache makes a repeated
 *   scan of known layers cheap.
 *
 * - Pull checks: for an image no pod could pull (no digest to scan), coverage asks
 *   {@link ScanService.checkPull} whether the registry serves the reference's manifest with
 *   the pods' pull secrets. One check per reference and set of secrets runs at a time; its
 *   answer is held for the retry delay of failed scans ({@link ScanService.retryFailedAfterMs})
 *   and then checked again.
 *
 * One set of scan metrics is kept for every purpose (docs/metrics.md).
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ImageScanRecord, ImageInventoryStore } from '../image-inventories.ts';
import type {
  DigestOutcome,
  ImageScanner,
  ScanCredentials,
  ScanOutcome,
} from '../../scanner/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { ControllerDeps } from '../deps.ts';
import { BoundedCache, RETRY_FAILED_SCAN_MS } from './policy.ts';

export type ScanPurpose = 'coverage' | 'run';

export interface ScanRequest {
  /** Manifest digest, or the reference itself when a run knows no digest. */
  digest: string;
  /** `registry/repository@digest`. */
  reference: string;
  /** Largest compressed image scanned; unset: no limit. */
  maxImageBytes?: number;
  /** Called when the scan starts; resolves to the credentials to use. */
  credentials: () => Promise<{ credentials: ScanCredentials; problems: string[] }>;
  /** Fingerprint of the credentials' sources (secret names), kept with the result. */
  credentialSources: string;
  purpose: ScanPurpose;
  /** Also scan the application files for hardcoded secrets (the WorkloadCode scan type). */
  codeScanning?: boolean;
  /** Called once when this digest's scan ends. */
  onDone?: () => void;
}

/** Whether the registry serves a reference with a set of pull secrets (see checkPull). */
export interface PullCheckRequest {
  /** The image as the pod names it (tag or digest). */
  reference: string;
  /** Called when the check starts; resolves to the credentials to use. */
  credentials: ScanRequest['credentials'];
  /** Fingerprint of the credentials' sources (secret names): a new set is a new check. */
  credentialSources: string;
  /** Called once when this check ends. */
  onDone?: () => void;
}

/** The answer of a pull check. */
export interface PullCheckRecord {
  /** When it ended, epoch ms. */
  checkedAt: number;
  outcome: DigestOutcome;
}

interface Metrics {
  scans: Counter<'result'>;
  duration: Histogram;
  bytes: Counter;
  inFlight: Gauge;
}

const metricsByRegistry = new WeakMap<Registry, Metrics>();

function scanMetrics(registry: Registry): Metrics {
  let m = metricsByRegistry.get(registry);
  if (m === undefined) {
    const registers = [registry];
    m = {
      scans: new Counter({
        name: 'kubeinspector_image_scans_total',
        help: 'Image scans by result: success or the coverage reason of the failure',
        labelNames: ['result'],
        registers,
      }),
      duration: new Histogram({
        name: 'kubeinspector_image_scan_duration_seconds',
        help: 'Duration of image scans',
        buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
        registers,
      }),
      bytes: new Counter({
        name: 'kubeinspector_image_scan_bytes_total',
        help: 'Compressed layer bytes downloaded by image scans',
        registers,
      }),
      inFlight: new Gauge({
        name: 'kubeinspector_image_scans_in_flight',
        help: 'Image scans running now',
        registers,
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

/** A digest waiting or running: the request that started it and who else asked. */
interface Pending {
  req: ScanRequest;
  purposes: Set<ScanPurpose>;
  onDone: (() => void)[];
  /** The credential sources of the first coverage request, when it joined another's scan. */
  coverageSources?: string;
}

export interface ScanServiceOptions {
  scanner: ImageScanner;
  store: ImageInventoryStore;
  concurrency: number;
  clock: Clock;
  log: Logger;
  registry: Registry;
  /** Results of run-only scans kept (default 64). */
  runResults?: number;
  /** How long a failed scan (and a pull check's answer) is held before it is tried again. */
  retryFailedAfterMs?: number;
}

export class ScanService {
  private readonly waiting = new Map<string, Pending>();
  private readonly running = new Map<string, Pending>();
  private readonly sources = new Map<string, string>();
  private readonly runOnly: BoundedCache<ImageScanRecord>;
  private readonly opts: ScanServiceOptions;
  private readonly metrics: Metrics;
  private readonly abort = new AbortController();
  private readonly pullChecks = new BoundedCache<PullCheckRecord>(256);
  private readonly pullChecking = new Map<string, (() => void)[]>();

  /**
   * How long a failed scan is held before coverage tries it again, and a pull check's answer
   * before it is checked again (`--retry-failed-scans-after`, default 10 minutes).
   */
  readonly retryFailedAfterMs: number;

  constructor(opts: ScanServiceOptions) {
    this.opts = opts;
    this.retryFailedAfterMs = opts.retryFailedAfterMs ?? RETRY_FAILED_SCAN_MS;
    this.metrics = scanMetrics(opts.registry);
    this.runOnly = new BoundedCache(opts.runResults ?? 64);
    // What a scan used is kept as long as its result: nothing here outlives the images.
    opts.store.onChange((digest) => {
      if (opts.store.get(digest) === undefined) this.sources.delete(digest);
    });
  }

  /**
   * True while the digest waits or is being scanned; with a purpose, only when a request of
   * that purpose is among those waiting for it.
   */
  has(digest: string, purpose?: ScanPurpose): boolean {
    const pending = this.waiting.get(digest) ?? this.running.get(digest);
    return pending !== undefined && (purpose === undefined || pending.purposes.has(purpose));
  }

  /** The covered result of a digest (what coverage asked for). */
  get(digest: string): ImageScanRecord | undefined {
    return this.opts.store.get(digest);
  }

  /**
   * A run's view: a covered inventory, else the result of a scan a run asked for (a covered
   * failure is coverage's to retry; a run asks for its own scan).
   */
  resultFor(digest: string): ImageScanRecord | undefined {
    const covered = this.opts.store.get(digest);
    return covered?.outcome.status === 'inventory' ? covered : this.runOnly.get(digest);
  }

  /** Forgets a digest's covered result (coverage deleted the image). */
  forget(digest: string): void {
    this.opts.store.delete(digest);
  }

  onChange(listener: (digest: string) => void): void {
    this.opts.store.onChange(listener);
  }

  /** The credential sources the digest's last covered scan used. */
  credentialSourcesOf(digest: string): string | undefined {
    return this.sources.get(digest);
  }

  /**
   * Asks for a scan. A digest already waiting or running is not scanned twice: the request
   * joins it (its purpose and `onDone` are added; a coverage request that joins a scan not yet
   * started takes its place, so coverage's size limit and pull secrets apply).
   */
  request(req: ScanRequest): void {
    if (this.abort.signal.aborted) return;
    const waiting = this.waiting.get(req.digest);
    const pending = waiting ?? this.running.get(req.digest);
    if (pending === undefined) {
      this.waiting.set(req.digest, {
        req,
        purposes: new Set([req.purpose]),
        onDone: req.onDone !== undefined ? [req.onDone] : [],
      });
      this.pump();
      return;
    }
    if (waiting !== undefined && req.purpose === 'coverage' && !waiting.purposes.has('coverage'))
      waiting.req = req;
    if (req.purpose === 'coverage') pending.coverageSources ??= req.credentialSources;
    pending.purposes.add(req.purpose);
    if (req.onDone !== undefined) pending.onDone.push(req.onDone);
  }

  /**
   * The last answer to whether the registry serves `reference` with these pull secrets; starts
   * a check when there is none or it is older than {@link retryFailedAfterMs} (the old answer
   * is returned meanwhile). Undefined until a first check ends, and always with a scanner that
   * cannot resolve digests.
   */
  checkPull(req: PullCheckRequest): PullCheckRecord | undefined {
    const key = `${req.reference} ${req.credentialSources}`;
    const held = this.pullChecks.get(key);
    const now = this.opts.clock.now().getTime();
    if (held !== undefined && now - held.checkedAt < this.retryFailedAfterMs) return held;
    if (this.abort.signal.aborted || this.opts.scanner.resolveDigest === undefined) return held;
    const running = this.pullChecking.get(key);
    if (running !== undefined) {
      if (req.onDone !== undefined) running.push(req.onDone);
      return held;
    }
    const listeners = req.onDone !== undefined ? [req.onDone] : [];
    this.pullChecking.set(key, listeners);
    void this.pullCheck(req).then((outcome) => {
      this.pullChecking.delete(key);
      if (this.abort.signal.aborted) return;
      this.pullChecks.set(key, { checkedAt: this.opts.clock.now().getTime(), outcome });
      if (outcome.status === 'failed') {
        this.opts.log.info(
          { image: req.reference, reason: outcome.reason, message: outcome.message },
          'image not pulled by its pods cannot be read with their pull secrets',
        );
      }
      for (const done of listeners) done();
    });
    return held;
  }

  private async pullCheck(req: PullCheckRequest): Promise<DigestOutcome> {
    try {
      const { credentials } = await req.credentials();
      return await this.opts.scanner.resolveDigest!(req.reference, {
        credentials,
        signal: this.abort.signal,
      });
    } catch (err) {
      return {
        status: 'failed',
        reason: 'INTERNAL_ERROR',
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  stop(): void {
    this.abort.abort(new Error('scan service stopped'));
    this.waiting.clear();
  }

  private pump(): void {
    while (this.running.size < this.opts.concurrency && this.waiting.size > 0) {
      const [digest, pending] = this.waiting.entries().next().value as [string, Pending];
      this.waiting.delete(digest);
      this.running.set(digest, pending);
      this.metrics.inFlight.set(this.running.size);
      void this.scan(pending).finally(() => {
        this.running.delete(digest);
        this.metrics.inFlight.set(this.running.size);
        this.pump();
      });
    }
  }

  private async outcomeOf(req: ScanRequest): Promise<ScanOutcome> {
    try {
      const { credentials, problems } = await req.credentials();
      if (problems.length > 0) {
        this.opts.log.info({ image: req.reference, problems }, 'some pull secrets cannot be used');
      }
      return await this.opts.scanner.scan(req.reference, {
        credentials,
        signal: this.abort.signal,
        ...(req.codeScanning === true ? { codeScanning: true } : {}),
        ...(req.maxImageBytes !== undefined
          ? { limits: { maxCompressedBytes: req.maxImageBytes } }
          : {}),
      });
    } catch (err) {
      // The scanner returns typed outcomes; anything thrown is ours (API errors reading secrets).
      return {
        status: 'failed',
        reason: 'INTERNAL_ERROR',
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  private async scan(pending: Pending): Promise<void> {
    const { req } = pending;
    const started = performance.now();
    const outcome = await this.outcomeOf(req);
    if (this.abort.signal.aborted) return;
    this.metrics.scans.inc({ result: outcome.status === 'inventory' ? 'success' : outcome.reason });
    this.metrics.duration.observe((performance.now() - started) / 1000);
    if (outcome.status === 'inventory') {
      this.metrics.bytes.inc(outcome.inventory.stats.bytesDownloaded);
    } else {
      this.opts.log.warn(
        { image: req.reference, reason: outcome.reason, message: outcome.message },
        'image scan failed',
      );
    }
    const record = {
      digest: req.digest,
      reference: req.reference,
      scannedAt: this.opts.clock.now(),
      outcome,
    };
    // A run that asked keeps its own copy (a failed covered result is coverage's to retry).
    if (pending.purposes.has('run')) this.runOnly.set(req.digest, record);
    if (pending.purposes.has('coverage')) {
      this.sources.set(
        req.digest,
        req.purpose === 'coverage' ? req.credentialSources : (pending.coverageSources ?? ''),
      );
      this.opts.store.set(record);
    }
    for (const done of pending.onDone) done();
  }
}

const services = new WeakMap<ImageInventoryStore, ScanService>();

/**
 * The process's scan service: the first area to ask creates it, every area gets the same one
 * (one deduplication, one set of metrics), keyed by the store of covered results.
 */
export function scanService(deps: ControllerDeps): ScanService {
  let s = services.get(deps.images);
  if (s === undefined) {
    s = new ScanService({
      scanner: deps.scanner,
      store: deps.images,
      concurrency: deps.scanConcurrency ?? 4,
      ...(deps.retryFailedScansMs !== undefined
        ? { retryFailedAfterMs: deps.retryFailedScansMs }
        : {}),
      clock: deps.clock,
      log: deps.log.child({ component: 'image-scans' }),
      registry: deps.manager.registry,
    });
    services.set(deps.images, s);
  }
  return s;
}
