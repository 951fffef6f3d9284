/**
 * CONTAINER_IMAGE coverage decided from facts: how pods use the image, what the scanner said,
 * what the CoveredResource remembers, the configuration and the time. Pure: the reconciler
 * (controllers/coverage/image.ts) reads the facts from its caches, asks `decideImage`, asks the
 * scan service's policy whether to scan with the question this module puts, and writes.
 */
import type { CoveredResourceStatus, ScanStatusReason } from '../api/v1alpha1/covered-resource.ts';
import type { ScanOutcome } from '../scanner/types.ts';
import { type CoverageConfig, DAY_MS, type ScanFrequency, repositoryFrequency } from './config.ts';
import { platformOf } from './pods.ts';
import {
  type Decision,
  type ScanState,
  earliest,
  imageCoverage,
  imageEligibleUntil,
} from './rules.ts';
import { boundedMessage, compact, iso, parseTime } from './status.ts';

/** An image no longer used keeps its CoveredResource this long after it became ineligible. */
export const KEEP_UNUSED_MS = 30 * DAY_MS;

/** Reasons that record a scan that ended (what the CoveredResource remembers after a restart). */
const SCANNED_REASONS: ReadonlySet<ScanStatusReason> = new Set([
  'SUCCESSFUL',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'ACCESS_DENIED',
  'UNSUPPORTED_OS',
  'UNSUPPORTED_MEDIA_TYPE',
  'IMAGE_SIZE_EXCEEDED',
  'INTERNAL_ERROR',
]);

/** A scan result this process holds for a digest (the scan service's covered result). */
export interface ScanResult {
  /** When the scan ended, epoch ms. */
  scannedAt: number;
  outcome: ScanOutcome;
}

/**
 * The scan state of a digest: the held result's when there is one; else what the
 * CoveredResource remembers from an earlier scan (after a restart the results are gone);
 * else pending.
 */
export function scanStateOf(
  result: ScanResult | undefined,
  previous: CoveredResourceStatus | undefined,
): { state: ScanState; remembered: boolean } {
  if (result !== undefined) {
    const { outcome } = result;
    return {
      state: outcome.status === 'inventory' ? 'inventory' : outcome.reason,
      remembered: false,
    };
  }
  const reason = previous?.scanStatus.reason;
  if (reason !== undefined && SCANNED_REASONS.has(reason) && previous?.lastScannedAt) {
    const state: ScanState =
      reason === 'SUCCESSFUL' || reason === 'SCAN_FREQUENCY_SCAN_ON_PUSH'
        ? 'inventory'
        : (reason as ScanState);
    return { state, remembered: true };
  }
  return { state: 'pending', remembered: false };
}

/**
 * The scanner's message about a failed scan of the digest: the held result's when there is
 * one; else what the CoveredResource remembers (after a restart the results are gone).
 */
export function scanMessageOf(
  result: ScanResult | undefined,
  previous: CoveredResourceStatus | undefined,
): string | undefined {
  if (result !== undefined) {
    return result.outcome.status === 'failed' ? result.outcome.message : undefined;
  }
  return previous?.scanStatus.message;
}

/** One container of a pod that runs the image, as the kubelet reports it. */
export interface ImageContainerUse {
  /** The container runs now. */
  running: boolean;
  /** When it last started running, epoch ms. */
  startedAt: number | undefined;
  /** Tag of the container's spec image, when it names one. */
  tag: string | undefined;
}

/** One pod that uses the image. */
export interface ImagePodUse {
  /** Its namespace is selected by the configuration's namespace selector. */
  selected: boolean;
  /** It, its workload or its namespace carries the exclusion label. */
  excluded: boolean;
  /** Its phase is Running. */
  running: boolean;
  /** Its containers that run the image. */
  containers: readonly ImageContainerUse[];
}

/** Everything the image's coverage is decided from, read from the caches. */
export interface ImageObservation {
  repository: string;
  digest: string;
  /** The pods that use the image (none once no pod does). */
  pods: readonly ImagePodUse[];
  /** The CoveredResource's status as last written. */
  previous: CoveredResourceStatus | undefined;
  /** Findings still name the CoveredResource (only read while the image is not activated). */
  findingsRemain: boolean;
  /** The result this process holds for the digest. */
  result: ScanResult | undefined;
  /** A coverage scan of the digest waits or runs now. */
  scanInFlight: boolean;
  /** The pull secrets of the active pods differ from those the held result was scanned with. */
  credentialsChanged: boolean;
  /** The held result was read with code scanning on and it is off now, or the other way round. */
  codeScanningChanged?: boolean;
}

/** How the pods use the image. */
export interface ImageUsage {
  /** Used by a pod of a selected namespace (or, with no pod left, it was activated). */
  activated: boolean;
  /** Every such pod is excluded (or, with no pod left, it was excluded). */
  excluded: boolean;
  /** Pods of selected namespaces that use it: the ones whose pull secrets a scan uses. */
  activeUsers: number;
  /** Pods of selected namespaces that run it now. */
  inUseCount: number;
  lastInUseAt: number | undefined;
  pulledAt: number | undefined;
  tags: string[];
}

/**
 * Whether the image is activated: used by a pod of a selected namespace; with no pod left, it
 * keeps the activation it had.
 */
export function imageActivated(
  pods: readonly ImagePodUse[],
  previous: CoveredResourceStatus | undefined,
): boolean {
  if (pods.length > 0) return pods.some((p) => p.selected);
  const r = previous?.scanStatus.reason;
  return r !== 'NO_SCAN_CONFIGURATION_ASSOCIATED' && r !== 'PENDING_DISABLE';
}

/**
 * How the pods use the image. `lastInUseAt` moves only when the image starts or stops being
 * in use (ADR 0500); the pull date is the latest container start seen; tags are those the pods
 * name, or the remembered ones once no pod uses it.
 */
export function imageUsage(
  pods: readonly ImagePodUse[],
  previous: CoveredResourceStatus | undefined,
  now: number,
): ImageUsage {
  const prev = previous?.image;
  const active = pods.filter((p) => p.selected);
  const activated = imageActivated(pods, previous);
  const excluded =
    pods.length > 0
      ? activated && active.every((p) => p.excluded)
      : previous?.scanStatus.reason === 'EXCLUDED_BY_TAG';
  const inUseCount = active.filter((p) => p.running && p.containers.some((c) => c.running)).length;
  const inUse = inUseCount > 0;
  const wasInUse = (prev?.inUseCount ?? 0) > 0;
  const lastInUseAt =
    inUse !== wasInUse || (inUse && prev?.lastInUseAt === undefined)
      ? now
      : parseTime(prev?.lastInUseAt);
  const containers = pods.flatMap((p) => p.containers);
  const pulledAt = latest([...containers.map((c) => c.startedAt), parseTime(prev?.imagePulledAt)]);
  const named =
    containers.length > 0
      ? containers.map((c) => c.tag).filter((t): t is string => t !== undefined)
      : (prev?.tags ?? []);
  const tags = [...new Set(named)].sort().slice(0, 64);
  return {
    activated,
    excluded,
    activeUsers: active.length,
    inUseCount,
    lastInUseAt,
    pulledAt,
    tags,
  };
}

function latest(times: readonly (number | undefined)[]): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

/**
 * What the scan service's policy (`coverageScanDecision`) decides from: the image's scan
 * state, the coverage the rules gave, and who could be scanned for.
 */
export interface ImageScanQuestion {
  /** `pending` (never scanned), `inventory` (scanned), or the reason of the last failure. */
  state: ScanState;
  statusCode: Decision['statusCode'];
  /** The coverage reason the rules gave. */
  reason: ScanStatusReason;
  /** Pods of activated, not excluded workloads using the image. */
  activeUsers: number;
  /** A scan of the digest waits or runs now. */
  inFlight: boolean;
  /** This process holds a result for the digest. */
  hasResult: boolean;
  continuous: boolean;
  /** When the last scan ended: the held result's time, else the remembered one. */
  lastScanAt: number | undefined;
  /** The pull secrets differ from those the held result used. */
  credentialsChanged: boolean;
  /** The held result was read with another code-scanning setting than the one in effect. */
  codeScanningChanged?: boolean;
  now: number;
}

export type ImageOutcome =
  | {
      /** No pod used the image for the keep time after it stopped being eligible. */
      kind: 'remove';
    }
  | {
      kind: 'write';
      coverage: Decision;
      status: CoveredResourceStatus;
      scan: ImageScanQuestion;
      /** The note of a Warning Event when this write is the one that records a failed scan. */
      scanFailure?: string;
      /** When the outcome may change on its own (eligibility ends, removal is due). */
      deadline?: number;
    };

/**
 * The image's coverage: activation, use, eligibility and the scan state give the reason; an
 * image no pod uses any more is removed 30 days after it stopped being eligible; a failed scan
 * that decides the reason says why, on the object and in one Event.
 */
export function decideImage(
  o: ImageObservation,
  config: CoverageConfig,
  now: number,
): ImageOutcome {
  const usage = imageUsage(o.pods, o.previous, now);
  const frequency = repositoryFrequency(config.rules, o.repository);
  const { state, remembered } = scanStateOf(o.result, o.previous);
  const inventory =
    o.result?.outcome.status === 'inventory' ? o.result.outcome.inventory : undefined;
  const pushedAt = parseTime(inventory?.image?.created) ?? parseTime(o.previous?.image?.pushedAt);
  const { pulledAt, lastInUseAt } = usage;
  const coverage = imageCoverage(
    {
      pendingDisable: !usage.activated && o.findingsRemain,
      activated: usage.activated,
      excluded: usage.excluded,
      frequency,
      inUse: usage.inUseCount > 0,
      pushedAt,
      pulledAt,
      lastInUseAt,
      scan: state,
    },
    config,
    now,
  );
  const removeAt =
    o.pods.length === 0 ? removalAt({ pushedAt, pulledAt, lastInUseAt }, config, now) : undefined;
  if (removeAt !== undefined && removeAt <= now) return { kind: 'remove' };
  const failed = state !== 'pending' && state !== 'inventory' && coverage.reason === state;
  const message = failed ? boundedMessage(scanMessageOf(o.result, o.previous)) : undefined;
  const status = imageStatus(o, { coverage, message, frequency, pushedAt, usage });
  const scan: ImageScanQuestion = {
    state,
    statusCode: coverage.statusCode,
    reason: coverage.reason,
    activeUsers: usage.activeUsers,
    inFlight: o.scanInFlight,
    hasResult: o.result !== undefined,
    continuous: frequency === 'CONTINUOUS_SCAN',
    lastScanAt: lastScanAt(o, remembered),
    credentialsChanged: o.result !== undefined && o.credentialsChanged,
    codeScanningChanged: o.result !== undefined && o.codeScanningChanged === true,
    now,
  };
  // Each failed scan once: when this write is the one that records it.
  const recordsFailure =
    failed && o.result !== undefined && status.lastScannedAt !== o.previous?.lastScannedAt;
  const deadline = earliest(now, coverage.deadline, removeAt);
  return {
    kind: 'write',
    coverage,
    status,
    scan,
    ...(recordsFailure ? { scanFailure: `${coverage.reason}: ${message ?? 'no message'}` } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  };
}

/** When an image no pod uses any more is removed: 30 days after it stopped being eligible. */
function removalAt(
  f: {
    pushedAt: number | undefined;
    pulledAt: number | undefined;
    lastInUseAt: number | undefined;
  },
  config: CoverageConfig,
  now: number,
): number {
  const until =
    imageEligibleUntil({ inUse: false, ...f }, config) ??
    (f.lastInUseAt ?? now) + config.pullWindowMs;
  return until + KEEP_UNUSED_MS;
}

/** When the last scan ended: the held result's time, else the remembered one. */
function lastScanAt(o: ImageObservation, remembered: boolean): number | undefined {
  if (o.result !== undefined) return o.result.scannedAt;
  return remembered ? parseTime(o.previous?.lastScannedAt) : undefined;
}

function imageStatus(
  o: ImageObservation,
  d: {
    coverage: Decision;
    message: string | undefined;
    frequency: ScanFrequency;
    pushedAt: number | undefined;
    usage: ImageUsage;
  },
): CoveredResourceStatus {
  const prev = o.previous?.image;
  const inventory =
    o.result?.outcome.status === 'inventory' ? o.result.outcome.inventory : undefined;
  const { repository, digest } = o;
  const { usage } = d;
  return compact({
    resourceType: 'CONTAINER_IMAGE',
    resourceId: `${repository}@${digest}`.slice(0, 1024),
    scanStatus: compact({
      statusCode: d.coverage.statusCode,
      reason: d.coverage.reason,
      message: d.message,
    }),
    scanType: 'PACKAGE',
    scanMode: 'AGENTLESS',
    lastScannedAt: o.result ? iso(o.result.scannedAt) : o.previous?.lastScannedAt,
    repository: {
      name: repository.slice(0, 512),
      scanFrequency: d.frequency,
    },
    image: compact({
      repository: repository.slice(0, 512),
      digest,
      tags: usage.tags.length > 0 ? usage.tags : undefined,
      platform: platformOf(inventory?.os) ?? prev?.platform,
      architecture: inventory?.image?.platform.split('/')[1] ?? prev?.architecture,
      pushedAt: iso(d.pushedAt),
      imagePulledAt: iso(usage.pulledAt),
      lastInUseAt: iso(usage.lastInUseAt),
      inUseCount: usage.inUseCount,
      sizeBytes: inventory?.image?.compressedSize ?? prev?.sizeBytes,
    }),
  });
}
