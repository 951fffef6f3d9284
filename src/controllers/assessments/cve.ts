/**
 * The `cve` rules package: the package vulnerabilities of the nodes and images a run collected.
 *
 * - Nodes: the packages of the node's NodeInventory (written by the node agent).
 * - Images: the inventory the coverage controller keeps by digest (the image inventory store);
 *   an image it does not hold (a namespace not activated, a tag never resolved) is scanned here,
 *   with the pull secrets of a pod seen running it, at most {@link MAX_RUN_SCANS} per run and
 *   {@link RUN_SCAN_CONCURRENCY} at a time. Results of these scans stay in the run's memory (a
 *   small LRU); they never enter the shared store, whose contents mean "covered".
 * - A resource that cannot be evaluated (no inventory, scan failed, over the budget) is
 *   reported with the reason; the run then ends COMPLETED_WITH_ERRORS.
 */
import type { Collected, CollectedImage } from '../../assessments/selection.ts';
import type { FindingResource, PackageLocation } from '../../findings/build.ts';
import { imagePackages, matchLocated, nodePackages } from '../../findings/packages.ts';
import type { ScanOutcome } from '../../scanner/types.ts';
import type { PackageFinding } from '../../vulndb/match.ts';
import type { VulnDatabase } from '../../vulndb/database.ts';
import type { ControllerDeps } from '../deps.ts';
import { podCredentials } from '../pull-secrets.ts';
import type { AssessmentCaches } from './cluster.ts';
import { pool } from '../../util/pool.ts';

/** Images one run may scan itself (those the coverage controller has not scanned). */
export const MAX_RUN_SCANS = 20;
export const RUN_SCAN_CONCURRENCY = 2;

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

/** Inventories of images this process scanned for runs, by digest and by reference. */
export class RunScanCache {
  private readonly entries = new Map<string, ScanOutcome>();
  private readonly max: number;
  constructor(max = 64) {
    this.max = max;
  }
  get(key: string): ScanOutcome | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }
  set(key: string, v: ScanOutcome): void {
    this.entries.delete(key);
    this.entries.set(key, v);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

export async function evaluateCve(
  collected: Collected,
  db: VulnDatabase,
  deps: ControllerDeps,
  caches: AssessmentCaches,
  scans: RunScanCache,
  signal: AbortSignal,
): Promise<CveResult> {
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

  // Images: from the shared store when it has them, else scanned here within the budget.
  const outcomes = new Map<CollectedImage, ScanOutcome | string>();
  const toScan: CollectedImage[] = [];
  for (const img of collected.images) {
    const stored = img.digest === undefined ? undefined : deps.images.get(img.digest);
    if (stored?.outcome.status === 'inventory') outcomes.set(img, stored.outcome);
    else {
      const cached = scans.get(img.digest ?? img.reference);
      if (cached !== undefined) outcomes.set(img, cached);
      else toScan.push(img);
    }
  }
  const budget = toScan.slice(0, MAX_RUN_SCANS);
  for (const img of toScan.slice(MAX_RUN_SCANS)) {
    outcomes.set(img, `not scanned: the run may scan at most ${MAX_RUN_SCANS} images itself`);
  }
  await pool(budget, RUN_SCAN_CONCURRENCY, async (img) => {
    if (signal.aborted) {
      outcomes.set(img, 'not scanned: the controller is stopping');
      return;
    }
    const pod =
      img.pod !== undefined && img.namespace !== undefined
        ? caches.pods.get(`${img.namespace}/${img.pod}`)
        : undefined;
    const credentials =
      pod === undefined
        ? undefined
        : (await podCredentials(deps.manager.client, caches.serviceAccounts, pod)).credentials;
    const reference =
      img.digest !== undefined && !img.reference.includes('@')
        ? `${img.reference.split('@')[0]}@${img.digest}`
        : img.reference;
    const outcome = await deps.scanner.scan(reference, {
      ...(credentials !== undefined ? { credentials } : {}),
      signal,
    });
    scans.set(img.digest ?? img.reference, outcome);
    outcomes.set(img, outcome);
  });

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
    const repository =
      inv.image !== undefined
        ? `${inv.image.registry}/${inv.image.repository}`
        : img.reference.split('@')[0]!;
    const tag = tagOf(img.reference);
    resources.push({
      resource: {
        resourceType: 'CONTAINER_IMAGE',
        id: `${repository}@${digest}`,
        imageRepository: repository,
        imageDigest: digest,
        ...(tag !== undefined ? { imageTags: [tag] } : {}),
        ...(inv.os?.ecosystem !== undefined
          ? { platform: inv.os.ecosystem.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase() }
          : {}),
      },
      matches: matchLocated(db, imagePackages(inv), deps.enrichment),
    });
  }
  return { resources, notEvaluated };
}
