/**
 * What every coverage reconciler shares: the caches (trimmed to the fields coverage reads),
 * their indexes, the configuration in effect, the scan queue, and the one way CoveredResources
 * are written (one server-side apply of labels and status, skipped when nothing would change).
 */
import { API_VERSION, LABELS } from '../../api/v1alpha1/common.ts';
import type {
  CoveredResource,
  CoveredResourceStatus,
} from '../../api/v1alpha1/covered-resource.ts';
import { SCAN_CONFIGURATION_NAME } from '../../api/v1alpha1/scan-configuration.ts';
import { labelsEqual } from '../../findings-store/selectors.ts';
import { apply, remove } from '../../kube/apply.ts';
import { type Cache, indexers } from '../../kube/cache.ts';
import type { KubeObject, OwnerReference } from '../../kube/resources.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { ControllerDeps } from '../deps.ts';
import { FIELD_MANAGERS, informers, kinds } from '../informers.ts';
import {
  type CoverageConfig,
  type EffectiveConfiguration,
  effectiveConfiguration,
  selectorMatches,
} from '../../coverage/config.ts';
import { podImages } from '../../coverage/pods.ts';
import type { ScanService } from '../scans/service.ts';
import { labelValueFor } from '../../util/label-value.ts';

export {
  boundedMessage,
  compact,
  coveredLabels,
  iso,
  parseTime,
  trimLabels,
} from '../../coverage/status.ts';

export type Covered = CoveredResource & KubeObject;

export { LAST_UPDATE_MARKER } from '../informers.ts';

export const AGENT_LABELS = {
  'app.kubernetes.io/name': 'kube-inspector',
  'app.kubernetes.io/component': 'agent',
} as const;

export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export class CoverageContext {
  readonly deps: ControllerDeps;
  readonly namespaces: Cache;
  readonly nodes: Cache;
  readonly pods: Cache;
  readonly serviceAccounts: Cache;
  readonly replicaSets: Cache;
  readonly jobs: Cache;
  readonly workloads: Record<'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob', Cache>;
  readonly scanConfigurations: ReturnType<typeof informers.scanConfigurations>;
  readonly covered: ReturnType<typeof informers.coveredResources>;
  readonly inventories: ReturnType<typeof informers.nodeInventories>;
  scans!: ScanService;
  /** Reconciles a workload again (set once the controllers exist). */
  enqueueWorkload: (key: string) => void = () => undefined;
  readonly events: EventRecorder;
  /** The last ScanConfiguration object parsed and what it gave. */
  private parsed: { from: unknown; value: EffectiveConfiguration } | undefined;

  constructor(deps: ControllerDeps) {
    this.deps = deps;
    const m = deps.manager;
    this.events = m.events;
    this.namespaces = informers.namespaces(m);
    this.nodes = informers.nodes(m);
    this.pods = informers.pods(m);
    this.serviceAccounts = informers.serviceAccounts(m);
    this.replicaSets = informers.replicaSets(m);
    this.workloads = informers.workloads(m);
    this.jobs = this.workloads.Job;
    this.scanConfigurations = informers.scanConfigurations(m);
    this.covered = informers.coveredResources(m);
    this.inventories = informers.nodeInventories(m);

    this.pods.ensureIndexer('byNodeName', indexers.byNodeName);
    this.pods.ensureIndexer('byOwnerUid', indexers.byOwnerUid);
    this.pods.ensureIndexer('byNamespace', indexers.byNamespace);
    this.pods.ensureIndexer('byImageDigest', indexers.byImageDigest);
    this.pods.ensureIndexer('byImageKey', (p) => [...new Set(podImages(p).map((i) => i.key))]);
    this.pods.ensureIndexer('byImageRepository', (p) => [
      ...new Set(podImages(p).map((i) => i.repository)),
    ]);
    this.replicaSets.ensureIndexer('byOwnerUid', indexers.byOwnerUid);
    this.jobs.ensureIndexer('byOwnerUid', indexers.byOwnerUid);
    for (const c of Object.values(this.workloads))
      c.ensureIndexer('byNamespace', indexers.byNamespace);
    this.covered.ensureIndexer('byResourceType', (o) =>
      o.status?.resourceType ? [o.status.resourceType] : [],
    );
    this.covered.ensureIndexer('byImageRepository', (o) =>
      o.status?.resourceType === 'CONTAINER_IMAGE' && o.status.image?.repository
        ? [o.status.image.repository]
        : [],
    );
    this.covered.ensureIndexer('byImageDigest', (o) =>
      o.status?.resourceType === 'CONTAINER_IMAGE' && o.status.image?.digest
        ? [o.status.image.digest]
        : [],
    );
  }

  /**
   * The configuration in effect and its problems, parsed once per change of the
   * ScanConfiguration: the cache replaces the object on every change, so its identity is the key.
   */
  config(): { config: CoverageConfig; problems: string[] } {
    const sc = this.scanConfigurations.get(SCAN_CONFIGURATION_NAME);
    if (this.parsed === undefined || this.parsed.from !== sc) {
      this.parsed = { from: sc, value: effectiveConfiguration(sc) };
    }
    return this.parsed.value;
  }

  now(): number {
    return this.deps.clock.now().getTime();
  }

  /** A namespace's activation: selected by the namespace selector, excluded by label. */
  namespaceState(
    config: CoverageConfig,
    namespace: string,
  ): { exists: boolean; selected: boolean; excluded: boolean } {
    const ns = this.namespaces.get(namespace);
    const labels = ns?.metadata.labels;
    return {
      exists: ns !== undefined,
      selected:
        config.present && ns !== undefined && selectorMatches(config.namespaceSelector, labels),
      excluded: labels !== undefined && Object.hasOwn(labels, config.exclusionLabel),
    };
  }

  /**
   * How many findings still name the CoveredResource (`open`: only those not CLOSED), counted
   * by the findings store.
   */
  findingCount(coveredName: string, options: { open?: boolean } = {}): Promise<number> {
    return this.deps.findingsStore.count({
      namespace: this.deps.adminNamespace,
      labelSelector: labelsEqual(
        { [LABELS.coveredResource]: labelValueFor(coveredName) },
        options.open === true
          ? [{ key: LABELS.status, operator: 'NotEquals', value: 'CLOSED' }]
          : [],
      ),
    });
  }

  /** Agent pods bound to a node. */
  agentPodsOn(node: string): KubeObject[] {
    return this.pods
      .byIndex('byNodeName', node)
      .filter(
        (p) =>
          p.metadata.namespace === this.deps.adminNamespace &&
          Object.entries(AGENT_LABELS).every(([k, v]) => p.metadata.labels?.[k] === v),
      );
  }

  /**
   * Writes a CoveredResource's labels and status in one server-side apply (the kind has no
   * status subresource, ADR 505), skipped when it would change nothing: one request for a new
   * object or any change, none otherwise. Returns whether anything was written, and the
   * object's uid (for Events about it).
   */
  async write(
    name: string,
    labels: Record<string, string>,
    status: CoveredResourceStatus,
  ): Promise<{ written: boolean; uid: string | undefined }> {
    const current = this.covered.get(name);
    // findingCounts belongs to the findings controller (its own field manager).
    const { findingCounts: _counts, ...own } = status;
    const res = await apply(
      this.deps.manager.client,
      kinds.coveredResources,
      {
        apiVersion: API_VERSION,
        kind: 'CoveredResource',
        metadata: { name, labels },
        status: own,
      },
      { current, fieldManager: FIELD_MANAGERS.coverage },
    );
    return { written: res.written, uid: (res.object ?? current)?.metadata.uid };
  }

  /** A Warning Event about a CoveredResource (recorded in the default namespace). */
  warn(name: string, uid: string | undefined, reason: string, action: string, note: string): void {
    this.events.warning(
      { apiVersion: API_VERSION, kind: 'CoveredResource', name, uid },
      reason,
      action,
      note,
    );
  }

  async delete(name: string): Promise<void> {
    const current = this.covered.get(name);
    if (current === undefined) return;
    await remove(
      this.deps.manager.client,
      kinds.coveredResources,
      name,
      undefined,
      current.metadata.uid ? { uid: current.metadata.uid } : {},
    );
  }
}
