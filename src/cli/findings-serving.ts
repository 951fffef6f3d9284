/**
 * The findings side of `kube-inspector controller`: the findings API served over TLS to
 * kube-apiserver's front proxy (request-header authentication from
 * kube-system/extension-apiserver-authentication, SubjectAccessReview authorisation), and the
 * findings store.
 *
 * - SQLite (the default, docs/adr/0930): opened only by the lease holder, which labels its pod
 *   so that the findings API Service selects it alone (docs/adr/0710). Every replica is Ready and
 *   answers discovery and OpenAPI; findings requests get 503 until this replica leads. Shutdown: the
 *   controllers drain, the store closes (its watches end), the server stops.
 * - PostgreSQL (docs/adr/0933): every replica opens the store at start and serves reads,
 *   watches and people's writes; only the lease holder runs the controllers that write
 *   findings. The store closes after the server has drained (requests in flight answered).
 *
 * Either way the store is imported from the Finding custom resources of earlier versions once,
 * by the lease holder, before the controllers start.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { importLegacyFindings } from '../controllers/findings/legacy-import.ts';
import { FrontProxyAuthenticator, createFrontProxyServer } from '../findings-api/front-proxy.ts';
import { createFindingsApiServer } from '../findings-api/server.ts';
import { StoreHolder } from '../findings-api/store-holder.ts';
import { SubjectAccessReviewAuthorizer } from '../findings-api/subject-access-review.ts';
import { FINDINGS_API_LABEL, FindingsPodLabel } from './findings-pod-label.ts';
import { PostgresFindingStore } from '../findings-store/postgres.ts';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import type { Manager } from '../runtime/manager.ts';

export interface FindingsServingConfig {
  /** Which backend keeps findings: SQLite (the default) or PostgreSQL. */
  store?: 'sqlite' | 'postgres' | undefined;
  /** The SQLite file (on the PersistentVolume). */
  dbPath: string;
  /**
   * With PostgreSQL: a file holding the connection URL (a Secret's key mounted as a file). It is
   * read for every new connection, so a rotated password takes effect without a restart.
   */
  postgresUrlFile?: string | undefined;
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  /** Usernames that write findings as the controller (create, /status, every field). */
  controllerUsernames: string[];
  /** Usernames that may also delete (garbage collector, namespace controller). */
  deleterUsernames: string[];
  /**
   * This replica's pod, labelled while it serves the SQLite store (ADR 0710). Default:
   * POD_NAMESPACE and POD_NAME from the environment (the downward API); without a name no pod is
   * labelled.
   */
  pod?: { namespace: string | undefined; name: string | undefined } | undefined;
}

export interface FindingsServing {
  /** The store controllers use (open while this replica leads). */
  store: StoreHolder;
  /** Stops serving: ends watches and closes the listener. */
  stop(): Promise<void>;
}

/** How long requests in flight at shutdown may take to finish before their connections close. */
const DRAIN_MS = 10_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Counts requests in flight; once draining, every answer closes its connection. */
class Drain {
  private inFlight = 0;
  private draining = false;
  private readonly waiters = new Set<() => void>();

  wrap(handler: Handler): Handler {
    return (req, res) => {
      this.inFlight++;
      res.once('close', () => {
        this.inFlight--;
        if (this.inFlight === 0) for (const w of this.waiters) w();
      });
      if (this.draining) res.setHeader('Connection', 'close');
      handler(req, res);
    };
  }

  start(): void {
    this.draining = true;
  }

  /** Resolves when no request is in flight, or after `ms`. */
  async idle(ms: number): Promise<void> {
    if (this.inFlight === 0) return;
    let done!: () => void;
    const timer = setTimeout(() => done(), ms);
    await new Promise<void>((resolve) => {
      done = resolve;
      this.waiters.add(resolve);
    });
    clearTimeout(timer);
    this.waiters.delete(done);
  }
}

/** Opens the store under the lease and starts the API server (listening once the CA is known). */
export function startFindingsServing(
  manager: Manager,
  config: FindingsServingConfig,
  log: Logger,
  signal: AbortSignal,
): FindingsServing {
  const holder = new StoreHolder();
  const apiLog = log.child({ component: 'findings-api' });
  if (config.store === 'postgres') servePostgres(manager, config, holder, apiLog, signal);
  else serveSqlite(manager, config, holder, apiLog, signal);
  const authenticator = new FrontProxyAuthenticator();
  authenticator.follow(manager.client, apiLog, signal);
  // Shutdown drains: requests in flight finish on the open store, answers then close their
  // connection, and only then the store closes (a rolling upgrade fails no read).
  const draining = new Drain();
  const api = createFindingsApiServer({
    store: holder,
    authenticator,
    authorizer: new SubjectAccessReviewAuthorizer(manager.client),
    controllerUsernames: config.controllerUsernames,
    deleterUsernames: config.deleterUsernames,
    onInternalError: (err) => apiLog.error({ err }, 'findings API internal error'),
  });
  const listening = createFrontProxyServer(
    {
      authenticator,
      certFile: config.certFile,
      keyFile: config.keyFile,
      handler: draining.wrap(api.handler),
      log: apiLog,
    },
    signal,
  ).then(async (proxy) => {
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(config.port, config.host, () => resolve());
    });
    apiLog.info({ host: config.host, port: config.port }, 'serving the findings API');
    return proxy;
  });
  listening.catch((err: unknown) => {
    if (!signal.aborted) apiLog.error({ err }, 'the findings API could not start');
  });
  return {
    store: holder,
    async stop() {
      draining.start();
      api.close(); // watches end; their clients watch again through another replica
      const proxy = await listening.catch(() => undefined);
      if (proxy !== undefined) {
        proxy.stop();
        const closed = new Promise<void>((resolve) => proxy.server.close(() => resolve()));
        proxy.server.closeIdleConnections();
        await draining.idle(DRAIN_MS);
        proxy.server.closeAllConnections();
        await closed;
      }
      // With PostgreSQL the store is this replica's, not the lease holder's: it closes last.
      if (config.store === 'postgres') await holder.close();
    },
  };
}

/**
 * SQLite: the lease holder opens the file, imports, labels its pod (the findings API Service
 * selects the label, ADR 0710), then the controllers start. Every replica is Ready once its
 * caches synced and a stale label on its own pod is gone.
 */
function serveSqlite(
  manager: Manager,
  config: FindingsServingConfig,
  holder: StoreHolder,
  apiLog: Logger,
  signal: AbortSignal,
): void {
  const pod = config.pod ?? { namespace: process.env.POD_NAMESPACE, name: process.env.POD_NAME };
  const label = new FindingsPodLabel({ client: manager.client, ...pod, log: apiLog });
  // Before this replica may be Ready (and before it may label itself as the leader).
  const staleCleared = label.clearStale(signal);
  manager.addLeaderHooks({
    start: async () => {
      await staleCleared;
      await mkdir(dirname(config.dbPath), { recursive: true });
      const store = new SqliteFindingStore({ path: config.dbPath });
      try {
        await importLegacyFindings(manager.client, store, apiLog);
      } catch (err) {
        await store.close();
        throw err;
      }
      apiLog.info({ path: config.dbPath }, 'findings store opened');
      // Labelled before it serves; a label that cannot be set leaves the store served to
      // direct clients only (the error is logged), it does not stop the controllers.
      await label.set(signal);
      holder.open(store);
    },
    stop: async () => {
      // Unlabelled before the store closes: the Service stops sending requests here first.
      await label.remove();
      await holder.close();
      apiLog.info('findings store closed');
    },
  });
  // Ready does not depend on leadership: a standby is Ready (ADR 0710). It waits only for a
  // label left on this pod by an earlier container to be removed.
  manager.addReadyCheck('findings-pod-label', () =>
    label.ready
      ? undefined
      : `removing a stale ${FINDINGS_API_LABEL} label from this pod (a container restart keeps labels)`,
  );
}

/**
 * The connection URL in a file: one line, postgres:// or postgresql://. Read again for every
 * new connection (password rotation); a clear error names the file when it is wrong.
 */
export function readPostgresUrl(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`--findings-postgres-url-file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(
      `--findings-postgres-url-file ${file}: not a URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)`,
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new Error(
      `--findings-postgres-url-file ${file}: scheme ${url.protocol} is not postgres: or postgresql:`,
    );
  if (url.hostname === '')
    throw new Error(`--findings-postgres-url-file ${file}: the URL names no host`);
  return text;
}

/** Opens the PostgreSQL store, trying again (up to every 30 s) until it opens or we stop. */
async function openPostgres(
  file: string,
  apiLog: Logger,
  signal: AbortSignal,
): Promise<PostgresFindingStore | undefined> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await PostgresFindingStore.open({
        url: () => readPostgresUrl(file),
        onConnectionError: (err) => apiLog.warn({ err }, 'findings database connection lost'),
      });
    } catch (err) {
      apiLog.error({ err, attempt }, 'findings database unavailable; trying again');
      await sleep(Math.min(1000 * 2 ** (attempt - 1), 30_000), undefined, { signal }).catch(
        () => undefined,
      );
    }
  }
  return undefined;
}

/** PostgreSQL: every replica opens and serves the store; the lease holder imports once. */
function servePostgres(
  manager: Manager,
  config: FindingsServingConfig,
  holder: StoreHolder,
  apiLog: Logger,
  signal: AbortSignal,
): void {
  const file = config.postgresUrlFile;
  if (file === undefined)
    throw new Error('--findings-store=postgres needs --findings-postgres-url-file');
  const opened = openPostgres(file, apiLog, signal).then((store) => {
    if (store === undefined) return undefined;
    if (signal.aborted) {
      void store.close();
      return undefined;
    }
    holder.open(store);
    apiLog.info('findings store opened (PostgreSQL)');
    return store;
  });
  manager.addLeaderHooks({
    start: async () => {
      const store = await opened;
      if (store === undefined) throw new Error('stopped before the findings database opened');
      await importLegacyFindings(manager.client, store, apiLog);
    },
    stop: () => Promise.resolve(),
  });
  // Ready = serving findings: every replica whose store is open.
  manager.addReadyCheck('findings-store', () =>
    holder.isOpen ? undefined : 'findings database not open yet on this replica',
  );
}
