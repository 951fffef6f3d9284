/**
 * The `cve` rules package: the package vulnerabilities of the nodes and images a run collected.
 *
 * - Nodes: the packages of the node's NodeInventory (written by the node agent).
 * - Images: the inventory coverage holds in the scan service; an image it does not hold (a
 *   namespace not activated, a tag never resolved) is requested from the scan service for the
 *   run, with the pull secrets of a pod seen running it, at most {@link MAX_RUN_SCANS} per run.
 *   The evaluation does not wait for those scans: it throws a WaitingError, and the service
 *   enqueues the run again when a scan it asked for ends. Their results never become covered
 *   results, whose presence means "covered".
 * - A resource that cannot be evaluated (no inventory, scan failed, over the budget) is
 *   reported with the reason; the run then ends COMPLETED_WITH_ERRORS.
 */
import type { Collected, CollectedImage } from '../../assessments/selection.ts';
import type { FindingResource, PackageLocation } from '../../findings/build.ts';
import { imagePackages, matchLocated, nodePackages } from '../../findings/packages.ts';
import type { Inventory, ScanOutcome } from '../../scanner/types.ts';
import type { PackageFinding } from '../../vulndb/match.ts';
import type { VulnDatabase } from '../../vulndb/database.ts';
import type { ControllerDeps } from '../deps.ts';
import { podCredentials } from '../pull-secrets.ts';
import type { AssessmentCaches } from './cluster.ts';
import { WaitingError } from '../../runtime/controller.ts';
import { runImagePlan } from '../scans/policy.ts';
import { scanService } from '../scans/service.ts';

/** Images one run may have scanned for it (those the coverage controller has not scanned). */
export const MAX_RUN_SCANS = 20;

/** Fallback look for a run waiting on scans, should a completion be missed. */
const SCANS_PENDING_RETRY_MS = 30_000;

export interface EvaluatedResource {
  resource: FindingResource;
  matches: { match: PackageFinding; location: PackageLocation }[];
}

export interface NotEvaluated {
  /** Node name or image reference. */
  id: string;
  reason: string;
}

export interface CveResult {
  resources: EvaluatedResource[];
  notEvaluated: NotEvaluated[];
}

function tagOf(reference: string): string | undefined {
  const noDigest = reference.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}

/** The finding resource of a collected image, from its scanned inventory. */
export function imageResource(
  img: CollectedImage,
  inv: Inventory,
  digest: string,
): FindingResource {
  const repository =
    inv.image !== undefined
      ? `${inv.image.registry}/${inv.image.repository}`
      : img.reference.split('@')[0]!;
  const tag = tagOf(img.reference);
  return {
    resourceType: 'CONTAINER_IMAGE',
    id: `${repository}@${digest}`,
    imageRepository: repository,
    imageDigest: digest,
    ...(tag !== undefined ? { imageTags: [tag] } : {}),
    ...(inv.os?.ecosystem !== undefined
      ? { platform: inv.os.ecosystem.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase() }
      : {}),
  };
}

export function evaluateCve(
  collected: Collected,
  db: VulnDatabase,
  deps: ControllerDeps,
  caches: AssessmentCaches,
  requeue: () => void,
): CveResult {
  const resources: EvaluatedResource[] = [];
  const notEvaluated: NotEvaluated[] = [];

  for (const nodeName of collected.nodes) {
    const inv = caches.nodeInventories.get(nodeName);
    const status = inv?.status;
    if (status === undefined || status.collectedAt === undefined) {
      notEvaluated.push({
        id: nodeName,
        reason: `node ${nodeName} has no collected NodeInventory (is the node agent running there?)`,
      });
      continue;
    }
    resources.push({
      resource: {
        resourceType: 'NODE',
        id: nodeName,
        kind: 'Node',
        name: nodeName,
        ...(status.os?.platform !== undefined ? { platform: status.os.platform } : {}),
      },
      matches: matchLocated(db, nodePackages(status.packages), deps.enrichment),
    });
  }

  const outcomes = imageOutcomes(collected.images, deps, caches, requeue);
  const seenDigests = new Set<string>();
  for (const img of collected.images) {
    const outcome = outcomes.get(img);
    if (outcome === undefined || typeof outcome === 'string') {
      notEvaluated.push({ id: img.reference, reason: outcome ?? 'not evaluated' });
      continue;
    }
    if (outcome.status !== 'inventory') {
      notEvaluated.push({
        id: img.reference,
        reason: `${outcome.reason}: ${outcome.message}`,
      });
      continue;
    }
    const inv = outcome.inventory;
    const digest = inv.image?.digest ?? img.digest;
    if (digest === undefined) {
      notEvaluated.push({ id: img.reference, reason: 'the image digest is unknown' });
      continue;
    }
    if (seenDigests.has(digest)) continue;
    seenDigests.add(digest);
    resources.push({
      resource: imageResource(img, inv, digest),
      matches: matchLocated(db, imagePackages(inv), deps.enrichment),
    });
  }
  return { resources, notEvaluated };
}

function scanKey(img: CollectedImage): string {
  return img.digest ?? img.reference;
}

/**
 * Images: covered results when coverage has them, else results of scans asked for the run.
 * Scans still to come are requested (or joined) and the evaluation waits for them.
 */
export function imageOutcomes(
  images: readonly CollectedImage[],
  deps: ControllerDeps,
  caches: AssessmentCaches,
  requeue: () => void,
  /** The run's own scans also look for secrets and code flaws (the `code` package). */
  codeScanning = false,
): Map<CollectedImage, ScanOutcome | string> {
  const scans = scanService(deps);
  const results = images.map((img) => scans.resultFor(scanKey(img)));
  const plan = runImagePlan(
    images.map((img, i) => ({
      covered: scans.get(scanKey(img))?.outcome.status === 'inventory',
      runResult: results[i] !== undefined,
      inFlight: scans.has(scanKey(img)),
    })),
    MAX_RUN_SCANS,
  );
  const outcomes = new Map<CollectedImage, ScanOutcome | string>();
  let pending = 0;
  images.forEach((img, i) => {
    const action = plan[i]!;
    if (action === 'use') outcomes.set(img, results[i]!.outcome);
    else if (action === 'over-budget') {
      outcomes.set(img, `not scanned: the run may scan at most ${MAX_RUN_SCANS} images itself`);
    } else {
      pending++;
      requestRunScan(img, deps, caches, requeue, codeScanning);
    }
  });
  if (pending > 0) {
    throw new WaitingError(
      `waiting for ${pending} image scans requested for this run`,
      SCANS_PENDING_RETRY_MS,
      { reason: 'ImageScansPending' },
    );
  }
  return outcomes;
}

/** Asks the scan service for a run's image; joins a scan already under way. */
function requestRunScan(
  img: CollectedImage,
  deps: ControllerDeps,
  caches: AssessmentCaches,
  requeue: () => void,
  codeScanning: boolean,
): void {
  const pod =
    img.pod !== undefined && img.namespace !== undefined
      ? caches.pods.get(`${img.namespace}/${img.pod}`)
      : undefined;
  const reference =
    img.digest !== undefined && !img.reference.includes('@')
      ? `${img.reference.split('@')[0]}@${img.digest}`
      : img.reference;
  scanService(deps).request({
    purpose: 'run',
    digest: scanKey(img),
    reference,
    credentialSources: pod === undefined ? '' : `${img.namespace}/${img.pod}`,
    credentials: async () =>
      pod === undefined
        ? { credentials: {}, problems: [] }
        : await podCredentials(deps.manager.client, caches.serviceAccounts, pod),
    onDone: requeue,
    ...(codeScanning ? { codeScanning: true } : {}),
  });
}
