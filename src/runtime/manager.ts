// The manager runs everything a controller process needs: one API client,
// shared caches (one reflector per resource and selector), the controllers,
// leader election, and the /metrics, /healthz and /readyz endpoints.
//
// Lifecycle: start the HTTP servers, start the reflectors, wait for every cache
// to sync (then /readyz is green), start controllers that do not need
// leadership, run leader election and start the rest while leading. When the
// signal aborts: /readyz turns red, controllers stop taking keys and drain
// in-flight reconciles within the deadline, leadership is released, reflectors
// stop, servers close.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Cache } from '../kube/cache.ts';
import { type ClientOptions, KubeClient } from '../kube/client.ts';
import { clientEventSink, EventRecorder } from '../kube/events.ts';
import { Reflector, type Transform } from '../kube/reflector.ts';
import { type KubeObject, type ResourceType, resourceName } from '../kube/resources.ts';
import type { Controller } from './controller.ts';
import { type LeaderElectionOptions, LeaderElector as LeaseElector } from './leader-election.ts';

export type Check = () => string | undefined | Promise<string | undefined>;

/** What the manager needs from leader election. */
export interface LeaderElector {
  /**
   * Campaigns until `signal` aborts. Calls `lead(leaderSignal)` when it becomes
   * leader; `leaderSignal` aborts when leadership is lost. The promise `lead`
   * returns settles once the leader's work has stopped; only then is the lease
   * released (on shutdown).
   */
  run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void>;
  /** A reason when the lease should have been renewed but was not (for /healthz). */
  unhealthy?(): string | undefined;
}

/** Leader election on a coordination.k8s.io Lease, for the manager. */
export function leaseLeaderElector(
  options: Omit<LeaderElectionOptions, 'callbacks'>,
): LeaderElector {
  let elector: LeaseElector | undefined;
  return {
    async run(signal, lead) {
      elector = new LeaseElector({ ...options, callbacks: { onStartedLeading: (s) => lead(s) } });
      await elector.run(signal);
    },
    unhealthy() {
      if (elector === undefined || !elector.isLeader()) return undefined;
      return elector.isLeaseHealthy()
        ? undefined
        : `lease ${options.namespace}/${options.name} not renewed in time`;
    },
  };
}

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Address for both servers. Default 0.0.0.0 (use 127.0.0.1 in tests). */
  bindAddress?: string;
  /** Port of /metrics; 0 picks a free port; default 8080. */
  metricsPort?: number;
  /** Port of /healthz and /readyz; 0 picks a free port; default 8081. */
  probePort?: number;
  /** How long in-flight reconciles may run after shutdown starts. Default 25 s. */
  shutdownDeadlineMs?: number;
  leaderElector?: LeaderElector;
  /** Registry for every metric; default a new one with the process and Node.js metrics. */
  registry?: Registry;
  client?: ClientOptions;
  /** Reflector tuning (tests shorten the watch timeout). */
  reflector?: {
    minWatchTimeoutSeconds?: number;
    inactivityMs?: number;
    /** How often a resource that is not served (an optional CRD) is looked for again. */
    optionalRecheckMs?: number;
  };
}

interface InformerOptions<T extends KubeObject> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  transform?: Transform<T>;
  /** The resource may not be served (an optional CRD): see ReflectorOptions.optional. */
  optional?: { recheckMs?: number | undefined };
}

export class Manager {
  readonly client: KubeClient;
  readonly registry: Registry;
  readonly log: Logger;
  /** The process's one event recorder (one queue, one spam filter), writing through the client. */
  readonly events: EventRecorder;
  private readonly o: ManagerOptions;
  private readonly reflectors = new Map<
    string,
    { reflector: Reflector<KubeObject>; cache: Cache<KubeObject>; transform: unknown }
  >();
  private readonly controllers: { controller: Controller; needsLeader: boolean }[] = [];
  private readonly leaderTasks: ((signal: AbortSignal) => Promise<void>)[] = [];
  private readonly leaderTasksAbort = new AbortController();
  private leaderTaskRuns: Promise<void>[] = [];
  private readonly leaderHooks: { start(): Promise<void>; stop(): Promise<void> }[] = [];
  private leaderHooksStarted = 0;
  private readonly healthChecks = new Map<string, Check>();
  private readonly readyChecks = new Map<string, Check>();
  private servers: Server[] = [];
  private started = false;
  private stopping = false;
  private leading = false;
  /** Ports the servers listen on, once started. */
  readonly ports = { metrics: 0, probes: 0 };

  private constructor(o: ManagerOptions, client: KubeClient, registry: Registry) {
    this.o = o;
    this.client = client;
    this.registry = registry;
    this.log = o.log;
    this.events = new EventRecorder({
      sink: clientEventSink(client),
      reportingInstance: process.env.POD_NAME ?? hostname(),
      registry,
      logger: o.log,
    });
    this.readyChecks.set('informers', () => {
      const waiting = [...this.reflectors.entries()]
        .filter(([, r]) => !r.reflector.hasSynced())
        .map(([k]) => k);
      return waiting.length > 0 ? `caches not synced: ${waiting.join(', ')}` : undefined;
    });
    this.readyChecks.set('shutdown', () => (this.stopping ? 'shutting down' : undefined));
    this.healthChecks.set('informers', () => {
      // A reflector that heard nothing for twice its inactivity limit is stuck, not quiet.
      const limit = (2 * (o.reflector?.inactivityMs ?? 180_000)) / 1000;
      const stale = [...this.reflectors.entries()]
        .filter(([, r]) => r.reflector.hasSynced() && r.reflector.secondsSinceLastEvent() > limit)
        .map(([k]) => k);
      return stale.length > 0
        ? `no watch data for over ${limit} s: ${stale.join(', ')}`
        : undefined;
    });
    this.healthChecks.set('leader-election', () => o.leaderElector?.unhealthy?.());
  }

  static async create(o: ManagerOptions): Promise<Manager> {
    const registry = o.registry ?? new Registry();
    collectDefaultMetrics({ register: registry });
    const client = await KubeClient.create(o.kubeConfig, { ...o.client, registry });
    return new Manager(o, client, registry);
  }

  /**
   * A shared cache of one resource (and selector); the first call creates its reflector. A later
   * call must ask for the same transform (the same function), or it is refused: otherwise the
   * order in which controllers are set up would decide what the cache holds.
   */
  informer<T extends KubeObject>(
    resource: ResourceType,
    options: InformerOptions<T> = {},
  ): Cache<T> {
    const id = [
      resourceName(resource),
      options.namespace ?? '',
      options.labelSelector ?? '',
      options.fieldSelector ?? '',
    ].join('|');
    const existing = this.reflectors.get(id);
    if (existing) {
      if (existing.transform !== options.transform)
        throw new Error(`informer for ${id} already exists with a different transform`);
      return existing.cache as unknown as Cache<T>;
    }
    if (this.started) throw new Error(`informer for ${id} requested after start`);
    const cache = new Cache<T>(this.log.child({ cache: resourceName(resource) }));
    const reflector = new Reflector<T>({
      client: this.client,
      resource,
      cache,
      log: this.log.child({ component: 'reflector' }),
      registry: this.registry,
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      ...(options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {}),
      ...(options.fieldSelector !== undefined ? { fieldSelector: options.fieldSelector } : {}),
      ...(options.transform !== undefined ? { transform: options.transform } : {}),
      ...(options.optional !== undefined
        ? {
            optional: {
              recheckMs: options.optional.recheckMs ?? this.o.reflector?.optionalRecheckMs,
            },
          }
        : {}),
      ...(this.o.reflector?.minWatchTimeoutSeconds !== undefined
        ? { minWatchTimeoutSeconds: this.o.reflector.minWatchTimeoutSeconds }
        : {}),
      ...(this.o.reflector?.inactivityMs !== undefined
        ? { inactivityMs: this.o.reflector.inactivityMs }
        : {}),
    });
    this.reflectors.set(id, {
      reflector: reflector as unknown as Reflector<KubeObject>,
      cache: cache as unknown as Cache<KubeObject>,
      transform: options.transform,
    });
    return cache;
  }

  /**
   * Adds a task that runs beside the controllers while this replica leads (a watch of an
   * in-process store, for example): started with them, its signal aborted when they are asked
   * to stop, and awaited before leadership is released.
   */
  addLeaderTask(task: (signal: AbortSignal) => Promise<void>): void {
    this.leaderTasks.push(task);
  }

  /**
   * Adds hooks around leadership: `start` is awaited before the controllers start (opening what
   * only the leader may own, such as a database file), `stop` after they drained and before the
   * lease is released. A failing start stops the process (like a lost lease).
   */
  addLeaderHooks(hooks: { start(): Promise<void>; stop(): Promise<void> }): void {
    this.leaderHooks.push(hooks);
  }

  /** Adds a controller; by default it runs only while this replica leads. */
  addController(controller: Controller, options: { needsLeader?: boolean } = {}): void {
    this.controllers.push({ controller, needsLeader: options.needsLeader ?? true });
  }

  addHealthCheck(name: string, check: Check): void {
    this.healthChecks.set(name, check);
  }

  addReadyCheck(name: string, check: Check): void {
    this.readyChecks.set(name, check);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Runs until the signal aborts, then shuts down gracefully. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    const bind = this.o.bindAddress ?? '0.0.0.0';
    this.ports.metrics = await this.listen(this.o.metricsPort ?? 8080, bind, (req, res) =>
      this.serveMetrics(req, res),
    );
    this.ports.probes = await this.listen(this.o.probePort ?? 8081, bind, (req, res) =>
      this.serveProbes(req, res),
    );
    this.log.info(
      { metricsPort: this.ports.metrics, probePort: this.ports.probes },
      'serving metrics and probes',
    );

    const reflectorsAbort = new AbortController();
    const reflectorRuns = [...this.reflectors.values()].map((r) =>
      r.reflector.run(reflectorsAbort.signal),
    );
    try {
      await Promise.all([...this.reflectors.values()].map((r) => r.reflector.waitForSync(signal)));
      this.log.info({ caches: this.reflectors.size }, 'caches synced');
    } catch {
      // aborted before the caches synced
    }

    let electorRun: Promise<void> = Promise.resolve();
    let markControllersStopped: () => void = () => {};
    const controllersStopped = new Promise<void>((resolve) => (markControllersStopped = resolve));
    if (!signal.aborted) {
      for (const c of this.controllers) if (!c.needsLeader) c.controller.start();
      const leaderOnly = this.controllers.filter((c) => c.needsLeader).map((c) => c.controller);
      if (this.o.leaderElector === undefined) {
        await this.lead(leaderOnly);
      } else {
        electorRun = this.o.leaderElector.run(signal, async (leaderSignal) => {
          await this.lead(leaderOnly).catch((err: unknown) => {
            this.log.error({ err }, 'could not start leading; exiting');
            this.onLeadershipLost();
          });
          this.log.info('became leader; controllers started');
          leaderSignal.addEventListener(
            'abort',
            () => {
              this.leading = false;
              if (!signal.aborted) {
                // Work done without the lease could conflict with the new leader: stop at once.
                this.log.error('leadership lost; exiting');
                this.onLeadershipLost();
              }
            },
            { once: true },
          );
          return controllersStopped;
        });
      }
      if (!signal.aborted) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    }

    const drained = await this.shutdown({
      electorRun,
      markControllersStopped,
      reflectorsAbort,
      reflectorRuns,
    });
    this.log.info({ drained: drained.every(Boolean) }, 'stopped');
  }

  /**
   * Where shutdown is and what it still waits for (the process logs it when shutdown outlives
   * its deadline, so a hang names its step).
   */
  get shutdownProgress(): { step: string; waitingFor: string[] } | undefined {
    return this.progress && { step: this.progress.step, waitingFor: [...this.progress.pending] };
  }

  private progress: { step: string; pending: Set<string> } | undefined;

  /** Awaits one shutdown step's promises, keeping track of which are still pending. */
  private async step<T>(
    step: string,
    parts: readonly (readonly [string, Promise<T>])[],
  ): Promise<T[]> {
    const pending = new Set(parts.map(([name]) => name));
    this.progress = { step, pending };
    return Promise.all(parts.map(([name, p]) => p.finally(() => pending.delete(name))));
  }

  /** Drains, releases the lease, then stops informers, servers and the client, in order. */
  private async shutdown(o: {
    electorRun: Promise<void>;
    markControllersStopped: () => void;
    reflectorsAbort: AbortController;
    reflectorRuns: Promise<void>[];
  }): Promise<boolean[]> {
    const { electorRun, markControllersStopped, reflectorsAbort, reflectorRuns } = o;
    this.stopping = true;
    const deadline = this.o.shutdownDeadlineMs ?? 25_000;
    this.log.info({ deadlineMs: deadline }, 'shutting down: draining reconciles');
    this.leaderTasksAbort.abort(new Error('manager stopped'));
    const drained = await this.step(
      'draining reconciles',
      this.controllers.map((c) => [c.controller.name, c.controller.stop(deadline)] as const),
    );
    await this.step(
      'leader tasks',
      this.leaderTaskRuns.map((run, i) => [`task ${i}`, run] as const),
    );
    await this.step('leader hooks', [['hooks', this.stopLeaderHooks()]]);
    // The lease is released only now, so a new leader never overlaps our last reconciles.
    markControllersStopped();
    await this.step('releasing the lease', [
      [
        'elector',
        electorRun.catch((err: unknown) =>
          this.log.error({ err }, 'leader election ended with an error'),
        ),
      ],
    ]);
    reflectorsAbort.abort(new Error('manager stopped'));
    const reflectorNames = [...this.reflectors.keys()];
    await this.step(
      'stopping informers',
      reflectorRuns.map((run, i) => [reflectorNames[i] ?? `reflector ${i}`, run] as const),
    );
    for (const s of this.servers) s.closeAllConnections();
    await this.step(
      'closing servers',
      this.servers.map((s, i) => [`server ${i}`, new Promise((r) => s.close(r))] as const),
    );
    // Series not yet written go out before the client closes.
    await this.step('flushing events', [['events', this.events.close()]]);
    await this.step('closing the API client', [['client', this.client.close()]]);
    return drained;
  }

  /** Leader hooks first, then the leader-only controllers and tasks. */
  private async lead(leaderOnly: Controller[]): Promise<void> {
    for (const hook of this.leaderHooks) {
      await hook.start();
      this.leaderHooksStarted++;
    }
    this.leading = true;
    for (const c of leaderOnly) c.start();
    this.startLeaderTasks();
  }

  private async stopLeaderHooks(): Promise<void> {
    const started = this.leaderHooks.slice(0, this.leaderHooksStarted).reverse();
    this.leaderHooksStarted = 0;
    for (const hook of started)
      await hook
        .stop()
        .catch((err: unknown) => this.log.error({ err }, 'a leader hook failed to stop'));
  }

  private startLeaderTasks(): void {
    this.leaderTaskRuns = this.leaderTasks.map((task) =>
      task(this.leaderTasksAbort.signal).catch((err: unknown) => {
        if (!this.leaderTasksAbort.signal.aborted)
          this.log.error({ err }, 'a leader task ended with an error');
      }),
    );
  }

  /** Overridable for tests; in production the process exits so a fresh replica can campaign. */
  onLeadershipLost: () => void = () => {
    this.log.flush();
    process.exit(1);
  };

  private listen(
    port: number,
    host: string,
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ): Promise<number> {
    const server = createServer((req, res) => {
      handler(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'HTTP handler failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.requestTimeout = 10_000;
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const body = await this.registry.metrics();
    res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
  }

  private async serveProbes(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://probe');
    const checks =
      url.pathname === '/healthz' || url.pathname === '/livez'
        ? this.healthChecks
        : url.pathname === '/readyz'
          ? this.readyChecks
          : undefined;
    if (checks === undefined) {
      res.writeHead(404).end();
      return;
    }
    const excluded = new Set(url.searchParams.getAll('exclude'));
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of checks) {
      if (excluded.has(name)) {
        lines.push(`[+]${name} excluded: ok`);
        continue;
      }
      const problem = await check();
      if (problem === undefined) lines.push(`[+]${name} ok`);
      else {
        ok = false;
        lines.push(`[-]${name} failed: ${problem}`);
      }
    }
    const verbose = url.searchParams.has('verbose') || !ok;
    const body = verbose
      ? `${lines.join('\n')}\n${url.pathname.slice(1)} check ${ok ? 'passed' : 'failed'}\n`
      : 'ok';
    res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  }
}
