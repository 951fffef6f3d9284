/**
 * The findings side of `kube-inspector controller`: the findings API served over TLS to
 * kube-apiserver's front proxy (request-header authentication from
 * kube-system/extension-apiserver-authentication, SubjectAccessReview authorisation), and the
 * SQLite findings store, opened only by the lease holder (docs/adr/0930). Every replica answers
 * discovery and OpenAPI; findings requests get 503 until this replica leads. The store is
 * imported from the Finding custom resources of earlier versions once, before the controllers
 * start. Shutdown: the controllers drain, the store closes (its watches end), the server stops.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { importLegacyFindings } from '../controllers/findings/legacy-import.ts';
import { FrontProxyAuthenticator, createFrontProxyServer } from '../findings-api/front-proxy.ts';
import { createFindingsApiServer } from '../findings-api/server.ts';
import { StoreHolder } from '../findings-api/store-holder.ts';
import { SubjectAccessReviewAuthorizer } from '../findings-api/subject-access-review.ts';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import type { Manager } from '../runtime/manager.ts';

export interface FindingsServingConfig {
  /** The SQLite file (on the PersistentVolume). */
  dbPath: string;
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  /** Usernames that write findings as the controller (create, /status, every field). */
  controllerUsernames: string[];
  /** Usernames that may also delete (garbage collector, namespace controller). */
  deleterUsernames: string[];
}

export interface FindingsServing {
  /** The store controllers use (open while this replica leads). */
  store: StoreHolder;
  /** Stops serving: ends watches and closes the listener. */
  stop(): Promise<void>;
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
  manager.addLeaderHooks({
    start: async () => {
      await mkdir(dirname(config.dbPath), { recursive: true });
      const store = new SqliteFindingStore({ path: config.dbPath });
      try {
        await importLegacyFindings(manager.client, store, apiLog);
      } catch (err) {
        await store.close();
        throw err;
      }
      holder.open(store);
      apiLog.info({ path: config.dbPath }, 'findings store opened');
    },
    stop: async () => {
      await holder.close();
      apiLog.info('findings store closed');
    },
  });
  // Ready = serving findings: only the replica that owns the store (a Service then sends the
  // aggregation layer's connections to it alone).
  manager.addReadyCheck('findings-store', () =>
    holder.isOpen
      ? undefined
      : 'findings store not open on this replica (the lease holder opens it)',
  );
  const authenticator = new FrontProxyAuthenticator();
  authenticator.follow(manager.client, apiLog, signal);
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
      handler: api.handler,
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
      api.close();
      const proxy = await listening.catch(() => undefined);
      if (proxy === undefined) return;
      proxy.stop();
      proxy.server.closeAllConnections();
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
    },
  };
}
