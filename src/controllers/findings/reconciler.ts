/**
 * The continuous findings of one CoveredResource (key = its name).
 *
 * Facts (the resource from the cache, its findings from the findings store by their
 * covered-resource label, the inventory and the database), pure decisions (decide.ts: match,
 * keep, close, delete; suppression; lifecycle; retention), then writes: the changed findings in
 * one store batch, the evaluation recorded once for the resource (the store derives
 * `lastObservedAt` of its open findings from it), and the resource's finding counts. Findings
 * are written in-process to the store the findings API serves, never through HTTP; a person's
 * `spec.attributes` and labels are carried over untouched, and a concurrent change by a person
 * makes the batch fail with a conflict and the reconcile retry.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { LABELS, type RulesPackage } from '../../api/v1alpha1/common.ts';
import type { CoveredResource } from '../../api/v1alpha1/covered-resource.ts';
import type { NodeInventory } from '../../api/v1alpha1/node-inventory.ts';
import {
  type ScanConfiguration,
  SCAN_CONFIGURATION_NAME,
} from '../../api/v1alpha1/scan-configuration.ts';
import type { SuppressionRule } from '../../api/v1alpha1/suppression-rule.ts';
import {
  buildPackageFindings,
  sameJson,
  type BuiltFinding,
  type FindingResource,
} from '../../findings/build.ts';
import {
  imagePackages,
  matchLocated,
  nodePackages,
  type LocatedPackage,
} from '../../findings/packages.ts';
import { buildCodeFindings, type CodeMatchInput } from '../../findings/code.ts';
import { scanWorkloadTemplate } from '../../code-scan/pod-template.ts';
import { ruleKey, suppressingRule } from '../../findings/suppression.ts';
import { labelsEqual } from '../../findings-store/selectors.ts';
import { apply } from '../../kube/apply.ts';
import type { Cache } from '../../kube/cache.ts';
import { isNotFound } from '../../kube/client.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { KubeObject } from '../../kube/resources.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/controller.ts';
import type { Inventory } from '../../scanner/types.ts';
import type { VulnDatabase } from '../../vulndb/database.ts';
import type { ControllerDeps } from '../deps.ts';
import {
  WORKLOAD_RULES_PACKAGES,
  exposureOf,
  produceWorkloadFindings,
  templateObjectOf,
  workloadFactsOf,
  type WorkloadCaches,
} from '../rules-packages.ts';
import { adjustScore } from '../../rules/score.ts';
import { CIS_CHECKS } from '../../agent/cis/checks.ts';
import { cisBenchmark } from '../../rules/cis.ts';
import { coveredResourceOfLabel, FIELD_MANAGERS, kinds } from '../informers.ts';
import {
  capFindings,
  decideEvaluation,
  planFor,
  retentionOf,
  type EvaluationDecision,
  type Plan,
  type StoredFindingOf,
} from './decide.ts';
import type { EvaluationResult, FindingsMetrics } from './metrics.ts';
import { labelValueFor } from '../../util/label-value.ts';

export { planFor, retentionOf, type Plan, type Retention } from './decide.ts';

export const INDEX_BY_COVERED_RESOURCE = 'findings:coveredResource';
export const INDEX_BY_IMAGE_DIGEST = 'findings:imageDigest';
/** WORKLOAD CoveredResources by the digests of the images they run. */
export const INDEX_BY_WORKLOAD_DIGEST = 'findings:workloadDigest';

const DIGEST_RE = /sha256:[0-9a-f]{64}/;

/** The image digests a WORKLOAD CoveredResource runs. */
export function workloadDigests(cr: CoveredResource): string[] {
  if (cr.status?.resourceType !== 'WORKLOAD' || cr.status.scanType === 'CODE') return [];
  return (cr.status.workload?.images ?? [])
    .map((i) => DIGEST_RE.exec(i)?.[0])
    .filter((d): d is string => d !== undefined);
}

const DAY_MS = 86_400_000;
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

export interface FindingsCaches extends WorkloadCaches {
  coveredResources: Cache<CoveredResource & KubeObject>;
  nodeInventories: Cache<NodeInventory & KubeObject>;
  suppressionRules: Cache<SuppressionRule & KubeObject>;
  scanConfigurations: Cache<ScanConfiguration & KubeObject>;
}

type Desired = { built: BuiltFinding[]; observe: boolean; periodicAt?: number };

/** The rules packages the `default` ScanConfiguration switches on, with the schema's default. */
export function continuousPackages(config: ScanConfiguration | undefined): readonly RulesPackage[] {
  return config?.spec.rulesPackages ?? ['cve'];
}

export class FindingsReconciler implements Reconciler {
  private readonly deps: ControllerDeps;
  private readonly caches: FindingsCaches;
  private readonly config: FindingsConfig;
  private readonly metrics: FindingsMetrics;
  private readonly events: EventRecorder | undefined;
  /** Inputs each resource was last evaluated with (this process's memory only). */
  private readonly evaluated = new Map<string, string>();
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

  /** The stored continuous findings of a resource, by name. */
  private async findingsOf(name: string): Promise<Map<string, StoredFindingOf>> {
    const out = new Map<string, StoredFindingOf>();
    const { pages } = await this.deps.findingsStore.listPages({
      namespace: this.deps.adminNamespace,
      labelSelector: labelsEqual({ [LABELS.coveredResource]: labelValueFor(name) }),
    });
    for await (const page of pages)
      for (const f of page) out.set(f.metadata.name, f as StoredFindingOf);
    return out;
  }

  /** The key of the rule that suppresses a continuous finding of the resource. */
  private suppressor(cr: (CoveredResource & KubeObject) | undefined) {
    const rules = this.caches.suppressionRules.list();
    const resourceLabels = cr?.status?.resourceLabels;
    const ns = this.deps.adminNamespace;
    return (status: NonNullable<StoredFindingOf['status']>): string | undefined => {
      const rule = suppressingRule(
        rules,
        { metadata: { namespace: ns }, status },
        { adminNamespace: ns, resourceLabels },
      );
      return rule === undefined ? undefined : ruleKey(rule);
    };
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<Result | undefined> {
    // A key may be the label value that stands for a long CoveredResource name (from the
    // findings' labels): evaluate the resource by its name, never as a resource that is gone.
    const name = coveredResourceOfLabel(this.caches.coveredResources, key)?.metadata.name ?? key;
    try {
      const outcome = await this.evaluate(name, ctx);
      this.metrics.evaluations.inc({ result: outcome.result });
      if (outcome.deadline === undefined) return undefined;
      return { requeueAfterMs: Math.max(1000, outcome.deadline - this.deps.clock.now().getTime()) };
    } catch (err) {
      this.metrics.evaluations.inc({ result: 'error' });
      throw err;
    }
  }

  /** Facts, decision, writes. */
  private async evaluate(
    name: string,
    ctx: ReconcileContext,
  ): Promise<{ result: EvaluationResult; deadline: number | undefined }> {
    const now = this.deps.clock.now();
    const cr = this.caches.coveredResources.get(name);
    const existing = await this.findingsOf(name);
    let plan: Plan = planFor(cr);
    if (plan.kind !== 'match') this.evaluated.delete(name);
    let result: EvaluationResult =
      plan.kind === 'match' ? 'matched' : plan.kind === 'delete' ? 'disabled' : plan.result;
    let desired: Desired | undefined;
    if (plan.kind === 'match') {
      const computed = this.desired(name, cr!, existing, now, ctx.log);
      if (typeof computed === 'string') {
        result = computed;
        plan = { kind: 'keep', result: computed };
      } else {
        desired = { ...computed, built: this.applyCap(computed.built, existing, cr!, ctx.log) };
      }
    }
    const decision = decideEvaluation({
      namespace: this.deps.adminNamespace,
      coveredResource: name,
      plan,
      existing,
      ...(desired !== undefined ? { desired } : {}),
      suppressedBy: this.suppressor(cr),
      retention: retentionOf(this.caches.scanConfigurations.get(SCAN_CONFIGURATION_NAME)),
      now,
    });
    await this.write(name, cr, decision);
    const deadlines = [desired?.periodicAt, decision.deleteDeadline].filter(
      (d): d is number => d !== undefined,
    );
    return { result, deadline: deadlines.length > 0 ? Math.min(...deadlines) : undefined };
  }

  private async write(
    name: string,
    cr: (CoveredResource & KubeObject) | undefined,
    decision: EvaluationDecision,
  ): Promise<void> {
    const store = this.deps.findingsStore;
    if (decision.writes.length > 0) {
      await store.batch(decision.writes);
      for (const verb of ['create', 'update', 'delete'] as const)
        if (decision.verbs[verb] > 0) this.metrics.writes.inc({ verb }, decision.verbs[verb]);
    }
    // The store keys a resource's evaluation by its findings' covered-resource label.
    const key = labelValueFor(name);
    if (decision.observed) await store.recordEvaluation(key, this.deps.clock.now());
    else if (cr === undefined && decision.counts.total === 0)
      await store.recordEvaluation(key, undefined);
    if (cr !== undefined) await this.writeCounts(cr, decision.counts);
  }

  /** The vulnerability database, or undefined (said once in the log) while none is loaded. */
  private loadedDatabase(log: Logger) {
    const db = this.deps.database?.current;
    if (db === undefined && !this.warnedNoDatabase) {
      this.warnedNoDatabase = true;
      log.warn(
        'no vulnerability database is loaded: findings are not matched until one is (see --vulnerability-db)',
      );
    }
    return db;
  }

  /**
   * The findings an evaluation computes, whether it counts as an observation, and when the
   * next periodic one is due; or why nothing can be computed now.
   */
  private desired(
    name: string,
    cr: CoveredResource & KubeObject,
    existing: Map<string, StoredFindingOf>,
    now: Date,
    log: Logger,
  ): Desired | EvaluationResult {
    const s = cr.status!;
    const packages = continuousPackages(
      this.caches.scanConfigurations.get(SCAN_CONFIGURATION_NAME),
    );
    if (s.resourceType === 'WORKLOAD') {
      return s.scanType === 'CODE'
        ? this.templateDesired(name, cr, existing, now)
        : this.workloadDesired(name, cr, existing, now, packages);
    }
    // The CIS checks the node agent reported, while cis is on (off: what it found closes).
    const cisOn = this.nodeCis(cr, packages);
    // cve switched off: what it found closes.
    if (!packages.includes('cve')) {
      if (cisOn !== undefined) return this.ruleDesired(name, existing, now, packages, cisOn);
      this.evaluated.delete(name);
      return { built: [], observe: false };
    }
    const cis = cisOn ?? [];
    const db = this.loadedDatabase(log);
    if (db === undefined) return 'no_database';
    const input = this.inventory(cr);
    if (input === undefined) return 'no_inventory';
    const continuous = s.scanStatus.reason !== 'SCAN_FREQUENCY_SCAN_ON_PUSH';
    const open = [...existing.values()].filter((f) => f.status?.status !== 'CLOSED');
    const fingerprint = [
      input.fingerprint,
      continuous ? `db:${this.databaseId(db)}` : `scanned:${s.lastScannedAt ?? ''}`,
      JSON.stringify(input.resource),
      String(this.config.maxFindingsPerResource),
      builtHash(packages, cis),
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
    // Code-scanning results (hardcoded secrets) of an image scanned with them, beside its packages.
    const built = [
      ...buildPackageFindings(input.resource, matches),
      ...buildCodeFindings(input.resource, input.code ?? []),
      ...cis,
    ];
    const exposure = this.adjustScores(built, input.resource);
    const oldest = Math.min(
      ...open.map((f) => Date.parse(f.status?.lastObservedAt ?? '') || now.getTime()),
    );
    const periodicDue =
      open.length > 0 && now.getTime() - oldest >= this.config.reevaluateIntervalMs;
    // Exposure moves scores: a change of it is a change of input like the database's.
    const withExposure = `${fingerprint}|${exposure}`;
    const observe =
      (previous !== undefined && previous !== withExposure) || periodicDue || !continuous;
    this.evaluated.set(name, continuous ? withExposure : fingerprint);
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

  /**
   * The rule findings of a workload: its pod template (and service account) through the
   * workload rules packages switched on. Evaluated again when those facts change, and
   * observed once per re-evaluation interval like every continuous resource.
   */
  private workloadDesired(
    name: string,
    cr: CoveredResource & KubeObject,
    existing: Map<string, StoredFindingOf>,
    now: Date,
    packages: readonly RulesPackage[],
  ): Desired | EvaluationResult {
    // No workload package switched on: nothing to compute, and what they found closes.
    if (!packages.some((p) => WORKLOAD_RULES_PACKAGES.includes(p))) {
      this.evaluated.delete(name);
      return { built: [], observe: false };
    }
    const r = cr.status?.resource;
    if (r?.kind === undefined || r.name === undefined || r.namespace === undefined)
      return 'no_inventory';
    const facts = workloadFactsOf(this.caches, {
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
    });
    // A workload (or pod) not in the cache yet: nothing to evaluate now.
    if (typeof facts === 'string') return 'no_inventory';
    const built = produceWorkloadFindings(packages, [facts], this.caches.network).findings;
    return this.ruleDesired(name, existing, now, packages, built);
  }

  /**
   * The secrets of a workload's pod template (environment values, commands, arguments), as
   * CODE_VULNERABILITY findings of its CODE CoveredResource: named by field path, redacted and
   * fingerprinted by the detector (src/code-scan/pod-template.ts); the value itself is never
   * read past the detector. A bare or static Pod is read from its own spec.
   */
  private templateDesired(
    name: string,
    cr: CoveredResource & KubeObject,
    existing: Map<string, StoredFindingOf>,
    now: Date,
  ): Desired | EvaluationResult {
    const r = cr.status?.resource;
    if (r?.kind === undefined || r.name === undefined || r.namespace === undefined)
      return 'no_inventory';
    const obj = templateObjectOf(this.caches, {
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
    });
    if (typeof obj === 'string') return 'no_inventory';
    const resource: FindingResource = {
      resourceType: 'WORKLOAD',
      id: cr.status!.resourceId,
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
    };
    const built = buildCodeFindings(resource, scanWorkloadTemplate(r.kind, obj));
    return this.ruleDesired(name, existing, now, ['code'], built);
  }

  /**
   * The CIS_BENCHMARK findings of a node from the check results its agent wrote in the
   * NodeInventory; none while the agent has not reported any (it runs the checks at its next
   * collection once cis is switched on). Undefined when cis is off or the resource is no node.
   */
  private nodeCis(
    cr: CoveredResource & KubeObject,
    packages: readonly RulesPackage[],
  ): BuiltFinding[] | undefined {
    const s = cr.status!;
    if (s.resourceType !== 'NODE' || !packages.includes('cis')) return undefined;
    const node = s.resource?.name ?? s.resourceId;
    const results = this.caches.nodeInventories.get(node)?.status?.cisResults;
    if (results === undefined) return [];
    return cisBenchmark.produce({ checks: CIS_CHECKS, nodes: [{ node, results }] }).findings;
  }

  /**
   * The desired state of findings computed by rules packages from facts the caches hold:
   * observed again when what they say changes, and once per re-evaluation interval like every
   * continuous resource.
   */
  private ruleDesired(
    name: string,
    existing: Map<string, StoredFindingOf>,
    now: Date,
    /** What the findings come from: rules packages, or `code` for a pod template. */
    packages: readonly string[],
    built: BuiltFinding[],
  ): Desired {
    // What the findings derive from: the facts (through them) and what they say.
    const fingerprint = createHash('sha256')
      .update(builtHash(packages, built))
      .update(String(this.config.maxFindingsPerResource))
      .digest('hex');
    const open = [...existing.values()].filter((f) => f.status?.status !== 'CLOSED');
    const oldest = Math.min(
      ...open.map((f) => Date.parse(f.status?.lastObservedAt ?? '') || now.getTime()),
    );
    const periodicDue =
      open.length > 0 && now.getTime() - oldest >= this.config.reevaluateIntervalMs;
    const previous = this.evaluated.get(name);
    this.evaluated.set(name, fingerprint);
    const observe = (previous !== undefined && previous !== fingerprint) || periodicDue;
    return {
      built,
      observe,
      periodicAt:
        (observe || open.length === 0 ? now.getTime() : oldest) + this.config.reevaluateIntervalMs,
    };
  }

  /**
   * The exposure-adjusted score of an image's vulnerability findings (src/rules/score.ts): from
   * the workloads running the image and how they can be reached. Only a lowered score is
   * written; a finding keeps its base score otherwise. Returns what the exposure was, for the
   * evaluation's fingerprint.
   */
  private adjustScores(built: BuiltFinding[], resource: FindingResource): string {
    const digest = resource.imageDigest;
    if (resource.resourceType !== 'CONTAINER_IMAGE' || digest === undefined) return '';
    const refs = this.caches.coveredResources
      .byIndex(INDEX_BY_WORKLOAD_DIGEST, digest)
      .map((cr) => cr.status?.resource)
      .filter((r) => r?.kind !== undefined && r.name !== undefined && r.namespace !== undefined)
      .map((r) => ({ kind: r!.kind!, namespace: r!.namespace!, name: r!.name! }));
    const exposure = refs.length === 0 ? undefined : exposureOf(this.caches, refs);
    if (exposure === undefined) return 'unknown';
    for (const b of built) {
      const adjusted = adjustScore(b.status.cvss, exposure, b.status.inspectorScore);
      if (
        adjusted === undefined ||
        (adjusted.inspectorScoreDetails.adjustedCvss.adjustments ?? []).length === 0
      )
        continue;
      b.status.inspectorScore = adjusted.inspectorScore;
      b.status.inspectorScoreDetails = adjusted.inspectorScoreDetails;
    }
    return JSON.stringify(exposure);
  }

  private databaseId(db: VulnDatabase): number {
    let id = this.databaseIds.get(db);
    if (id === undefined) this.databaseIds.set(db, (id = this.nextDatabaseId++));
    return id;
  }

  /** The packages of the resource and a fingerprint of them; undefined when there are none yet. */
  private inventory(cr: CoveredResource & KubeObject):
    | {
        packages: LocatedPackage[];
        code?: readonly CodeMatchInput[];
        fingerprint: string;
        resource: FindingResource;
      }
    | undefined {
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
      ...codeInput(inv),
      // An image's inventory is fixed by its digest (and whether code scanning read it).
      fingerprint: `image:${digest}${codeSuffix(inv)}`,
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
    existing: Map<string, StoredFindingOf>,
    cr: CoveredResource & KubeObject,
    log: Logger,
  ): BuiltFinding[] {
    const cap = this.config.maxFindingsPerResource;
    const { kept, left } = capFindings(built, existing, cap);
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
    counts: EvaluationDecision['counts'],
  ): Promise<void> {
    if (cr.status === undefined || cr.metadata.deletionTimestamp !== undefined) return;
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
        // The main resource: CoveredResource has no status subresource (ADR 505).
        { fieldManager: FIELD_MANAGERS.findings, current: cr },
      );
    } catch (err) {
      // Deleted since the cache saw it (the coverage controller removes what it no longer covers).
      if (!isNotFound(err)) throw err;
    }
  }
}

/** A hash of the rules packages (or other inputs) and the findings they computed. */
function builtHash(packages: readonly string[], built: readonly BuiltFinding[]): string {
  return createHash('sha256')
    .update(JSON.stringify([packages, built.map((b) => [b.name, b.status])]))
    .digest('hex');
}

/** The code-scanning matches of an image inventory scanned with them. */
function codeInput(inv: Inventory): { code?: readonly CodeMatchInput[] } {
  return inv.code === undefined ? {} : { code: inv.code.findings };
}

function codeSuffix(inv: Inventory): string {
  return inv.code === undefined ? '' : `:code:${inv.code.findings.length}`;
}
