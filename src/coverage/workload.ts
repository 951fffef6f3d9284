/**
 * WORKLOAD coverage decided from facts: the workload's template, what its pods run and since
 * when, what the scanner said about each image, the configuration and the time. Pure: the
 * reconciler (controllers/coverage/workload.ts) finds the workload's pods through the caches,
 * asks `decideWorkload` and writes the status.
 */
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import { type CoverageConfig, repositoryFrequency } from './config.ts';
import { type ScanResult, scanMessageOf, scanStateOf } from './image.ts';
import type { WorkloadKind } from './owner.ts';
import { type PodImage, platformOf, repositoryOf } from './pods.ts';
import { type Decision, type WorkloadImageState, workloadCoverage } from './rules.ts';
import { boundedMessage, compact, iso, trimLabels } from './status.ts';

export const WORKLOAD_API_VERSIONS: Record<WorkloadKind, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
  Pod: 'v1',
};

/** What coverage knows of one image a pod runs: the held result and the image's own status. */
export interface WorkloadImageScan {
  result: ScanResult | undefined;
  /** The status of the image's CoveredResource (what it remembers after a restart). */
  previous: CoveredResourceStatus | undefined;
}

/** Everything a workload's coverage is decided from, read from the caches. */
export interface WorkloadObservation {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string | undefined;
  labels: Readonly<Record<string, string>> | undefined;
  /** Its namespace: selected by the configuration, excluded by label. */
  namespaceState: { selected: boolean; excluded: boolean };
  /** The newest write of its spec or labels (else its creation), epoch ms. */
  lastUpdatedAt: number;
  /** Its pods: whether each runs now and when it started. */
  pods: readonly { running: boolean; startedAt: number | undefined }[];
  /** A CronJob's last schedule time, epoch ms. */
  lastScheduledAt: number | undefined;
  /** The containers (and init containers) of its pod template. */
  containers: readonly { name?: string | undefined; image?: string | undefined }[];
  /** The images its pods run, as the kubelet reports them. */
  runs: readonly PodImage[];
  /** By image key (`repository@digest`) of each run: what coverage knows of its scan. */
  scans: ReadonlyMap<string, WorkloadImageScan>;
  /**
   * By container name: why the registry refused the image of a container no pod could pull
   * (the kubelet reports a pull error and no digest), read with the pods' pull secrets.
   */
  pullDenied?: ReadonlyMap<string, string> | undefined;
  /** The workload's CoveredResource status as last written. */
  previous: CoveredResourceStatus | undefined;
}

export interface WorkloadOutcome {
  coverage: Decision;
  status: CoveredResourceStatus;
}

/** When the workload was last invoked: the latest pod start or CronJob schedule. */
export function lastInvokedAt(o: Pick<WorkloadObservation, 'pods' | 'lastScheduledAt'>) {
  const times = [...o.pods.map((p) => p.startedAt), o.lastScheduledAt].filter(
    (t): t is number => t !== undefined,
  );
  return times.length > 0 ? Math.max(...times) : undefined;
}

interface ImagesOfWorkload {
  /** One entry per container: the image key its newest pod runs, else the spec image. */
  images: string[];
  states: WorkloadImageState[];
  /** The first image that failed with each reason, and why. */
  failures: Map<string, string>;
  /** The platform of the first scanned image. */
  runtime: string | undefined;
}

/**
 * Each container of the template: the digest its newest pod runs and that image's state
 * (`manual` in a MANUAL repository, `pending` while no pod reports a digest (`ACCESS_DENIED` when
 * no pod could pull it and the registry refuses their pull secrets), `unsupported-inventory`
 * for an OS advisories are not published for and no packages).
 */
export function workloadImages(o: WorkloadObservation, config: CoverageConfig): ImagesOfWorkload {
  const out: ImagesOfWorkload = { images: [], states: [], failures: new Map(), runtime: undefined };
  for (const c of o.containers) {
    const img = containerImage(o, config, c);
    out.images.push(img.image);
    out.states.push(img.state);
    if (img.failure !== undefined && !out.failures.has(img.failure.reason)) {
      out.failures.set(img.failure.reason, img.failure.message);
    }
    out.runtime ??= img.runtime;
  }
  return out;
}

/** One container of the template: the image it runs, that image's state, and why it failed. */
function containerImage(
  o: WorkloadObservation,
  config: CoverageConfig,
  c: WorkloadObservation['containers'][number],
): {
  image: string;
  state: WorkloadImageState;
  failure?: { reason: string; message: string };
  runtime?: string | undefined;
} {
  const seen = o.runs
    .filter((r) => r.container === c.name)
    .sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))[0];
  const repo = seen?.repository ?? repositoryOf(c.image ?? '');
  if (repo !== undefined && repositoryFrequency(config.rules, repo) === 'MANUAL') {
    return { image: seen?.key ?? c.image ?? '', state: 'manual' };
  }
  if (seen === undefined) {
    // No pod runs it: pending, unless the registry refuses the pods' credentials for it.
    const denied = o.pullDenied?.get(c.name ?? '');
    if (denied === undefined) return { image: c.image ?? '', state: 'pending' };
    const message = `image ${c.image ?? ''}: ${denied}`;
    return {
      image: c.image ?? '',
      state: 'ACCESS_DENIED',
      failure: { reason: 'ACCESS_DENIED', message },
    };
  }
  return { image: seen.key, ...runState(o, seen) };
}

/** The state of an image a pod runs, why its scan failed, and its platform. */
function runState(
  o: WorkloadObservation,
  run: PodImage,
): Omit<ReturnType<typeof containerImage>, 'image'> {
  const scan = o.scans.get(run.key);
  const { state } = scanStateOf(scan?.result, scan?.previous);
  const outcome = scan?.result?.outcome;
  if (outcome?.status === 'inventory') {
    const { os, packages } = outcome.inventory;
    const unsupported = os?.supported === false && packages.length === 0;
    return { state: unsupported ? 'unsupported-inventory' : state, runtime: platformOf(os) };
  }
  if (state === 'pending' || state === 'inventory') return { state };
  const why = scanMessageOf(scan?.result, scan?.previous) ?? state;
  return { state, failure: { reason: state, message: `image ${run.key}: ${why}` } };
}

/** The newest scan of an image the workload's pods run. */
function newestScan(o: WorkloadObservation): number | undefined {
  let newest: number | undefined;
  for (const r of o.runs) {
    const t = o.scans.get(r.key)?.result?.scannedAt;
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  return newest;
}

/**
 * The workload's coverage: activation, exclusion, recent use and the states of its images give
 * the reason; a failed image that decides the reason says why.
 */
export function decideWorkload(
  o: WorkloadObservation,
  config: CoverageConfig,
  now: number,
): WorkloadOutcome {
  const invoked = lastInvokedAt(o);
  const imgs = workloadImages(o, config);
  const coverage = workloadCoverage(
    {
      namespaceActivated: o.namespaceState.selected,
      excluded: o.namespaceState.excluded || Object.hasOwn(o.labels ?? {}, config.exclusionLabel),
      running: o.pods.some((p) => p.running),
      lastUpdatedAt: o.lastUpdatedAt,
      lastInvokedAt: invoked,
      images: imgs.states,
    },
    config,
    now,
  );
  const { kind, namespace, name } = o;
  const status: CoveredResourceStatus = compact({
    resourceType: 'WORKLOAD',
    resourceId: `${namespace}/${kind}/${name}`.slice(0, 1024),
    resource: compact({
      apiVersion: WORKLOAD_API_VERSIONS[kind],
      kind,
      namespace,
      name,
      uid: o.uid,
    }),
    resourceLabels: trimLabels(o.labels),
    scanStatus: compact({
      statusCode: coverage.statusCode,
      reason: coverage.reason,
      message: boundedMessage(imgs.failures.get(coverage.reason)),
    }),
    scanType: 'PACKAGE',
    scanMode: 'AGENTLESS',
    lastScannedAt: iso(newestScan(o)) ?? o.previous?.lastScannedAt,
    workload: compact({
      kind,
      runtime: imgs.runtime ?? o.previous?.workload?.runtime,
      images:
        imgs.images.length > 0
          ? [...new Set(imgs.images)].slice(0, 64).map((i) => i.slice(0, 1024))
          : undefined,
      lastInvokedAt: iso(invoked),
      lastUpdatedAt: iso(o.lastUpdatedAt),
    }),
  });
  return { coverage, status };
}
