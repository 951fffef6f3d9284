// The PostgreSQL store's connections: TLS to a real server (ssl=on, a CA and a certificate made
// with openssl, the client verifying them as the URL's sslmode says), and what a reader streaming
// from the database sees when its connection is lost mid-stream: the store's iterators fail with
// a connection error, and the findings API ends a watch with a 503 Status and answers 503 to a new
// list while the database is away — never a wait without end. One server for the file.
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';
import { FINDINGS_API_VERSION, LABELS } from '../api/v1alpha1/common.ts';
import type {
  AuthenticationResult,
  Authenticator,
  Authorizer,
} from '../findings-api/auth-types.ts';
import { createFindingsApiServer, listenFindingsApi } from '../findings-api/server.ts';
import type { ApiError } from '../findings-api/status.ts';
import { StoreHolder } from '../findings-api/store-holder.ts';
import { PostgresFindingStore, isConnectionError } from './postgres.ts';
import type { BatchWrite, StoredFinding, WatchEvent } from './store.ts';

const NS = 'kube-inspector-system';
const BASE = `/apis/findings.kubeinspector.io/v1alpha1/namespaces/${NS}/findings`;

vi.setConfig({ testTimeout: 60_000 });

let server: TestPostgres | undefined;
beforeAll(async () => {
  server = await startPostgres({ tls: true });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function postgres(): TestPostgres {
  if (server === undefined) throw new Error('PostgreSQL did not start');
  return server;
}

async function open(url: string, pageSize?: number): Promise<PostgresFindingStore> {
  const store = await PostgresFindingStore.open({ url, ...(pageSize ? { pageSize } : {}) });
  cleanups.push(() => store.close());
  return store;
}

/** A finding with a long description, so a few thousand fill more than a socket's buffers. */
function finding(name: string): StoredFinding {
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: { namespace: NS, name, labels: { [LABELS.severity]: 'HIGH' } },
    status: { severity: 'HIGH', status: 'ACTIVE', title: name, description: 'x'.repeat(2_000) },
  };
}

async function fill(store: PostgresFindingStore, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500)
    await store.batch(
      Array.from({ length: Math.min(500, count - i) }, (_, j): BatchWrite => ({
        op: 'create',
        finding: finding(`f${i + j}`),
      })),
    );
}

/** Ends every connection of a role, as a database restart or a network cut does. */
async function cut(role: string): Promise<number> {
  const { rows } = await postgres().admin(
    `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE usename = '${role}'`,
  );
  return rows.length;
}

describe('TLS to PostgreSQL', () => {
  it('connects with sslmode=verify-full and the CA from sslrootcert, every connection encrypted', async () => {
    const pg = postgres();
    const db = await pg.createDatabase();
    const tls = pg.tls!;
    const store = await open(`${db.url}?sslmode=verify-full&sslrootcert=${tls.caFile}`);
    await store.create(finding('over-tls'));
    expect((await store.get(NS, 'over-tls'))?.metadata.name).toBe('over-tls');
    // The pooled connections and the LISTEN one: all of this role's sessions.
    const { rows } = await pg.admin(
      `SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.usename = '${db.role}'`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows as { ssl: boolean; version: string }[]) {
      expect(r.ssl).toBe(true);
      expect(r.version).toMatch(/^TLSv1\.[23]$/);
    }
  });

  it('refuses a server whose certificate the given CA did not sign', async () => {
    const pg = postgres();
    const db = await pg.createDatabase();
    await expect(
      PostgresFindingStore.open({
        url: `${db.url}?sslmode=verify-full&sslrootcert=${pg.tls!.otherCaFile}`,
      }),
    ).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('follows the URL: sslmode=disable connects in the clear', async () => {
    const pg = postgres();
    const db = await pg.createDatabase();
    const store = await open(`${db.url}?sslmode=disable`);
    await store.create(finding('clear'));
    const { rows } = await pg.admin(
      `SELECT bool_or(s.ssl) AS any FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.usename = '${db.role}'`,
    );
    expect((rows[0] as { any: boolean }).any).toBe(false);
  });
});

describe('a connection lost mid-stream', () => {
  it('fails the initial events of a watch and a streamed list with a connection error', async () => {
    const db = await postgres().createDatabase();
    const store = await open(db.url, 50);
    await fill(store, 400);

    const watch = await store.watch({});
    const iterator = watch[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect((first.value as WatchEvent).type).toBe('ADDED');
    const list = await store.listPages({});
    const pages = list.pages[Symbol.asyncIterator]();
    expect(((await pages.next()).value as StoredFinding[]).length).toBe(50);

    expect(await cut(db.role)).toBeGreaterThan(0);
    const drain = async (): Promise<unknown> => {
      try {
        for (let r = await iterator.next(); !r.done; r = await iterator.next());
        return 'ended without error';
      } catch (err) {
        return err;
      }
    };
    const watchError = await drain();
    expect(isConnectionError(watchError)).toBe(true);
    const listError = await (async () => {
      try {
        for (let r = await pages.next(); !r.done; r = await pages.next());
        return 'ended without error';
      } catch (err) {
        return err;
      }
    })();
    expect(isConnectionError(listError)).toBe(true);
    // The pool opens new connections: the store serves again at once.
    expect(await store.count({})).toBe(400);
  });

  it('fails a list whose snapshot is opening when the store closes: 503 from the API, never a short list', async () => {
    const db = await postgres().createDatabase();
    for (const through of ['store', 'holder'] as const) {
      const store = await PostgresFindingStore.open({ url: db.url });
      if (through === 'store') await fill(store, 100);
      const holder = new StoreHolder();
      holder.open(store);
      const reader = through === 'store' ? store : holder;
      const listing = reader.list({ limit: 10 }).then(
        (r) => `listed ${r.items.length}`,
        (err: unknown) => err,
      );
      // The snapshot has its connection and is starting its transaction: the store closes now.
      while (store.snapshots.size === 0) await new Promise((r) => setImmediate(r));
      await holder.close();
      const outcome = await listing;
      expect(outcome).toBeInstanceOf(Error);
      if (through === 'store')
        expect((outcome as Error).message).toBe('the PostgreSQL findings store is closed');
      else expect((outcome as ApiError).status.code).toBe(503);
    }
  });

  it('fails a streamed list whose store closes between pages, never ending it short', async () => {
    const db = await postgres().createDatabase();
    const store = await PostgresFindingStore.open({ url: db.url, pageSize: 10 });
    await fill(store, 50);
    const list = await store.listPages({});
    const pages = list.pages[Symbol.asyncIterator]();
    expect(((await pages.next()).value as StoredFinding[]).length).toBe(10);
    await store.close();
    await expect(pages.next()).rejects.toThrow('the PostgreSQL findings store is closed');
  });

  it('ends an HTTP watch with a 503 Status and answers a new list 503 while the database is away', async () => {
    const pg = postgres();
    const db = await pg.createDatabase();
    const store = await open(db.url, 100);
    await fill(store, 3_000);
    const holder = new StoreHolder();
    holder.open(store);
    const api = createFindingsApiServer({
      store: holder,
      authenticator: {
        authenticate: (req: IncomingMessage): AuthenticationResult =>
          typeof req.headers['x-remote-user'] === 'string'
            ? { ok: true, user: { name: req.headers['x-remote-user'], groups: [], extra: {} } }
            : { ok: false, message: 'no user' },
      } satisfies Authenticator,
      authorizer: {
        authorize: () => Promise.resolve({ allowed: true, reason: '' }),
      } satisfies Authorizer,
      controllerUsernames: [],
      deleterUsernames: [],
    });
    const http = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
    cleanups.push(async () => {
      api.close();
      await http.close();
    });
    const url = `http://127.0.0.1:${http.port}${BASE}`;
    const headers = { 'X-Remote-User': 'reader' };

    // A watch from the current state: 3,000 ADDED events (6 MB) read from a snapshot page by
    // page as the client takes them. The client reads one frame, then the database goes away.
    const res = await fetch(`${url}?watch=1`, { headers });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value as Uint8Array, { stream: true });
    await pg.down();
    cleanups.push(() => pg.up());
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += decoder.decode(r.value as Uint8Array, { stream: true });
    const frames = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; object: { code?: number; reason?: string } });
    expect(frames.length).toBeLessThan(3_001);
    const last = frames.at(-1)!;
    expect(last.type).toBe('ERROR');
    expect(last.object).toMatchObject({ code: 503, reason: 'ServiceUnavailable' });

    const list = await fetch(url, { headers });
    expect(list.status).toBe(503);
    expect(((await list.json()) as { reason: string }).reason).toBe('ServiceUnavailable');

    await pg.up();
    const again = await fetch(`${url}?limit=10`, { headers });
    expect(again.status).toBe(200);
  });
});
