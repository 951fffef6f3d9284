/**
 * Coverage rules: facts about one resource + the configuration + the time -> exactly one
 * `{statusCode, reason}` (SPEC section 4), and the next time the answer can change on its own
 * (`deadline`, epoch ms) so the controller requeues then. Pure: no I/O, no clock of its own.
 * Each function checks the reasons in the documented order; the first that applies wins.
 */
import type { ScanStatusReason } from '../api/v1alpha1/covered-resource.ts';
import type { ScanFailureReason } from '../scanner/types.ts';
import type { CoverageConfig, ScanFrequency } from './config.ts';

export type StatusCode = 'ACTIVE' | 'INACTIVE';

export interface Decision {
  statusCode: StatusCode;
  reason: ScanStatusReason;
  /** When the decision may change with no event (epoch ms). */
  deadline?: number;
}

const ACTIVE_REASONS: ReadonlySet<ScanStatusReason> = new Set([
  'SUCCESSFUL',
  'PENDING_INITIAL_SCAN',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_NO_INVENTORY',
]);

export function decision(reason: ScanStatusReason, deadline?: number): Decision {
  return {
    statusCode: ACTIVE_REASONS.has(reason) ? 'ACTIVE' : 'INACTIVE',
    reason,
    ...(deadline !== undefined ? { deadline } : {}),
  };
}

/** The earliest of the deadlines that lie in the future. */
export function earliest(now: number, ...times: (number | undefined)[]): number | undefined {
  let best: number | undefined;
  for (const t of times)
    if (t !== undefined && t > now && (best === undefined || t < best)) best = t;
  return best;
}

// ---------------------------------------------------------------------------- NODE

export const SUPPORTED_ARCHITECTURES: ReadonlySet<string> = new Set(['amd64', 'arm64']);

export interface NodeFacts {
  /** False once the Node object is gone. */
  exists: boolean;
  /** The Node scan type is off but findings of the node remain. */
  pendingDisable: boolean;
  excluded: boolean;
  /** Ready condition status and since when (lastTransitionTime, epoch ms). */
  ready: { status: string | undefined; since: number | undefined };
  operatingSystem: string | undefined;
  architecture: string | undefined;
  /** An agent pod is bound to the node. */
  agentPod: boolean;
  inventory:
    | {
        collectedAt: number | undefined;
        errorCodes: readonly string[];
        packages: number;
      }
    | undefined;
  /** lastScannedAt already written on the CoveredResource (epoch ms). */
  lastScannedAt: number | undefined;
}

export function nodeCoverage(f: NodeFacts, c: CoverageConfig, now: number): Decision {
  if (!f.exists) return decision('RESOURCE_TERMINATED');
  if (f.pendingDisable) return decision('PENDING_DISABLE');
  if (f.excluded) return decision('EXCLUDED_BY_TAG');
  let deadline: number | undefined;
  if (f.ready.status !== 'True' && f.ready.status !== undefined) {
    const stopsAt = (f.ready.since ?? now) + c.notReadyGraceMs;
    if (stopsAt <= now) return decision('RESOURCE_STOPPED');
    deadline = stopsAt;
  }
  const inv = f.inventory;
  if (
    (f.operatingSystem !== undefined && f.operatingSystem !== 'linux') ||
    (f.architecture !== undefined && !SUPPORTED_ARCHITECTURES.has(f.architecture)) ||
    inv?.errorCodes.includes('UNSUPPORTED_OS')
  ) {
    return decision('UNSUPPORTED_OS', deadline);
  }
  if (!f.agentPod) return decision('RESOURCE_UNMANAGED', deadline);
  if (inv === undefined) return decision('NO_INVENTORY', deadline);
  if (inv.collectedAt !== undefined) {
    const staleAt = inv.collectedAt + c.staleInventoryMs;
    if (staleAt <= now) return decision('STALE_INVENTORY', deadline);
    deadline = earliest(now, deadline, staleAt);
  }
  if (inv.errorCodes.includes('READ_ERROR') && inv.packages === 0) {
    return decision('INTERNAL_ERROR', deadline);
  }
  if (inv.collectedAt === undefined) return decision('DEEP_INSPECTION_NO_INVENTORY', deadline);
  if (inv.errorCodes.includes('PACKAGE_COLLECTION_LIMIT_EXCEEDED')) {
    return decision('DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED', deadline);
  }
  if (inv.errorCodes.includes('COLLECTION_TIME_LIMIT_EXCEEDED')) {
    return decision('DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED', deadline);
  }
  if (f.lastScannedAt === undefined) return decision('PENDING_INITIAL_SCAN', deadline);
  return decision('SUCCESSFUL', deadline);
}

// ---------------------------------------------------------------------------- CONTAINER_IMAGE

/** What the scanner said about an image: `inventory` (scanned), a failure, or nothing yet. */
export type ScanState = 'inventory' | ScanFailureReason | 'pending';

export interface ImageFacts {
  pendingDisable: boolean;
  /** Used by at least one pod in an activated namespace. */
  activated: boolean;
  /** Every pod using it (in activated namespaces) is excluded, by its workload or namespace. */
  excluded: boolean;
  frequency: ScanFrequency;
  /** Running pods use it now. */
  inUse: boolean;
  pushedAt: number | undefined;
  pulledAt: number | undefined;
  lastInUseAt: number | undefined;
  scan: ScanState;
  /** The scanned image has an operating system advisories are published for, or packages. */
  supportedInventory?: boolean;
}

/** When the image stops being eligible (undefined: it stays eligible), or true if it already is not. */
export function imageEligibleUntil(
  f: Pick<ImageFacts, 'inUse' | 'pushedAt' | 'pulledAt' | 'lastInUseAt'>,
  c: CoverageConfig,
): number | undefined {
  if (f.inUse) return undefined;
  if (c.pushWindowMs === undefined) return undefined; // LIFETIME
  const pull = c.pullDateMode === 'LAST_PULL_DATE' ? f.pulledAt : f.lastInUseAt;
  const ends = [
    f.pushedAt !== undefined ? f.pushedAt + c.pushWindowMs : undefined,
    pull !== undefined ? pull + c.pullWindowMs : undefined,
  ].filter((t): t is number => t !== undefined);
  // Nothing known yet (never scanned, never seen in use): eligible until we know more.
  if (ends.length === 0) return undefined;
  return Math.max(...ends);
}

export function imageCoverage(f: ImageFacts, c: CoverageConfig, now: number): Decision {
  if (f.pendingDisable) return decision('PENDING_DISABLE');
  if (!f.activated) return decision('NO_SCAN_CONFIGURATION_ASSOCIATED');
  if (f.excluded) return decision('EXCLUDED_BY_TAG');
  if (f.frequency === 'MANUAL') return decision('SCAN_FREQUENCY_MANUAL');
  const until = imageEligibleUntil(f, c);
  if (until !== undefined && until <= now) return decision('SCAN_ELIGIBILITY_EXPIRED');
  const deadline = earliest(now, until);
  switch (f.scan) {
    case 'pending':
      return decision('PENDING_INITIAL_SCAN', deadline);
    case 'inventory':
      return decision(
        f.frequency === 'SCAN_ON_PUSH' ? 'SCAN_FREQUENCY_SCAN_ON_PUSH' : 'SUCCESSFUL',
        deadline,
      );
    default:
      return decision(f.scan, deadline);
  }
}

/** Whether an image in this state should be scanned now (eligible, not manual, not yet scanned). */
export function imageNeedsScan(d: Decision, f: ImageFacts): boolean {
  return d.reason === 'PENDING_INITIAL_SCAN' && f.scan === 'pending';
}

// ---------------------------------------------------------------------------- IMAGE_REPOSITORY

export function repositoryCoverage(
  frequency: ScanFrequency,
  imageScans: readonly ScanState[],
): Decision {
  if (frequency === 'MANUAL') return decision('SCAN_FREQUENCY_MANUAL');
  const done = imageScans.filter((s) => s !== 'pending');
  if (done.length > 0 && done.every((s) => s === 'ACCESS_DENIED')) return decision('ACCESS_DENIED');
  if (done.length > 0 && done.every((s) => s === 'INTERNAL_ERROR')) {
    return decision('INTERNAL_ERROR');
  }
  return decision(frequency === 'SCAN_ON_PUSH' ? 'SCAN_FREQUENCY_SCAN_ON_PUSH' : 'SUCCESSFUL');
}

// ---------------------------------------------------------------------------- WORKLOAD

/** An image of a workload as coverage sees it. */
export type WorkloadImageState = ScanState | 'manual' | 'unsupported-inventory';

export interface WorkloadFacts {
  namespaceActivated: boolean;
  excluded: boolean;
  /** A pod of the workload is running now. */
  running: boolean;
  lastUpdatedAt: number;
  lastInvokedAt: number | undefined;
  /** One entry per container image; `pending` also for images no pod has reported a digest for. */
  images: readonly WorkloadImageState[];
}

export function workloadCoverage(f: WorkloadFacts, c: CoverageConfig, now: number): Decision {
  if (!f.namespaceActivated) return decision('NO_SCAN_CONFIGURATION_ASSOCIATED');
  if (f.excluded) return decision('EXCLUDED_BY_TAG');
  let deadline: number | undefined;
  if (!f.running) {
    const last = Math.max(f.lastUpdatedAt, f.lastInvokedAt ?? 0);
    const expires = last + c.workloadEligibilityMs;
    if (expires <= now) return decision('SCAN_ELIGIBILITY_EXPIRED');
    deadline = expires;
  }
  const imgs = f.images;
  if (imgs.includes('ACCESS_DENIED')) return decision('ACCESS_DENIED', deadline);
  const yields = imgs.filter(
    (s) =>
      s !== 'UNSUPPORTED_OS' &&
      s !== 'UNSUPPORTED_MEDIA_TYPE' &&
      s !== 'IMAGE_SIZE_EXCEEDED' &&
      s !== 'unsupported-inventory' &&
      s !== 'manual',
  );
  if (imgs.length > 0 && yields.length === 0 && imgs.some((s) => s !== 'manual')) {
    return decision('UNSUPPORTED_RUNTIME', deadline);
  }
  if (imgs.includes('INTERNAL_ERROR')) return decision('INTERNAL_ERROR', deadline);
  if (imgs.length === 0 || imgs.includes('pending')) {
    return decision('PENDING_INITIAL_SCAN', deadline);
  }
  if (imgs.every((s) => s === 'manual')) return decision('SCAN_FREQUENCY_MANUAL', deadline);
  return decision('SUCCESSFUL', deadline);
}

// ---------------------------------------------------------------------------- NAMESPACE

export function namespaceCoverage(f: { selected: boolean; excluded: boolean }): Decision {
  if (!f.selected) return decision('NO_SCAN_CONFIGURATION_ASSOCIATED');
  if (f.excluded) return decision('EXCLUDED_BY_TAG');
  return decision('SUCCESSFUL');
}
