/**
 * WORKLOAD code-scanning coverage (scan type CODE, the WorkloadCode scan type) decided from
 * facts: the same observation as the workload's package coverage, plus whether image scanning
 * is on, whether a label excludes the workload from code scanning, and whether each image was
 * read with code scanning. Pure, like workload.ts; the workload reconciler writes both.
 *
 * Inspector lists a Lambda function twice in its coverage, once per scan type (PACKAGE and
 * CODE), each with its own status and reason. The reasons here are the ones Inspector gives
 * Lambda code scanning that have a meaning for a workload, checked in this order:
 * NO_SCAN_CONFIGURATION_ASSOCIATED, EXCLUDED_BY_TAG, SCAN_ELIGIBILITY_EXPIRED, ACCESS_DENIED,
 * UNSUPPORTED_RUNTIME, INTERNAL_ERROR, SCAN_FREQUENCY_MANUAL, PENDING_INITIAL_SCAN, SUCCESSFUL.
 */
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { CoverageConfig } from './config.ts';
import { type Decision, decision, earliest } from './rules.ts';
import { boundedMessage, compact, iso } from './status.ts';
import {
  type WorkloadObservation,
  type WorkloadOutcome,
  decideWorkload,
  lastInvokedAt,
  workloadImages,
} from './workload.ts';

/** The label key that excludes a workload (or a namespace's workloads) from code scanning. */
export function codeExclusionLabel(config: CoverageConfig): string {
  return config.spec.workload.codeExclusionLabel;
}

/** What code coverage adds to a workload's observation. */
export interface WorkloadCodeObservation {
  workload: WorkloadObservation;
  /** The Image scan type is on: without it no image of the workload is read. */
  imageScanning: boolean;
  /** The code exclusion label is on the workload's namespace. */
  namespaceCodeExcluded: boolean;
  /** The CODE CoveredResource's status as last written. */
  previous: CoveredResourceStatus | undefined;
}

/** How code scanning sees one image of the workload. */
export type CodeImageState =
  'scanned' | 'pending' | 'manual' | 'unreadable' | 'ACCESS_DENIED' | 'INTERNAL_ERROR';

/** The scanner's failures after which no file of the image was read. */
const UNREADABLE = new Set(['UNSUPPORTED_OS', 'UNSUPPORTED_MEDIA_TYPE', 'IMAGE_SIZE_EXCEEDED']);

interface CodeImages {
  states: CodeImageState[];
  /** The first image that failed with each reason, and why (as the package row says it). */
  failures: Map<string, string>;
  /** The newest scan read with code scanning, epoch ms. */
  scannedAt: number | undefined;
}

/**
 * Each container's image as code scanning sees it. An image is `scanned` when its held result
 * was read with code scanning, whatever its operating system (application files are read on
 * any); one scanned before code scanning was switched on is `pending` until the rescan that
 * follows. After a restart no result is held: an image whose coverage remembers a scan counts
 * as scanned when this CODE coverage said SUCCESSFUL before.
 */
export function codeImages(o: WorkloadCodeObservation, config: CoverageConfig): CodeImages {
  const w = o.workload;
  const imgs = workloadImages(w, config);
  const out: CodeImages = { states: [], failures: imgs.failures, scannedAt: undefined };
  imgs.states.forEach((state, i) => {
    const scan = w.scans.get(imgs.images[i] ?? '');
    const outcome = scan?.result?.outcome;
    if (state === 'inventory' || state === 'unsupported-inventory') {
      if (outcome?.status === 'inventory') {
        if (outcome.inventory.code === undefined) {
          out.states.push('pending');
          return;
        }
        out.states.push('scanned');
        const t = scan?.result?.scannedAt;
        if (t !== undefined && (out.scannedAt === undefined || t > out.scannedAt))
          out.scannedAt = t;
        return;
      }
      // Remembered by the image's coverage, no result held (a restart).
      out.states.push(o.previous?.scanStatus.reason === 'SUCCESSFUL' ? 'scanned' : 'pending');
      return;
    }
    if (state === 'manual' || state === 'pending') out.states.push(state);
    else if (state === 'ACCESS_DENIED' || state === 'INTERNAL_ERROR') out.states.push(state);
    else if (UNREADABLE.has(state)) out.states.push('unreadable');
    else out.states.push('pending');
  });
  return out;
}

export interface WorkloadCodeFacts {
  namespaceActivated: boolean;
  imageScanning: boolean;
  excluded: boolean;
  running: boolean;
  lastUpdatedAt: number;
  lastInvokedAt: number | undefined;
  images: readonly CodeImageState[];
}

/** The code-scanning coverage of a workload: the first reason that applies wins. */
export function workloadCodeCoverage(
  f: WorkloadCodeFacts,
  c: CoverageConfig,
  now: number,
): Decision {
  if (!f.namespaceActivated || !f.imageScanning)
    return decision('NO_SCAN_CONFIGURATION_ASSOCIATED');
  if (f.excluded) return decision('EXCLUDED_BY_TAG');
  let deadline: number | undefined;
  if (!f.running) {
    const expires = Math.max(f.lastUpdatedAt, f.lastInvokedAt ?? 0) + c.workloadEligibilityMs;
    if (expires <= now) return decision('SCAN_ELIGIBILITY_EXPIRED');
    deadline = earliest(now, expires);
  }
  const imgs = f.images;
  if (imgs.includes('ACCESS_DENIED')) return decision('ACCESS_DENIED', deadline);
  const readable = imgs.filter((s) => s !== 'unreadable' && s !== 'manual');
  if (readable.length === 0 && imgs.includes('unreadable'))
    return decision('UNSUPPORTED_RUNTIME', deadline);
  if (imgs.includes('INTERNAL_ERROR')) return decision('INTERNAL_ERROR', deadline);
  if (imgs.length === 0 || imgs.includes('pending'))
    return decision('PENDING_INITIAL_SCAN', deadline);
  if (imgs.every((s) => s === 'manual')) return decision('SCAN_FREQUENCY_MANUAL', deadline);
  return decision('SUCCESSFUL', deadline);
}

const NO_IMAGE_SCANNING =
  'the WorkloadCode scan type reads images through image scanning: add Image to spec.activation.scanTypes';

/** The message of a decision: why an image failed, or what configuration is missing. */
function messageOf(o: WorkloadCodeObservation, d: Decision, imgs: CodeImages): string | undefined {
  if (d.reason === 'NO_SCAN_CONFIGURATION_ASSOCIATED')
    return o.workload.namespaceState.selected && !o.imageScanning ? NO_IMAGE_SCANNING : undefined;
  if (d.reason === 'UNSUPPORTED_RUNTIME') {
    const why = [...imgs.failures.entries()].find(([r]) => UNREADABLE.has(r))?.[1];
    return why === undefined ? undefined : `no image could be read for code scanning: ${why}`;
  }
  return imgs.failures.get(d.reason);
}

/**
 * The workload's CODE coverage. Its status carries the same resource, labels and workload
 * metadata as the package row (built by decideWorkload), with scan type CODE and its own
 * status, reason, message and last scan time.
 */
export function decideWorkloadCode(
  o: WorkloadCodeObservation,
  config: CoverageConfig,
  now: number,
): WorkloadOutcome {
  const w = o.workload;
  const imgs = codeImages(o, config);
  const labels = w.labels ?? {};
  const coverage = workloadCodeCoverage(
    {
      namespaceActivated: w.namespaceState.selected,
      imageScanning: o.imageScanning,
      excluded:
        w.namespaceState.excluded ||
        o.namespaceCodeExcluded ||
        Object.hasOwn(labels, config.exclusionLabel) ||
        Object.hasOwn(labels, codeExclusionLabel(config)),
      running: w.pods.some((p) => p.running),
      lastUpdatedAt: w.lastUpdatedAt,
      lastInvokedAt: lastInvokedAt(w),
      images: imgs.states,
    },
    config,
    now,
  );
  // The package row's shape, from the same facts (its own decision is not used).
  const base = decideWorkload({ ...w, previous: undefined }, config, now).status;
  const status: CoveredResourceStatus = compact({
    ...base,
    scanStatus: compact({
      statusCode: coverage.statusCode,
      reason: coverage.reason,
      message: boundedMessage(messageOf(o, coverage, imgs)),
    }),
    scanType: 'CODE' as const,
    lastScannedAt: iso(imgs.scannedAt) ?? o.previous?.lastScannedAt,
    workload: compact({
      ...base.workload!,
      runtime: base.workload?.runtime ?? o.previous?.workload?.runtime,
    }),
  });
  return { coverage, status };
}
