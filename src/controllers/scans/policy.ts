/**
 * The scan service's pure decisions: whether coverage scans an image now (first scan,
 * rescan of a forgotten continuous image, retry after a failure), and what a run does with
 * each image it collected (use a result, wait for a scan, ask for one, or leave it out over
 * the budget). No cluster, no clock of their own: the callers give them the facts.
 */

import type { ImageScanQuestion } from '../../coverage/image.ts';

/**
 * A failed image scan is retried after this long by default (`--retry-failed-scans-after`), or
 * at once when the pull secrets change.
 */
export const RETRY_FAILED_SCAN_MS = 10 * 60_000;

/** What coverage knows about one image when it decides whether to scan it. */
export type CoverageScanFacts = ImageScanQuestion;

export interface CoverageScanDecision {
  scan: boolean;
  /** When a failed scan may be retried (the image is reconciled again then). */
  retryAt?: number;
}

/**
 * First scan of an eligible image; background rescan of a continuous image this process has
 * no result for (its findings need the inventory), or of any image whose result was read with
 * another code-scanning setting; a failed scan again after the retry delay or when the pull
 * secrets change.
 */
export function coverageScanDecision(
  f: CoverageScanFacts,
  retryFailedAfterMs = RETRY_FAILED_SCAN_MS,
): CoverageScanDecision {
  const failed = f.state !== 'pending' && f.state !== 'inventory';
  const wanted = f.statusCode === 'ACTIVE' || (failed && f.reason === f.state);
  if (!wanted || f.activeUsers === 0 || f.inFlight) return { scan: false };
  if (f.state === 'pending') return { scan: true };
  // A held inventory read with another code-scanning setting is read again with this one.
  if (f.state === 'inventory')
    return {
      scan: (!f.hasResult && f.continuous) || (f.hasResult && f.codeScanningChanged === true),
    };
  const retryAt = (f.lastScanAt ?? f.now) + retryFailedAfterMs;
  if (retryAt <= f.now || (f.hasResult && f.credentialsChanged)) return { scan: true };
  return { scan: false, retryAt };
}

/** What a run knows about one collected image. */
export interface RunImageFacts {
  /** Coverage holds a successful scan of it. */
  covered: boolean;
  /** A scan only runs asked for has ended (success or failure). */
  runResult: boolean;
  /** A scan of it waits or runs now. */
  inFlight: boolean;
}

export type RunImageAction = 'use' | 'wait' | 'request' | 'over-budget';

/**
 * For each image in collected order: a covered inventory is used; of the others, the first
 * `budget` may be scanned for the run (their result used once it exists, waited for while a
 * scan runs, asked for otherwise: a run's failed scan is final for the run); the rest are
 * left out. The same images fall in the budget on every look, so waiting never widens it.
 */
export function runImagePlan(images: readonly RunImageFacts[], budget: number): RunImageAction[] {
  let own = 0;
  return images.map((img) => {
    if (img.covered) return 'use';
    own++;
    if (own > budget) return 'over-budget';
    if (img.runResult) return 'use';
    return img.inFlight ? 'wait' : 'request';
  });
}

/** A map that keeps the `max` most recently used entries. */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.entries.delete(key);
    this.entries.set(key, v);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
