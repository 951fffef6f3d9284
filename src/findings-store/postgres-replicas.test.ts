// Several serving replicas of the findings API over one PostgreSQL database, over real HTTP: the
// lease holder writes through its store (as the controllers do), readers and watchers are spread
// over the replicas, and the lease holder is stopped while they run. Reads keep answering on the
// others, and a watch on another replica sees every write of both lease holders, in order.
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';
import { FINDINGS_API_VERSION, LABELS } from '../api/v1alpha1/common.ts';
import type {
  AuthenticationResult,
  Authenticator,
  Authorizer,
} from '../findings-api/auth-types.ts';
import {
  createFindingsApiServer,
  listenFindingsApi,
  type RunningServer,
} from '../findings-api/server.ts';
import { PostgresFindingStore } from './postgres.ts';
import type { StoredFinding } from './store.ts';

const BASE = '/apis/findings.kubeinspector.io/v1alpha1';
const NS = 'kube-inspector-system';

let postgres: TestPostgres | undefined;
beforeAll(async () => {
  postgres = await startPostgres();
}, 120_000);
afterAll(async () => {
  await postgres?.stop();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const headerAuthenticator: Authenticator = {
  authenticate(req: IncomingMessage): AuthenticationResult {
    const name = req.headers['x-remote-user'];
    if (typeof name !== 'string') return { ok: false, message: 'no user' };
    return { ok: true, user: { name, groups: [], extra: {} } };
  },
};
const allowReads: Authorizer = {
  authorize: (a) =>
    Promise.resolve({ allowed: ['get', 'list', 'watch'].includes(a.verb), reason: '' }),
};

interface Replica {
  store: PostgresFindingStore;
  server: RunningServer;
  url: string;
  alive: boolean;
  stop(): Promise<void>;
}

async function replica(url: string): Promise<Replica> {
  const store = await PostgresFindingStore.open({ url });
  const api = createFindingsApiServer({
    store,
    authenticator: headerAuthenticator,
    authorizer: allowReads,
    controllerUsernames: [],
    deleterUsernames: [],
  });
  const server = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
  const r: Replica = {
    store,
    server,
    url: `http://127.0.0.1:${server.port}`,
    alive: true,
    async stop() {
      if (!r.alive) return;
      r.alive = false;
      api.close();
      await server.close();
      await store.close();
    },
  };
  cleanups.push(() => r.stop());
  return r;
}

function finding(name: string): StoredFinding {
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: {
      namespace: NS,
      name,
      labels: { [LABELS.severity]: 'HIGH', [LABELS.coveredResource]: 'image-a' },
    },
    status: { severity: 'HIGH', status: 'ACTIVE', title: name, description: 'd' },
  };
}

/** A watch over HTTP: the frames as they arrive. */
async function httpWatch(url: string, rv: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}${BASE}/namespaces/${NS}/findings?watch=1&resourceVersion=${rv}`, {
    headers: { 'X-Remote-User': 'reader' },
    signal: controller.signal,
  });
  const frames: { type: string; object: StoredFinding }[] = [];
  const arrived: number[] = [];
  const reading = (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          if (line.trim() === '') continue;
          frames.push(JSON.parse(line) as { type: string; object: StoredFinding });
          arrived.push(performance.now());
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    status: res.status,
    frames,
    arrived,
    async stop() {
      controller.abort();
      await reading;
    },
  };
}

describe('findings API replicas on PostgreSQL', () => {
  it('keeps serving reads and a watch on the other replicas while the lease holder stops', async () => {
    if (postgres === undefined) throw new Error('PostgreSQL did not start');
    const { url } = await postgres.createDatabase();
    const replicas = [await replica(url), await replica(url), await replica(url)];
    const [first, watched, second] = replicas as [Replica, Replica, Replica];
    const watch = await httpWatch(watched.url, '0');
    expect(watch.status).toBe(200);

    // Readers: lists spread over the live replicas (as the Service spreads them).
    const failures: string[] = [];
    let reads = 0;
    let reading = true;
    const readers = (async () => {
      for (let i = 0; reading; i++) {
        const live = replicas.filter((r) => r.alive);
        const target = live[i % live.length]!;
        try {
          const res = await fetch(`${target.url}${BASE}/namespaces/${NS}/findings?limit=50`, {
            headers: { 'X-Remote-User': 'reader' },
          });
          if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
          else await res.arrayBuffer();
          reads++;
        } catch (err) {
          if (target.alive) failures.push(String(err));
        }
      }
    })();

    // The lease holder writes; then it stops and another replica takes over the writes.
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      written.push((await first.store.create(finding(`a${i}`))).metadata.resourceVersion!);
    }
    const killedAt = performance.now();
    await first.stop();
    for (let i = 0; i < 30; i++) {
      written.push((await second.store.create(finding(`b${i}`))).metadata.resourceVersion!);
    }
    const deadline = Date.now() + 20_000;
    while (watch.frames.length < written.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    reading = false;
    await readers;
    await watch.stop();

    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(watch.frames.map((f) => `${f.type} ${f.object.metadata.resourceVersion}`)).toEqual(
      written.map((rv) => `ADDED ${rv}`),
    );
    // The longest pause between watch events across the stop (reported, not asserted).
    const gaps = watch.arrived.slice(1).map((t, i) => t - watch.arrived[i]!);
    const around = watch.arrived.findIndex((t) => t > killedAt);
    console.log(
      `replicas: ${reads} reads, ${failures.length} failed; watch events ${watch.frames.length}; longest gap between events ${Math.round(Math.max(...gaps))} ms, at the stop ${Math.round(gaps[around - 1] ?? 0)} ms`,
    );
  }, 120_000);
});
