/**
 * Image scans for the coverage controller: deduplicated by digest (one scan per digest at a
 * time, whatever the number of pods, repositories or reconciles asking), at most `concurrency`
 * at once, results into the shared ImageInventoryStore (whose listeners requeue the image, its
 * workloads and its repository). Credentials are fetched when the scan starts, by name.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ImageInventoryStore } from '../image-inventories.ts';
import type { ImageScanner, ScanCredentials, ScanOutcome } from '../../scanner/index.ts';
import type { Clock } from '../../runtime/clock.ts';

export interface ScanRequest {
  digest: string;
  /** `registry/repository@digest`. */
  reference: string;
  maxImageBytes: number;
  /** Called when the scan starts; resolves to the credentials to use. */
  credentials: () => Promise<{ credentials: ScanCredentials; problems: string[] }>;
  /** Fingerprint of the credentials' sources (secret names), kept with the result. */
  credentialSources: string;
}

export interface ScanRecordExtra {
  credentialSources: string;
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

export class ScanQueue {
  private readonly waiting = new Map<string, ScanRequest>();
  private readonly running = new Set<string>();
  private readonly sources = new Map<string, string>();
  private readonly o: {
    scanner: ImageScanner;
    store: ImageInventoryStore;
    concurrency: number;
    clock: Clock;
    log: Logger;
    registry: Registry;
  };
  private readonly metrics: Metrics;
  private readonly abort = new AbortController();

  constructor(o: ScanQueue['o']) {
    this.o = o;
    this.metrics = scanMetrics(o.registry);
    // What a scan used is kept as long as its result: nothing here outlives the images.
    o.store.onChange((digest) => {
      if (o.store.get(digest) === undefined) this.sources.delete(digest);
    });
  }

  /** True while the digest waits or is being scanned. */
  has(digest: string): boolean {
    return this.waiting.has(digest) || this.running.has(digest);
  }

  /** The credential sources the digest's last scan used. */
  credentialSourcesOf(digest: string): string | undefined {
    return this.sources.get(digest);
  }

  /** Asks for a scan; a digest already waiting or running is not scanned twice. */
  request(req: ScanRequest): void {
    if (this.abort.signal.aborted || this.has(req.digest)) return;
    this.waiting.set(req.digest, req);
    this.pump();
  }

  stop(): void {
    this.abort.abort(new Error('scan queue stopped'));
    this.waiting.clear();
  }

  private pump(): void {
    while (this.running.size < this.o.concurrency && this.waiting.size > 0) {
      const [digest, req] = this.waiting.entries().next().value as [string, ScanRequest];
      this.waiting.delete(digest);
      this.running.add(digest);
      this.metrics.inFlight.set(this.running.size);
      void this.scan(req).finally(() => {
        this.running.delete(digest);
        this.metrics.inFlight.set(this.running.size);
        this.pump();
      });
    }
  }

  private async scan(req: ScanRequest): Promise<void> {
    const started = performance.now();
    let outcome: ScanOutcome;
    try {
      const { credentials, problems } = await req.credentials();
      if (problems.length > 0) {
        this.o.log.info({ image: req.reference, problems }, 'some pull secrets cannot be used');
      }
      outcome = await this.o.scanner.scan(req.reference, {
        credentials,
        signal: this.abort.signal,
        limits: { maxCompressedBytes: req.maxImageBytes },
      });
    } catch (err) {
      // The scanner returns typed outcomes; anything thrown is ours (API errors reading secrets).
      outcome = {
        status: 'failed',
        reason: 'INTERNAL_ERROR',
        message: err instanceof Error ? err.message : String(err),
      };
    }
    if (this.abort.signal.aborted) return;
    const result = outcome.status === 'inventory' ? 'success' : outcome.reason;
    this.metrics.scans.inc({ result });
    this.metrics.duration.observe((performance.now() - started) / 1000);
    if (outcome.status === 'inventory') {
      this.metrics.bytes.inc(outcome.inventory.stats.bytesDownloaded);
    } else {
      this.o.log.warn(
        { image: req.reference, reason: outcome.reason, message: outcome.message },
        'image scan failed',
      );
    }
    this.sources.set(req.digest, req.credentialSources);
    this.o.store.set({
      digest: req.digest,
      reference: req.reference,
      scannedAt: this.o.clock.now(),
      outcome,
    });
  }
}
