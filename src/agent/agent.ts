/**
 * The node agent: collects its node's inventory at start, then on an interval (with jitter) and
 * whenever the ScanConfiguration changes what it must collect, and applies the NodeInventory
 * named after the node. One work-queue key (the node name): a collection never runs twice at
 * once, a failed write backs off, and a ScanConfiguration change during a collection queues
 * exactly one more.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { API_VERSION } from '../api/v1alpha1/common.ts';
import type { NodeInventory, NodeInventoryStatus } from '../api/v1alpha1/node-inventory.ts';
import { FIELD_MANAGERS, kinds, SCAN_CONFIGURATION_NAME } from '../api/v1alpha1/resources.ts';
import {
  ScanConfigurationSpecSchema,
  type ScanConfiguration,
} from '../api/v1alpha1/scan-configuration.ts';
import { apply } from '../kube/apply.ts';
import type { Cache } from '../kube/cache.ts';
import { ApiError, isNotFound, type KubeClient } from '../kube/client.ts';
import { collectionPath, objectPath, type KubeObject } from '../kube/resources.ts';
import { type Clock, systemClock } from '../runtime/clock.ts';
import { Controller, type ReconcileContext, type Result } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import { CIS_CHECKS } from './cis/checks.ts';
import { evaluateCis } from './cis/evaluate.ts';
import { collect } from './collect.ts';
import { cisResultsStatus, inventoryStatus, needsWrite } from './inventory.ts';

const AGENT_FIELD_MANAGER = FIELD_MANAGERS.agent;
const { nodeInventories, scanConfigurations } = kinds;

/** The node settings the agent uses, with the schema's defaults. */
export interface NodeSettings {
  packageLimit: number;
  collectionTimeLimitSeconds: number;
  customPaths: string[];
  staleInventoryDays: number;
  /** Whether the `cis` rules package is on: the CIS node checks run with each collection. */
  cis: boolean;
}

/** The ScanConfiguration's node settings; defaults when it is missing or invalid. */
export function nodeSettings(config: ScanConfiguration | undefined): NodeSettings {
  const parsed = ScanConfigurationSpecSchema.safeParse(config?.spec ?? {});
  const node = parsed.success ? parsed.data.node : ScanConfigurationSpecSchema.parse({}).node;
  return {
    packageLimit: node.packageLimit,
    collectionTimeLimitSeconds: node.collectionTimeLimitSeconds,
    customPaths: [...(node.customPaths ?? [])].sort(),
    staleInventoryDays: node.staleInventoryDays,
    cis: parsed.success && parsed.data.rulesPackages.includes('cis'),
  };
}

/** What decides the content of a collection: a change of these collects again at once. */
function fingerprint(s: NodeSettings): string {
  return JSON.stringify([s.packageLimit, s.collectionTimeLimitSeconds, s.customPaths, s.cis]);
}

export interface AgentOptions {
  manager: Manager;
  log: Logger;
  nodeName: string;
  hostRoot: string;
  /** A procfs of the host's PID namespace (the cis checks); default `hostRoot`/proc. */
  hostProc?: string;
  agentVersion: string;
  /** Time between collections (default 6 h). */
  intervalMs?: number;
  /** Each interval is stretched by up to this fraction at random (default 0.1). */
  jitter?: number;
  clock?: Clock;
  random?: () => number;
  /** Overrides of what `uname` says (tests). */
  kernelVersion?: string;
  architecture?: string;
}

interface AgentMetrics {
  collections: Counter<'result'>;
  duration: Histogram;
  packages: Gauge;
  writes: Counter<'reason'>;
  lastCollection: Gauge;
}

/** The agent's metrics, registered once per registry. */
export function agentMetrics(registry: Registry): AgentMetrics {
  const existing = registry.getSingleMetric('kubeinspector_agent_collections_total');
  if (existing !== undefined) return metricsByRegistry.get(registry)!;
  const m: AgentMetrics = {
    collections: new Counter({
      name: 'kubeinspector_agent_collections_total',
      help: 'Inventory collections by result: success, or error when the host root could not be read at all.',
      labelNames: ['result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'kubeinspector_agent_collection_duration_seconds',
      help: 'Time one inventory collection took.',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
    packages: new Gauge({
      name: 'kubeinspector_agent_inventory_packages',
      help: 'Packages found by the last collection (before the package limit).',
      registers: [registry],
    }),
    writes: new Counter({
      name: 'kubeinspector_agent_inventory_writes_total',
      help: 'NodeInventory writes by reason: new, changed, refresh (only the collection time was old), unchanged (nothing written).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    lastCollection: new Gauge({
      name: 'kubeinspector_agent_last_collection_timestamp_seconds',
      help: 'When the last collection finished (Unix time).',
      registers: [registry],
    }),
  };
  for (const result of ['success', 'error']) m.collections.inc({ result }, 0);
  for (const reason of ['new', 'changed', 'refresh', 'unchanged']) m.writes.inc({ reason }, 0);
  metricsByRegistry.set(registry, m);
  return m;
}
const metricsByRegistry = new WeakMap<Registry, AgentMetrics>();

/** Reads the node's NodeInventory; undefined when there is none. */
async function readInventory(
  client: KubeClient,
  name: string,
  signal: AbortSignal,
): Promise<NodeInventory | undefined> {
  try {
    return await client.request<NodeInventory>('GET', objectPath(nodeInventories, name), {
      signal,
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Writes the inventory: creates the object when missing, then applies its status. */
export async function writeInventory(
  client: KubeClient,
  name: string,
  status: NodeInventoryStatus,
  exists: boolean,
): Promise<void> {
  if (!exists) {
    try {
      await client.request('POST', collectionPath(nodeInventories), {
        body: {
          apiVersion: API_VERSION,
          kind: 'NodeInventory',
          metadata: { name },
        },
        query: { fieldManager: AGENT_FIELD_MANAGER },
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
  const desired: KubeObject = {
    apiVersion: API_VERSION,
    kind: 'NodeInventory',
    metadata: { name },
    status,
  };
  await apply(client, nodeInventories, desired, {
    status: true,
    fieldManager: AGENT_FIELD_MANAGER,
  });
}

/** Sets up the agent on a manager; returns its controller. */
// eslint-disable-next-line max-lines-per-function -- the agent process wiring (informers, its controller, metrics) in the order it starts
export function setupAgent(o: AgentOptions): Controller {
  const clock = o.clock ?? systemClock;
  const random = o.random ?? Math.random;
  const interval = o.intervalMs ?? 6 * 3_600_000;
  const jitter = o.jitter ?? 0.1;
  const metrics = agentMetrics(o.manager.registry);
  const configs = o.manager.informer<ScanConfiguration & KubeObject>(scanConfigurations, {
    fieldSelector: `metadata.name=${SCAN_CONFIGURATION_NAME}`,
  });
  let last: { fingerprint: string; nextDueMs: number } | undefined;

  const settings = (cache: Cache<ScanConfiguration & KubeObject>): NodeSettings =>
    nodeSettings(cache.get(SCAN_CONFIGURATION_NAME));

  const reconcile = async (key: string, ctx: ReconcileContext): Promise<Result> => {
    const s = settings(configs);
    const fp = fingerprint(s);
    const now = clock.now().getTime();
    if (last !== undefined && last.fingerprint === fp && now < last.nextDueMs) {
      return { requeueAfterMs: last.nextDueMs - now };
    }
    const reason =
      last === undefined ? 'start' : last.fingerprint !== fp ? 'configuration' : 'interval';
    ctx.log.info({ reason, settings: s }, 'collecting the node inventory');
    const end = metrics.duration.startTimer();
    let collection;
    try {
      collection = await collect(o.hostRoot, {
        customPaths: s.customPaths,
        timeLimitMs: s.collectionTimeLimitSeconds * 1000,
        signal: ctx.signal,
        ...(o.kernelVersion !== undefined ? { kernelVersion: o.kernelVersion } : {}),
        ...(o.architecture !== undefined ? { architecture: o.architecture } : {}),
      });
    } catch (err) {
      metrics.collections.inc({ result: 'error' });
      throw err;
    } finally {
      end();
    }
    // The CIS node checks read a few files of the same host root; only while cis is on.
    const cis = s.cis
      ? await evaluateCis(o.hostRoot, CIS_CHECKS, {
          ...(o.hostProc !== undefined ? { proc: o.hostProc } : {}),
        })
      : undefined;
    const collectedAt = clock.now();
    const status = inventoryStatus(collection, {
      nodeName: key,
      agentVersion: o.agentVersion,
      collectedAt,
      packageLimit: s.packageLimit,
    });
    if (cis !== undefined) status.cisResults = cisResultsStatus(cis);
    metrics.collections.inc({ result: 'success' });
    metrics.packages.set(status.packageCount ?? 0);
    metrics.lastCollection.set(collectedAt.getTime() / 1000);
    const current = await readInventory(o.manager.client, key, ctx.signal);
    // Refresh the collection time at half the staleness window, so a node whose packages do
    // not change never looks stale, with one small write every few days.
    const decision = needsWrite(
      status,
      current?.status,
      collectedAt,
      (s.staleInventoryDays * 86_400_000) / 2,
    );
    if (decision.write) {
      await writeInventory(o.manager.client, key, status, current !== undefined);
    }
    metrics.writes.inc({ reason: decision.reason });
    ctx.log.info(
      {
        write: decision.reason,
        os: status.os?.platform,
        packages: status.packageCount,
        listed: status.packages?.length,
        errors: status.errors?.map((e) => e.code),
        cisFailed: status.cisResults?.filter((r) => r.status === 'FAILED').map((r) => r.id),
        durationMs: collection.durationMs,
      },
      decision.write ? 'node inventory written' : 'node inventory unchanged; nothing written',
    );
    const delay = Math.round(interval * (1 + jitter * random()));
    last = { fingerprint: fp, nextDueMs: clock.now().getTime() + delay };
    return { requeueAfterMs: delay };
  };

  const controller = new Controller({
    name: 'node-agent',
    log: o.log,
    registry: o.manager.registry,
    reconciler: { reconcile },
    // A failed collection or write is retried after 5 s, 10 s, ... up to 5 minutes.
    rateLimiter: { baseDelayMs: 5_000, maxDelayMs: 300_000 },
  });
  const poke = (): void => controller.enqueue(o.nodeName);
  configs.addHandlers({ add: poke, update: poke, delete: poke });
  o.manager.addController(controller, { needsLeader: false });
  controller.enqueue(o.nodeName);
  return controller;
}
