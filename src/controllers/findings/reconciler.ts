/**
 * The continuous findings of one CoveredResource (key = its name).
 *
 * Fetch the resource and its findings; decide what the coverage status asks for (match, keep,
 * close, delete); when matching, compute the desired findings from the inventory and the
 * database and merge them with the stored ones; apply suppression; close what is gone; delete
 * what is past its retention; write the resource's finding counts; requeue at the next
 * deadline. Writes are server-side applies that are skipped when they would change nothing.
 * The controller never sends a Finding's spec: spec.attributes belong to people.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { LABEL_PREFIX, LABELS, type Severity } from '../../api/v1alpha1/common.ts';
import type { CoveredResource } from '../../api/v1alpha1/covered-resource.ts';
import type { Finding, FindingStatus } from '../../api/v1alpha1/finding.ts';
import type { NodeInventory } from '../../api/v1alpha1/node-inventory.ts';
import {
  type ScanConfiguration,
  SCAN_CONFIGURATION_NAME,
} from '../../api/v1alpha1/scan-configuration.ts';
import type { SuppressionRule } from '../../api/v1alpha1/suppression-rule.ts';
import {
  buildPackageFindings,
  countBySeverity,
  deleteAt,
  mergeFinding,
  resuppress,
  sameJson,
  withStatusLabel,
  type BuiltFinding,
  type FindingResource,
} from '../../findings/build.ts';
import {
  imagePackages,
  matchLocated,
  nodePackages,
  type LocatedPackage,
} from '../../findings/packages.ts';
import { ruleKey, suppressingRule } from '../../findings/suppression.ts';
import { apply, remove } from '../../kube/apply.ts';
import type { Cache } from '../../kube/cache.ts';
import { isNotFound } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/controller.ts';
import type { VulnDatabase } from '../../vulndb/database.ts';
import type { ControllerDeps } from '../deps.ts';
import { FIELD_MANAGERS, kinds } from '../informers.ts';
import { pool } from '../../util/pool.ts';
import type { EvaluationResult, FindingsMetrics } from './metrics.ts';

export const INDEX_BY_COVERED_RESOURCE = 'findings:coveredResource';
export const INDEX_BY_IMAGE_DIGEST = 'findings:imageDigest';

const DAY_MS = 86_400_000;
/** Reasons whose findings are matched (contract with the coverage controller). */
const MATCHED_REASONS = new Set([
  'SUCCESSFUL',
  'SCAN_FREQUENCY_SCAN_ON_PUSH',
  'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
  'DEEP_INSPECTION_NO_INVENTORY',
]);
/** Reasons whose findings are kept as they are: no re-match, nothing closed. */
const KEPT_REASONS = new Set(['RESOURCE_STOPPED', 'PENDING_INITIAL_SCAN']);

export interface FindingsConfig {
  /** Most findings per resource; the highest severities are kept. */
  maxFindingsPerResource: number;
  /** How often a continuous resource is re-evaluated with no change of input. */
  reevaluateIntervalMs: number;
  /** Finding writes of one resource in flight at once. */
  writeConcurrency: number;
}

export const DEFAULT_FINDINGS_CONFIG: FindingsConfig = {
  maxFindingsPerResource: 1000,
  reevaluateIntervalMs: DAY_MS,
  writeConcurrency: 4,
};

export interface Retention {
  closedDays: number;
  resourceGoneDays: number;
  reopenWindowDays: number;
}

export interface FindingsCaches {
  coveredResources: Cache<CoveredResource & KubeObject>;
  nodeInventories: Cache<NodeInventory & KubeObject>;
  findings: Cache<Finding & KubeObject>;
  suppressionRules: Cache<SuppressionRule & KubeObject>;
  scanConfigurations: Cache<ScanConfiguration & KubeObject>;
}

export type Plan =
  | { kind: 'match' }
  | { kind: 'keep'; result: EvaluationResult }
  | { kind: 'close'; result: EvaluationResult }
  | { kind: 'delete' };

export function planFor(cr: (CoveredResource & KubeObject) | undefined): Plan {
  const s = cr?.status;
  if (cr === undefined || cr.metadata.deletionTimestamp !== undefined || s === undefined)
    return { kind: 'close', result: 'closed' };
  if (s.resourceType !== 'NODE' && s.resourceType !== 'CONTAINER_IMAGE')
    return { kind: 'close', result: 'closed' };
  const reason = s.scanStatus.reason;
  if (reason === 'PENDING_DISABLE') return { kind: 'delete' };
  if (KEPT_REASONS.has(reason)) return { kind: 'keep', result: 'kept' };
  if (s.scanStatus.statusCode === 'ACTIVE' && MATCHED_REASONS.has(reason)) return { kind: 'match' };
  return { kind: 'close', result: 'closed' };
}

/** The retention settings of the `default` ScanConfiguration, with the documented defaults. */
export function retentionOf(config: ScanConfiguration | undefined): Retention {
  const r = config?.spec.findingRetention;
  return {
    closedDays: r?.closedDays ?? 30,
    resourceGoneDays: r?.resourceGoneDays ?? 3,
    reopenWindowDays: r?.reopenWindowDays ?? 7,
  };
}

/** A Finding the controller just wrote, used until the cache has caught up with it. */
interface Written {
  object: (Finding & KubeObject) | undefined;
  at: number;
}

const WRITTEN_TTL_MS = 60_000;

export class FindingsReconciler implements Reconciler {
  private readonly deps: ControllerDeps;
  private readonly caches: FindingsCaches;
  private readonly config: FindingsConfig;
  private readonly metrics: FindingsMetrics;
  private readonly events: EventRecorder | undefined;
  /** Inputs each resource was last evaluated with (this process's memory only). */
  private readonly evaluated = new Map<string, string>();
  /** Writes not yet seen by the cache, by `namespace/name`. */
  private readonly written = new Map<string, Written>();
  private readonly databaseIds = new WeakMap<VulnDatabase, number>();
  private nextDatabaseId = 1;
  private readonly packageHashes = new WeakMap<object, string>();
  private warnedNoDatabase = false;

  constructor(
    deps: ControllerDeps,
    caches: FindingsCaches,
    config: FindingsConfig,
    metrics: FindingsMetrics,
    events?: EventRecorder,
  ) {
    this.deps = deps;
    this.caches = caches;
    this.config = config;
    this.metrics = metrics;
    this.events = events;
  }

  /** Called by the Finding cache's handlers: a write is visible once its resourceVersion arrives. */
  seen(obj: KubeObject): void {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const w = this.written.get(key);
    if (w !== undefined && w.object?.metadata.resourceVersion === obj.metadata.resourceVersion)
      this.written.delete(key);
  }

  /** Called when a Finding leaves the cache. */
  gone(obj: KubeObject): void {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    if (this.written.get(key)?.object === undefined) this.written.delete(key);
  }

  /** The freshest view of a finding: our own write when the cache has not caught up yet. */
  private current(key: string): (Finding & KubeObject) | undefined {
    const w = this.written.get(key);
    if (w !== undefined) {
      if (Date.now() - w.at < WRITTEN_TTL_MS) return w.object;
      this.written.delete(key);
    }
    return this.caches.findings.get(key);
  }

  /** The findings of a resource: the cache's plus the ones just created. */
  private findingsOf(name: string): Map<string, Finding & KubeObject> {
    const ns = this.deps.adminNamespace;
    const out = new Map<string, Finding & KubeObject>();
    for (const f of this.caches.findings.byIndex(INDEX_BY_COVERED_RESOURCE, name)) {
      if (f.metadata.namespace !== ns) continue;
      const key = `${ns}/${f.metadata.name}`;
      const cur = this.current(key);
      if (cur !== undefined) out.set(key, cur);
    }
    for (const [key, w] of this.written) {
      if (
        w.object !== undefined &&
        w.object.metadata.labels?.[LABELS.coveredResource] === name &&
        !out.has(key)
      )
        out.set(key, w.object);
    }
    return out;
  }

  async reconcile(name: string, ctx: ReconcileContext): Promise<Result | undefined> {
    const now = this.deps.clock.now();
    const cr = this.caches.coveredResources.get(name);
    const retention = retentionOf(this.caches.scanConfigurations.get(SCAN_CONFIGURATION_NAME));
    const existing = this.findingsOf(name);
    let plan = planFor(cr);
    if (plan.kind !== 'match') this.evaluated.delete(name);
    let result: EvaluationResult =
      plan.kind === 'match' ? 'matched' : plan.kind === 'delete' ? 'disabled' : plan.result;
    const work = new Work(this, ctx.log, now, retention);
    let nextDeadline: number | undefined;
    try {
      if (plan.kind === 'delete') {
        for (const [key, f] of existing) await work.delete(key, f);
      } else {
        let desired:
          | { built: BuiltFinding[]; observe: boolean; periodicAt?: number }
          | 'unchanged'
          | EvaluationResult
          | undefined;
        if (plan.kind === 'match') {
          desired = this.desired(name, cr!, existing, now, ctx.log);
          if (typeof desired === 'string') {
            result = desired;
            plan = { kind: 'keep', result: desired };
          }
        }
        const gone = plan.kind === 'close';
        const rules = this.caches.suppressionRules.list();
        const resourceLabels = cr?.status?.resourceLabels;
        const suppressedBy = (status: Pick<Finding, 'status'>['status']): string | undefined => {
          if (status === undefined) return undefined;
          const rule = suppressingRule(
            rules,
            { metadata: { namespace: this.deps.adminNamespace }, status },
            { adminNamespace: this.deps.adminNamespace, resourceLabels },
          );
          return rule === undefined ? undefined : ruleKey(rule);
        };
        const seenKeys = new Set<string>();
        if (desired !== undefined && typeof desired !== 'string') {
          if (desired.periodicAt !== undefined) nextDeadline = desired.periodicAt;
          const kept = this.applyCap(desired.built, existing, cr!, ctx.log);
          await pool(kept, this.config.writeConcurrency, async (b) => {
            const key = `${this.deps.adminNamespace}/${b.name}`;
            seenKeys.add(key);
            await work.upsert(
              key,
              b,
              name,
              existing.get(key),
              suppressedBy(b.status),
              desired.observe,
            );
          });
        }
        const rest = [...existing].filter(([key]) => !seenKeys.has(key));
        await pool(rest, this.config.writeConcurrency, async ([key, f]) => {
          const status = f.status;
          if (status === undefined) {
            // Created but never given a status (a crash between the two writes): not a finding
            // anyone saw; remove it unless the resource is only waiting.
            if (plan.kind !== 'keep') await work.delete(key, f);
            return;
          }
          if (status.status !== 'CLOSED') {
            if (plan.kind === 'match' || plan.kind === 'close') await work.close(key, f);
            else await work.resuppress(key, f, suppressedBy(status));
            return;
          }
          const at = deleteAt(status, gone ? retention.resourceGoneDays : retention.closedDays);
          if (at === undefined) return;
          if (at.getTime() <= now.getTime()) await work.delete(key, f);
          else nextDeadline = Math.min(nextDeadline ?? Infinity, at.getTime());
        });
        // Findings closed just now are deleted after their retention too.
        for (const closedAt of work.closedNow) {
          const at = closedAt + (gone ? retention.resourceGoneDays : retention.closedDays) * DAY_MS;
          nextDeadline = Math.min(nextDeadline ?? Infinity, at);
        }
        if (cr !== undefined) await this.writeCounts(cr, work.finalStates(existing));
      }
    } catch (err) {
      this.metrics.evaluations.inc({ result: 'error' });
      throw err;
    }
    this.metrics.evaluations.inc({ result });
    if (nextDeadline === undefined) return undefined;
    return { requeueAfterMs: Math.max(1000, nextDeadline - now.getTime()) };
  }

  /**
   * The findings an evaluation computes, whether it counts as an observation, and when the
   * next periodic one is due; or why nothing can be computed now.
   */
  private desired(
    name: string,
    cr: CoveredResource & KubeObject,
    existing: Map<string, Finding & KubeObject>,
    now: Date,
    log: Logger,
  ): { built: BuiltFinding[]; observe: boolean; periodicAt?: number } | EvaluationResult {
    const s = cr.status!;
    const db = this.deps.database?.current;
    if (db === undefined) {
      if (!this.warnedNoDatabase) {
        this.warnedNoDatabase = true;
        log.warn(
          'no vulnerability database is loaded: findings are not matched until one is (see --vulnerability-db)',
        );
      }
      return 'no_database';
    }
    const input = this.inventory(cr);
    if (input === undefined) return 'no_inventory';
    const continuous = s.scanStatus.reason !== 'SCAN_FREQUENCY_SCAN_ON_PUSH';
    const open = [...existing.values()].filter((f) => f.status?.status !== 'CLOSED');
    const fingerprint = [
      input.fingerprint,
      continuous ? `db:${this.databaseId(db)}` : `scanned:${s.lastScannedAt ?? ''}`,
      JSON.stringify(input.resource),
      String(this.config.maxFindingsPerResource),
    ].join('|');
    const previous = this.evaluated.get(name);
    if (!continuous) {
      // Scan on push: matched once per scan, never again for a database update.
      const scannedAt = Date.parse(s.lastScannedAt ?? '');
      const already =
        previous === fingerprint ||
        (previous === undefined &&
          open.some((f) => Date.parse(f.status?.lastObservedAt ?? '') >= scannedAt));
      if (already) {
        this.evaluated.set(name, fingerprint);
        return 'unchanged';
      }
    }
    const matches = matchLocated(db, input.packages, this.deps.enrichment);
    const built = buildPackageFindings(input.resource, matches);
    const oldest = Math.min(
      ...open.map((f) => Date.parse(f.status?.lastObservedAt ?? '') || now.getTime()),
    );
    const periodicDue =
      open.length > 0 && now.getTime() - oldest >= this.config.reevaluateIntervalMs;
    const observe =
      (previous !== undefined && previous !== fingerprint) || periodicDue || !continuous;
    this.evaluated.set(name, fingerprint);
    const out: { built: BuiltFinding[]; observe: boolean; periodicAt?: number } = {
      built,
      observe,
    };
    if (continuous) {
      out.periodicAt =
        (observe || open.length === 0 ? now.getTime() : oldest) + this.config.reevaluateIntervalMs;
    }
    return out;
  }

  private databaseId(db: VulnDatabase): number {
    let id = this.databaseIds.get(db);
    if (id === undefined) this.databaseIds.set(db, (id = this.nextDatabaseId++));
    return id;
  }

  /** The packages of the resource and a fingerprint of them; undefined when there are none yet. */
  private inventory(
    cr: CoveredResource & KubeObject,
  ): { packages: LocatedPackage[]; fingerprint: string; resource: FindingResource } | undefined {
    const s = cr.status!;
    if (s.resourceType === 'NODE') {
      const nodeName = s.resource?.name ?? s.resourceId;
      const inv = this.caches.nodeInventories.get(nodeName);
      if (inv?.status?.collectedAt === undefined) return undefined;
      let hash = this.packageHashes.get(inv);
      if (hash === undefined) {
        hash = createHash('sha256')
          .update(JSON.stringify(inv.status.packages ?? []))
          .digest('hex')
          .slice(0, 32);
        this.packageHashes.set(inv, hash);
      }
      const platform = s.node?.platform ?? inv.status.os?.platform;
      return {
        packages: nodePackages(inv.status.packages),
        fingerprint: `node:${hash}`,
        resource: {
          resourceType: 'NODE',
          id: s.resourceId,
          kind: 'Node',
          name: nodeName,
          ...(platform !== undefined ? { platform } : {}),
        },
      };
    }
    const digest = s.image?.digest;
    if (digest === undefined) return undefined;
    const record = this.deps.images.get(digest);
    if (record?.outcome.status !== 'inventory') return undefined;
    const inv = record.outcome.inventory;
    const repository = s.image?.repository ?? s.repository?.name;
    const platform = s.image?.platform;
    return {
      packages: imagePackages(inv),
      // An image's inventory is fixed by its digest.
      fingerprint: `image:${digest}`,
      resource: {
        resourceType: 'CONTAINER_IMAGE',
        id: s.resourceId,
        ...(repository !== undefined ? { imageRepository: repository } : {}),
        imageDigest: digest,
        ...(s.image?.tags !== undefined ? { imageTags: [...s.image.tags].sort() } : {}),
        ...(platform !== undefined ? { platform } : {}),
      },
    };
  }

  /**
   * At most maxFindingsPerResource open findings: the ones that exist stay, new ones are added
   * by severity (highest first) until the cap. Hitting it is logged, counted and reported as a
   * Warning Event on the CoveredResource.
   */
  private applyCap(
    built: BuiltFinding[],
    existing: Map<string, Finding & KubeObject>,
    cr: CoveredResource & KubeObject,
    log: Logger,
  ): BuiltFinding[] {
    const cap = this.config.maxFindingsPerResource;
    if (built.length <= cap) return built;
    const ns = this.deps.adminNamespace;
    const isOpen = (b: BuiltFinding) => {
      const f = existing.get(`${ns}/${b.name}`);
      return f !== undefined && f.status?.status !== 'CLOSED';
    };
    const kept = built.filter(isOpen);
    for (const b of built) {
      if (kept.length >= cap) break;
      if (!isOpen(b)) kept.push(b);
    }
    const left = built.length - kept.length;
    if (left > 0) {
      this.metrics.capped.inc();
      const message = `${built.length} findings computed, ${left} left out: at most ${cap} per resource (--max-findings-per-resource); the highest severities are kept`;
      log.warn({ computed: built.length, cap }, message);
      this.events?.event({
        regarding: {
          apiVersion: cr.apiVersion,
          kind: cr.kind ?? 'CoveredResource',
          name: cr.metadata.name,
          uid: cr.metadata.uid,
        },
        type: 'Warning',
        reason: 'FindingCapExceeded',
        action: 'Evaluate',
        note: message,
      });
    }
    return kept;
  }

  private async writeCounts(
    cr: CoveredResource & KubeObject,
    states: Iterable<FindingStatus | undefined>,
  ): Promise<void> {
    if (cr.status === undefined || cr.metadata.deletionTimestamp !== undefined) return;
    const active: (Severity | undefined)[] = [];
    for (const s of states) if (s?.status === 'ACTIVE') active.push(s.severity);
    const counts = countBySeverity(active);
    if (sameJson(cr.status.findingCounts, counts)) return;
    // Nothing to count and nothing counted yet: absent means none, so no write (most resources
    // never have a finding; this saves one write for each of them).
    if (cr.status.findingCounts === undefined && counts.total === 0) return;
    try {
      await apply(
        this.deps.manager.client,
        kinds.coveredResources,
        {
          apiVersion: cr.apiVersion ?? 'kubeinspector.io/v1alpha1',
          kind: 'CoveredResource',
          metadata: { name: cr.metadata.name },
          status: { findingCounts: counts },
        },
        { status: true, fieldManager: FIELD_MANAGERS.findings, current: cr },
      );
    } catch (err) {
      // Deleted since the cache saw it (the coverage controller removes what it no longer covers).
      if (!isNotFound(err)) throw err;
    }
  }

  /** @internal Records a write for {@link current}. */
  remember(key: string, object: (Finding & KubeObject) | undefined): void {
    this.written.set(key, { object, at: Date.now() });
  }

  get client() {
    return this.deps.manager.client;
  }

  get adminNamespace(): string {
    return this.deps.adminNamespace;
  }

  countWrite(verb: 'create' | 'update' | 'delete'): void {
    this.metrics.writes.inc({ verb });
  }
}

/** The writes of one reconcile, and the statuses they leave. */
class Work {
  private readonly r: FindingsReconciler;
  private readonly log: Logger;
  private readonly now: Date;
  private readonly retention: Retention;
  /** Final status by key after this reconcile; undefined = deleted. */
  private readonly states = new Map<string, FindingStatus | undefined>();
  /** When findings were closed in this reconcile (ms). */
  readonly closedNow: number[] = [];

  constructor(r: FindingsReconciler, log: Logger, now: Date, retention: Retention) {
    this.r = r;
    this.log = log;
    this.now = now;
    this.retention = retention;
  }

  finalStates(existing: Map<string, Finding & KubeObject>): (FindingStatus | undefined)[] {
    const out: (FindingStatus | undefined)[] = [];
    for (const [key, f] of existing) if (!this.states.has(key)) out.push(f.status);
    for (const s of this.states.values()) out.push(s);
    return out;
  }

  async upsert(
    key: string,
    b: BuiltFinding,
    coveredResource: string,
    existing: (Finding & KubeObject) | undefined,
    suppressedBy: string | undefined,
    observe: boolean,
  ): Promise<void> {
    const status = mergeFinding(existing, b.status, this.now, {
      suppressedBy,
      reopenWindowDays: this.retention.reopenWindowDays,
    });
    const prev = existing?.status;
    if (
      !observe &&
      prev?.lastObservedAt !== undefined &&
      prev.status !== 'CLOSED' &&
      status.updatedAt === prev.updatedAt
    ) {
      // Not an evaluation (a restart, a rule change, a resync): the finding was not observed again.
      status.lastObservedAt = prev.lastObservedAt;
    }
    const labels = withStatusLabel(
      { ...b.labels, [LABELS.coveredResource]: coveredResource },
      status.status ?? 'ACTIVE',
    );
    await this.write(key, existing, labels, status);
  }

  async close(key: string, f: Finding & KubeObject): Promise<void> {
    const status = mergeFinding(f, undefined, this.now);
    this.closedNow.push(this.now.getTime());
    await this.write(key, f, withStatusLabel(ownLabels(f), 'CLOSED'), status);
  }

  async resuppress(
    key: string,
    f: Finding & KubeObject,
    suppressedBy: string | undefined,
  ): Promise<void> {
    const status = resuppress(f.status!, suppressedBy, this.now);
    await this.write(key, f, withStatusLabel(ownLabels(f), status.status ?? 'ACTIVE'), status);
  }

  async delete(key: string, f: Finding & KubeObject): Promise<void> {
    this.states.set(key, undefined);
    const ns = f.metadata.namespace ?? this.r.adminNamespace;
    const removed = await remove(this.r.client, kinds.findings, f.metadata.name, ns, {
      ...(f.metadata.uid !== undefined ? { uid: f.metadata.uid } : {}),
    });
    this.r.remember(key, undefined);
    if (removed) {
      this.r.countWrite('delete');
      this.log.debug({ finding: f.metadata.name }, 'deleted finding past its retention');
    }
  }

  /** Creates or updates one finding: metadata (labels) on the object, the rest on /status. */
  private async write(
    key: string,
    existing: (Finding & KubeObject) | undefined,
    labels: Record<string, string>,
    status: FindingStatus,
  ): Promise<void> {
    this.states.set(key, status);
    const [namespace, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const meta = {
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name, namespace, labels },
    };
    let current = existing;
    const created = await apply<Finding & KubeObject>(this.r.client, kinds.findings, meta, {
      current: existing,
    });
    if (created.written) {
      current = created.object;
      this.r.countWrite(existing === undefined ? 'create' : 'update');
    }
    const updated = await apply<Finding & KubeObject>(
      this.r.client,
      kinds.findings,
      { apiVersion: meta.apiVersion, kind: meta.kind, metadata: { name, namespace }, status },
      { status: true, current: existing === undefined ? undefined : current },
    );
    if (updated.written) {
      current = updated.object;
      if (!created.written || existing !== undefined) this.r.countWrite('update');
    }
    if (created.written || updated.written) this.r.remember(key, current);
  }
}

/** The labels the controller writes (a person's own labels stay theirs). */
function ownLabels(f: KubeObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(f.metadata.labels ?? {}).filter(([k]) => k.startsWith(LABEL_PREFIX)),
  );
}
