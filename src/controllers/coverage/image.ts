/**
 * CONTAINER_IMAGE coverage: one CoveredResource per `repository@digest` the kubelet reports
 * for pods, while the Image scan type is active. Drives the scans of eligible images.
 *
 * A reconcile reads the facts from the caches (`imageObservation`), asks the pure decision
 * (`decideImage` in src/coverage/image.ts) and the scan service's policy
 * (`coverageScanDecision`), then writes: the scan request, the status, one Event per failed
 * scan, or the removal of an image no longer used.
 */
import type { CoverageConfig } from '../../coverage/config.ts';
import {
  type ImagePodUse,
  type ImageObservation,
  type ScanResult,
  decideImage,
  imageActivated,
  scanMessageOf as scanMessageOfResult,
  scanStateOf as scanStateOfResult,
} from '../../coverage/image.ts';
import { coveredResourceName } from '../../coverage/names.ts';
import { podImages } from '../../coverage/pods.ts';
import { earliest, type ScanState } from '../../coverage/rules.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { Reconciler, Result } from '../../runtime/controller.ts';
import { podCredentials, pullSecretNames } from '../pull-secrets.ts';
import { coverageScanDecision } from '../scans/policy.ts';
import { requeueAt, retireOrDisable } from './common.ts';
import { type CoverageContext, type Covered, coveredLabels } from './context.ts';
import { workloadOfPod } from './workload.ts';

export { KEEP_UNUSED_MS } from '../../coverage/image.ts';

export function splitImageKey(key: string): { repository: string; digest: string } {
  const at = key.lastIndexOf('@');
  return { repository: key.slice(0, at), digest: key.slice(at + 1) };
}

/** The result the scan service holds for a digest, as the pure decisions take it. */
export function scanResultOf(ctx: CoverageContext, digest: string): ScanResult | undefined {
  const record = ctx.scans.get(digest);
  return record && { scannedAt: record.scannedAt.getTime(), outcome: record.outcome };
}

/** The scan state of a digest (see `scanStateOf` in src/coverage/image.ts). */
export function scanStateOf(
  ctx: CoverageContext,
  digest: string,
  current: Covered | undefined,
): { state: ScanState; remembered: boolean } {
  return scanStateOfResult(scanResultOf(ctx, digest), current?.status);
}

/** The scanner's message about a failed scan of a digest (see src/coverage/image.ts). */
export function scanMessageOf(
  ctx: CoverageContext,
  digest: string,
  current: Covered | undefined,
): string | undefined {
  return scanMessageOfResult(scanResultOf(ctx, digest), current?.status);
}

function isExcluded(ctx: CoverageContext, pod: KubeObject, label: string): boolean {
  if (Object.hasOwn(pod.metadata.labels ?? {}, label)) return true;
  const w = workloadOfPod(ctx, pod);
  return w?.object !== undefined && Object.hasOwn(w.object.metadata.labels ?? {}, label);
}

function podUse(ctx: CoverageContext, config: CoverageConfig, key: string, pod: KubeObject) {
  const ns = ctx.namespaceState(config, pod.metadata.namespace!);
  const use: ImagePodUse = {
    selected: ns.selected,
    // Only asked of pods of selected namespaces (the workload lookup is not free).
    excluded: ns.selected && (ns.excluded || isExcluded(ctx, pod, config.exclusionLabel)),
    running: (pod.status as { phase?: string } | undefined)?.phase === 'Running',
    containers: podImages(pod)
      .filter((i) => i.key === key)
      .map((i) => ({ running: i.running, startedAt: i.startedAt, tag: i.tag })),
  };
  return use;
}

/** The facts of one image, read from the caches, the scan service and the findings store. */
async function imageObservation(
  ctx: CoverageContext,
  config: CoverageConfig,
  key: string,
  pods: readonly KubeObject[],
  current: Covered | undefined,
): Promise<{ observation: ImageObservation; activePods: KubeObject[]; sources: string }> {
  const { repository, digest } = splitImageKey(key);
  const uses = pods.map((p) => podUse(ctx, config, key, p));
  const activePods = pods.filter((_, i) => uses[i]!.selected);
  const scanInFlight = ctx.scans.has(digest, 'coverage');
  const sources = activePods.length > 0 && !scanInFlight ? credentialSources(ctx, activePods) : '';
  const findingsRemain =
    !imageActivated(uses, current?.status) &&
    (await ctx.findingCount(coveredResourceName.image(repository, digest))) > 0;
  const observation: ImageObservation = {
    repository,
    digest,
    pods: uses,
    previous: current?.status,
    findingsRemain,
    result: scanResultOf(ctx, digest),
    scanInFlight,
    credentialsChanged: ctx.scans.credentialSourcesOf(digest) !== sources,
    codeScanningChanged: codeScanningChanged(ctx, digest, config),
  };
  return { observation, activePods, sources };
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
      const facts = await imageObservation(ctx, config, key, pods, current);
      const out = decideImage(facts.observation, config, now);
      if (out.kind === 'remove') {
        await ctx.delete(crName);
        ctx.scans.forget(digest);
        return undefined;
      }
      // The scan service's policy: first scan, forgotten continuous image, retry of a failure.
      const scan = coverageScanDecision(out.scan, ctx.scans.retryFailedAfterMs);
      if (scan.scan) {
        requestScan(ctx, key, facts.activePods, facts.sources, {
          maxImageBytes: config.maxImageBytes,
          codeScanning: config.scanTypes.has('WorkloadCode'),
        });
      }
      const { uid } = await ctx.write(crName, coveredLabels(out.status), out.status);
      if (out.scanFailure !== undefined) {
        ctx.warn(crName, uid, 'ImageScanFailed', 'Scan', out.scanFailure);
      }
      return requeueAt(earliest(now, out.deadline, scan.retryAt), now);
    },
  };
}

/** Whether the held inventory was read with another code-scanning setting than configured. */
function codeScanningChanged(
  ctx: CoverageContext,
  digest: string,
  config: CoverageConfig,
): boolean {
  const outcome = ctx.scans.get(digest)?.outcome;
  if (outcome?.status !== 'inventory') return false;
  return (outcome.inventory.code !== undefined) !== config.scanTypes.has('WorkloadCode');
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
  { maxImageBytes, codeScanning }: { maxImageBytes: number; codeScanning: boolean },
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
    ...(codeScanning ? { codeScanning: true } : {}),
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
