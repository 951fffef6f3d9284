/**
 * CONTAINER_IMAGE coverage: one CoveredResource per `repository@digest` the kubelet reports
 * for pods, while the Image scan type is active. Drives the scans of eligible images.
 */
import type {
  CoveredResourceStatus,
  ScanStatusReason,
} from '../../api/v1alpha1/covered-resource.ts';
import { DAY_MS, repositoryFrequency } from '../../coverage/config.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { platformOf, podImages } from '../../coverage/pods.ts';
import {
  earliest,
  imageCoverage,
  imageEligibleUntil,
  type ImageFacts,
  type ScanState,
} from '../../coverage/rules.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { podCredentials, pullSecretNames } from '../pull-secrets.ts';
import { coverageScanDecision } from '../scans/policy.ts';
import { requeueAt, retireOrDisable } from './common.ts';
import {
  type CoverageContext,
  type Covered,
  compact,
  coveredLabels,
  iso,
  parseTime,
} from './context.ts';
import { workloadOfPod } from './workload.ts';

/** An image no longer used keeps its CoveredResource this long after it became ineligible. */
export const KEEP_UNUSED_MS = 30 * DAY_MS;

const SCANNED_REASONS: ReadonlySet<ScanStatusReason> = new Set([
  'SUCCESSFUL',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'ACCESS_DENIED',
  'UNSUPPORTED_OS',
  'UNSUPPORTED_MEDIA_TYPE',
  'IMAGE_SIZE_EXCEEDED',
  'INTERNAL_ERROR',
]);

export function splitImageKey(key: string): { repository: string; digest: string } {
  const at = key.lastIndexOf('@');
  return { repository: key.slice(0, at), digest: key.slice(at + 1) };
}

/**
 * The scan state of a digest: the store's record when there is one; else what the
 * CoveredResource remembers from an earlier scan (after a restart the store is empty);
 * else pending.
 */
export function scanStateOf(
  ctx: CoverageContext,
  digest: string,
  current: Covered | undefined,
): { state: ScanState; remembered: boolean } {
  const record = ctx.scans.get(digest);
  if (record !== undefined) {
    return {
      state: record.outcome.status === 'inventory' ? 'inventory' : record.outcome.reason,
      remembered: false,
    };
  }
  const reason = current?.status?.scanStatus.reason;
  if (reason !== undefined && SCANNED_REASONS.has(reason) && current?.status?.lastScannedAt) {
    const state: ScanState =
      reason === 'SUCCESSFUL' || reason === 'SCAN_FREQUENCY_SCAN_ON_PUSH'
        ? 'inventory'
        : (reason as ScanState);
    return { state, remembered: true };
  }
  return { state: 'pending', remembered: false };
}

/** Longest scanStatus.message the schema allows. */
const MESSAGE_MAX = 1024;

/**
 * The scanner's message about a failed scan of the digest: the store's record when there is
 * one; else what the CoveredResource remembers (after a restart the store is empty).
 */
export function scanMessageOf(
  ctx: CoverageContext,
  digest: string,
  current: Covered | undefined,
): string | undefined {
  const record = ctx.scans.get(digest);
  if (record !== undefined) {
    return record.outcome.status === 'failed' ? record.outcome.message : undefined;
  }
  return current?.status?.scanStatus.message;
}

/** A scanStatus.message within the schema's bound. */
export function boundedMessage(message: string | undefined): string | undefined {
  if (message === undefined || message === '') return undefined;
  return message.length <= MESSAGE_MAX ? message : `${message.slice(0, MESSAGE_MAX - 1)}…`;
}

function isExcluded(ctx: CoverageContext, pod: KubeObject, label: string): boolean {
  if (Object.hasOwn(pod.metadata.labels ?? {}, label)) return true;
  const w = workloadOfPod(ctx, pod);
  return w?.object !== undefined && Object.hasOwn(w.object.metadata.labels ?? {}, label);
}

export function imageReconciler(ctx: CoverageContext): Reconciler {
  return {
    async reconcile(key): Promise<Result | undefined> {
      const { config } = ctx.config();
      const { repository, digest } = splitImageKey(key);
      const crName = coveredResourceName.image(repository, digest);
      const current = ctx.covered.get(crName);
      if (!config.scanTypes.has('Image')) return retireOrDisable(ctx, crName, current);
      const pods = ctx.pods.byIndex('byImageKey', key);
      if (pods.length === 0 && current === undefined) return undefined;
      const now = ctx.now();
      const prev = current?.status?.image;

      let activated: boolean;
      let excluded: boolean;
      let usersActive: KubeObject[] = [];
      if (pods.length > 0) {
        usersActive = pods.filter(
          (p) => ctx.namespaceState(config, p.metadata.namespace!).selected,
        );
        activated = usersActive.length > 0;
        excluded =
          activated &&
          usersActive.every(
            (p) =>
              ctx.namespaceState(config, p.metadata.namespace!).excluded ||
              isExcluded(ctx, p, config.exclusionLabel),
          );
      } else {
        // No pod uses it any more: it keeps the activation it had.
        const r = current?.status?.scanStatus.reason;
        activated = r !== 'NO_SCAN_CONFIGURATION_ASSOCIATED' && r !== 'PENDING_DISABLE';
        excluded = r === 'EXCLUDED_BY_TAG';
      }
      const mine = pods.flatMap((p) =>
        podImages(p)
          .filter((i) => i.key === key)
          .map((i) => ({ pod: p, image: i })),
      );
      const runningPods = new Set(
        mine
          .filter(
            (m) =>
              (m.pod.status as { phase?: string } | undefined)?.phase === 'Running' &&
              m.image.running &&
              usersActive.includes(m.pod),
          )
          .map((m) => m.pod),
      );
      const inUse = runningPods.size > 0;
      const wasInUse = (prev?.inUseCount ?? 0) > 0;
      const lastInUseAt =
        inUse !== wasInUse || (inUse && prev?.lastInUseAt === undefined)
          ? now
          : parseTime(prev?.lastInUseAt);
      const startTimes = mine.map((m) => m.image.startedAt).filter((t) => t !== undefined);
      const pulledAt = earliestMax([...startTimes, parseTime(prev?.imagePulledAt)]);
      const tags = [
        ...new Set(
          mine.length > 0
            ? mine.map((m) => m.image.tag).filter((t): t is string => t !== undefined)
            : (prev?.tags ?? []),
        ),
      ]
        .sort()
        .slice(0, 64);

      const frequency = repositoryFrequency(config.rules, repository);
      const { state, remembered } = scanStateOf(ctx, digest, current);
      const record = ctx.scans.get(digest);
      const inventory =
        record?.outcome.status === 'inventory' ? record.outcome.inventory : undefined;
      const pushedAt = parseTime(inventory?.image?.created) ?? parseTime(prev?.pushedAt);

      const facts: ImageFacts = {
        pendingDisable: !activated && (await ctx.findingCount(crName)) > 0,
        activated,
        excluded,
        frequency,
        inUse,
        pushedAt,
        pulledAt,
        lastInUseAt,
        scan: state,
      };
      const d = imageCoverage(facts, config, now);

      // Scans: the scan service's policy decides (first scan, forgotten continuous image,
      // retry of a failure).
      const inFlight = ctx.scans.has(digest, 'coverage');
      const sources =
        usersActive.length > 0 && !inFlight ? credentialSources(ctx, usersActive) : '';
      const decision = coverageScanDecision({
        state,
        statusCode: d.statusCode,
        reason: d.reason,
        activeUsers: usersActive.length,
        inFlight,
        hasResult: record !== undefined,
        continuous: frequency === 'CONTINUOUS_SCAN',
        lastScanAt: record
          ? record.scannedAt.getTime()
          : remembered
            ? parseTime(current?.status?.lastScannedAt)
            : undefined,
        credentialsChanged:
          record !== undefined && ctx.scans.credentialSourcesOf(digest) !== sources,
        now,
      });
      const retryAt = decision.retryAt;
      if (decision.scan) requestScan(ctx, key, usersActive, sources, config.maxImageBytes);

      // An image no longer used is removed 30 days after it stopped being eligible.
      let deleteAt: number | undefined;
      if (pods.length === 0) {
        const until =
          imageEligibleUntil({ inUse: false, pushedAt, pulledAt, lastInUseAt }, config) ??
          (lastInUseAt ?? now) + config.pullWindowMs;
        deleteAt = until + KEEP_UNUSED_MS;
        if (deleteAt <= now) {
          await ctx.delete(crName);
          ctx.scans.forget(digest);
          return undefined;
        }
      }

      // A failed scan that decides the reason says why, on the object and in an Event.
      const failed = state !== 'pending' && state !== 'inventory' && d.reason === state;
      const message = failed ? boundedMessage(scanMessageOf(ctx, digest, current)) : undefined;
      const status: CoveredResourceStatus = compact({
        resourceType: 'CONTAINER_IMAGE',
        resourceId: key.slice(0, 1024),
        scanStatus: compact({ statusCode: d.statusCode, reason: d.reason, message }),
        scanType: 'PACKAGE',
        scanMode: 'AGENTLESS',
        lastScannedAt: record ? iso(record.scannedAt.getTime()) : current?.status?.lastScannedAt,
        repository: { name: repository.slice(0, 512), scanFrequency: frequency },
        image: compact({
          repository: repository.slice(0, 512),
          digest,
          tags: tags.length > 0 ? tags : undefined,
          platform: platformOf(inventory?.os) ?? prev?.platform,
          architecture: inventory?.image?.platform.split('/')[1] ?? prev?.architecture,
          pushedAt: iso(pushedAt),
          imagePulledAt: iso(pulledAt),
          lastInUseAt: iso(lastInUseAt),
          inUseCount: runningPods.size,
          sizeBytes: inventory?.image?.compressedSize ?? prev?.sizeBytes,
        }),
      });
      const { uid } = await ctx.write(crName, coveredLabels(status), status);
      // Each failed scan once: when this write is the one that records it.
      if (
        failed &&
        record !== undefined &&
        status.lastScannedAt !== current?.status?.lastScannedAt
      ) {
        ctx.warn(crName, uid, 'ImageScanFailed', 'Scan', `${d.reason}: ${message ?? 'no message'}`);
      }
      return requeueAt(earliest(now, d.deadline, retryAt, deleteAt), now);
    },
  };
}

function earliestMax(times: (number | undefined)[]): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

function credentialSources(ctx: CoverageContext, pods: readonly KubeObject[]): string {
  const names = new Set<string>();
  for (const p of pods) {
    for (const n of pullSecretNames(p, ctx.serviceAccounts))
      names.add(`${p.metadata.namespace}/${n}`);
  }
  return [...names].sort().join(',');
}

function requestScan(
  ctx: CoverageContext,
  key: string,
  pods: readonly KubeObject[],
  sources: string,
  maxImageBytes: number,
): void {
  const { digest } = splitImageKey(key);
  // Running pods first: their secrets are the ones the kubelet used.
  const ordered = [...pods].sort(
    (a, b) =>
      Number((b.status as { phase?: string })?.phase === 'Running') -
      Number((a.status as { phase?: string })?.phase === 'Running'),
  );
  ctx.scans.request({
    purpose: 'coverage',
    digest,
    reference: key,
    maxImageBytes,
    credentialSources: sources,
    credentials: async () => {
      const pullSecrets: Record<string, string>[] = [];
      const problems: string[] = [];
      const seen = new Set<string>();
      for (const pod of ordered.slice(0, 5)) {
        const names = pullSecretNames(pod, ctx.serviceAccounts).map(
          (n) => `${pod.metadata.namespace}/${n}`,
        );
        if (names.every((n) => seen.has(n))) continue;
        names.forEach((n) => seen.add(n));
        const r = await podCredentials(ctx.deps.manager.client, ctx.serviceAccounts, pod);
        pullSecrets.push(...(r.credentials.pullSecrets ?? []).map((s) => ({ ...s })));
        problems.push(...r.problems);
      }
      return { credentials: { pullSecrets }, problems };
    },
  });
}
