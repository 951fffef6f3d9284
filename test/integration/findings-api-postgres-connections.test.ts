// The findings API on PostgreSQL through kube-apiserver's aggregation layer, one `kube-inspector
// controller` process with --findings-store=postgres (Debian's postgresql on loopback) and its
// connection URL in a Secret mounted as files. The database goes away and comes back: while it
// is away every findings request is answered 503 with a Status that says so (kubectl prints
// it), and when it is back the same process serves again, its live watch included, without a
// restart. The role's password is rotated as an operator does it (ALTER ROLE, then the Secret's
// `url` rewritten as the kubelet updates a mounted Secret): the process's new connections read
// the new file and log in with the new password, its change feed listens again, and the old
// password is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINDINGS_API_VERSION, LABELS } from '../../src/api/v1alpha1/common.ts';
import { PostgresFindingStore } from '../../src/findings-store/postgres.ts';
import type { StoredFinding } from '../../src/findings-store/store.ts';
import { ApiError } from '../../src/kube/client.ts';
import {
  mountSecret,
  startPostgres,
  type MountedSecret,
  type TestPostgres,
} from '../support/postgres.ts';
import {
  findingsGroup,
  findingsVersion,
  registerAggregatedApi,
  type AggregatedApi,
} from './findings-api-harness.ts';
import { eventually } from './helpers.ts';
import { type ProductEnvironment, freePort, startProductEnvironment } from './product.ts';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const SEEDED = 5;

interface Watched {
  events: { type: string; name: string; owner: string }[];
  ended: boolean;
  stop(): void;
}

/**
 * One watch through kube-apiserver (not resumed), once its answer has begun: what it receives,
 * and whether it ended.
 */
async function watchOnce(env: ProductEnvironment, path: string, rv: string): Promise<Watched> {
  const abort = new AbortController();
  const watched: Watched = { events: [], ended: false, stop: () => abort.abort() };
  const res = await env.client.raw('GET', path, {
    query: { watch: 'true', resourceVersion: rv },
    timeoutMs: 0,
    signal: abort.signal,
  });
  void (async () => {
    try {
      let buffer = '';
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const frame = JSON.parse(buffer.slice(0, i)) as {
            type: string;
            object: StoredFinding;
          };
          buffer = buffer.slice(i + 1);
          const spec = frame.object.spec as { attributes?: { owner?: string } } | undefined;
          watched.events.push({
            type: frame.type,
            name: frame.object.metadata?.name ?? '',
            owner: spec?.attributes?.owner ?? '',
          });
        }
      }
    } catch {
      // Aborted by the test, or the connection ended: `ended` tells.
    }
    watched.ended = true;
  })();
  return watched;
}

/** The error a request through kube-apiserver ends with, or undefined when it succeeds. */
async function failureOf(request: Promise<unknown>): Promise<ApiError | undefined> {
  try {
    await request;
    return undefined;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
}

/** Connections the role has open (`LISTEN` ones apart), as PostgreSQL sees them. */
async function connectionsOf(postgres: TestPostgres, role: string) {
  const rows = (
    await postgres.admin(
      `SELECT query FROM pg_stat_activity WHERE usename = '${role}' AND backend_type = 'client backend'`,
    )
  ).rows as { query: string }[];
  return { all: rows.length, listening: rows.filter((r) => /^LISTEN/i.test(r.query)).length };
}

describe('the findings API on PostgreSQL across a database outage and a password rotation', () => {
  let env: ProductEnvironment;
  let postgres: TestPostgres;
  let dir: string;
  let child: ChildProcess | undefined;
  const output: string[] = [];
  let registration: AggregatedApi | undefined;
  let database: Awaited<ReturnType<TestPostgres['createDatabase']>>;
  let secret: MountedSecret;
  let path: string;

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const logTail = () => output.join('').slice(-3000);

  beforeAll(async () => {
    env = await startProductEnvironment();
    postgres = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'ki-postgres-connections-'));
    database = await postgres.createDatabase();
    secret = mountSecret(join(dir, 'secret'), { url: `${database.url}\n` });
    const seed = await PostgresFindingStore.open({ url: database.url });
    await seed.batch(
      Array.from({ length: SEEDED }, (_, i) => ({
        op: 'create' as const,
        finding: {
          apiVersion: FINDINGS_API_VERSION,
          kind: 'Finding',
          metadata: {
            namespace: env.adminNamespace,
            name: `f${i}`,
            labels: { [LABELS.severity]: 'HIGH' },
          },
          status: { severity: 'HIGH', status: 'ACTIVE', title: `f${i}`, description: 'd' },
        },
      })),
    );
    await seed.close();

    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        main,
        'controller',
        '--metrics-bind-address=127.0.0.1:0',
        `--health-probe-bind-address=127.0.0.1:${await freePort()}`,
        '--findings-store=postgres',
        '--vulnerability-db=none',
        `--findings-postgres-url-file=${secret.path('url')}`,
        `--findings-api-bind-address=127.0.0.1:${port}`,
        `--tls-cert-file=${env.findings.serving.cert}`,
        `--tls-private-key-file=${env.findings.serving.key}`,
        '--findings-deleter=system:kube-controller-manager',
      ],
      {
        env: {
          PATH: process.env.PATH,
          KUBECONFIG: env.plane.kubeconfig,
          POD_NAMESPACE: env.adminNamespace,
          POD_NAME: 'controller-0',
        },
      },
    );
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    // The Service sends to the process while it lives, ready or not: its own answers are tested.
    env.endpoints.push({ port, ready: () => Promise.resolve(alive()) });
    registration = await registerAggregatedApi(env.client, {
      group: findingsGroup,
      version: findingsVersion,
      service: env.findings.service,
      port: env.findings.port,
      caBundle: env.findings.serving.caBundle,
    });
    path = `/apis/${findingsGroup}/${findingsVersion}/namespaces/${env.adminNamespace}/findings`;
    await eventually(
      'the findings listed through kube-apiserver',
      async () => {
        if (!alive()) throw new Error(`the controller exited:\n${logTail()}`);
        const l = await env.client
          .request<{ items: unknown[] }>('GET', path)
          .catch(() => undefined);
        return l?.items.length === SEEDED ? true : undefined;
      },
      180_000,
    );
  }, 400_000);

  afterAll(async () => {
    await registration?.unregister();
    if (child !== undefined && alive()) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await env?.stop();
    await postgres?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const patchOwner = (name: string, owner: string) =>
    env.client.request<StoredFinding>('PATCH', `${path}/${name}`, {
      body: { spec: { attributes: { owner } } },
      contentType: 'application/merge-patch+json',
      timeoutMs: 10_000,
    });

  it('answers 503 with a Status while the database is away and serves again when it is back, without a restart', async () => {
    const pid = child!.pid;
    const listed = await env.client.request<{ metadata: { resourceVersion: string } }>('GET', path);
    const watch = await watchOnce(env, path, listed.metadata.resourceVersion);
    try {
      // The watch is live: it receives a change made before the outage.
      await patchOwner('f1', 'before-outage');
      await eventually('the watch to see the patch before the outage', () =>
        Promise.resolve(
          watch.events.some((e) => e.name === 'f1' && e.owner === 'before-outage')
            ? true
            : undefined,
        ),
      );
      await postgres.down();
      // Each kind of read through kube-apiserver: a list, a get, a first page.
      for (const read of [
        () => env.client.request('GET', path, { timeoutMs: 30_000 }),
        () => env.client.request('GET', `${path}/f0`, { timeoutMs: 30_000 }),
        () => env.client.request('GET', path, { query: { limit: 2 }, timeoutMs: 30_000 }),
      ]) {
        const failed = await failureOf(read());
        expect(failed?.status).toBe(503);
        expect(failed?.body).toMatchObject({
          kind: 'Status',
          status: 'Failure',
          reason: 'ServiceUnavailable',
          code: 503,
        });
        expect(failed?.body?.message).toMatch(/findings database cannot be reached/);
        expect(failed?.retryAfterSeconds).toBeGreaterThan(0);
      }
      // What a person sees.
      const kubectl = await env
        .kubectl('get', `findings.${findingsGroup}`, '-n', env.adminNamespace)
        .then(
          () => '',
          (err: unknown) => String((err as Error).message),
        );
      expect(kubectl).toMatch(/ServiceUnavailable|findings database cannot be reached/);
      const write = await failureOf(patchOwner('f1', 'during-outage'));
      expect(write?.status).toBe(503);

      await postgres.up();
      const back = await eventually(
        'reads answered again',
        async () => {
          if (!alive()) throw new Error(`the controller exited:\n${logTail()}`);
          return (await env.client.request<{ items: StoredFinding[] }>('GET', path)).items;
        },
        60_000,
        250,
      );
      expect(back.map((f) => f.metadata.name).sort()).toEqual(
        Array.from({ length: SEEDED }, (_, i) => `f${i}`),
      );
      // The same process, never restarted; it writes again, and its live watch carries on.
      expect(alive()).toBe(true);
      expect(child!.pid).toBe(pid);
      await patchOwner('f1', 'after-outage');
      await eventually('the watch to see the patch after the outage', () =>
        Promise.resolve(
          watch.events.some((e) => e.name === 'f1' && e.owner === 'after-outage')
            ? true
            : undefined,
        ),
      );
      expect(watch.events.filter((e) => e.owner === 'during-outage')).toEqual([]);
      expect(watch.ended).toBe(false);
    } finally {
      watch.stop();
      await postgres.up();
    }
  }, 300_000);

  it('logs in with the password of the rewritten Secret file; the old password is refused', async () => {
    const pid = child!.pid;
    const oldUrl = database.url;
    const newPassword = `rotated-${Math.random().toString(36).slice(2)}`;
    const newUrl = new URL(oldUrl);
    newUrl.password = newPassword;
    const listed = await env.client.request<{ metadata: { resourceVersion: string } }>('GET', path);
    const watch = await watchOnce(env, path, listed.metadata.resourceVersion);
    try {
      // The operator's first step: the role's password. Every connection the process had open
      // is then ended (as a database restart or an idle timeout would), so each one it uses from
      // now on is new and logs in again: with the Secret not yet updated, with the old password.
      await postgres.admin(`ALTER ROLE ${database.role} PASSWORD '${newPassword}'`);
      await postgres.admin(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${database.role}'`,
      );
      const between = await failureOf(env.client.request('GET', path, { timeoutMs: 30_000 }));
      expect(between?.status).toBe(503);
      expect(between?.body?.message).toMatch(
        /refused this replica's login \(password authentication failed\)/,
      );
      // The second step: the Secret's url, rewritten in the volume as the kubelet does.
      secret.update({ url: `${newUrl.href}\n` });
      const items = await eventually(
        'reads answered on new connections',
        async () => (await env.client.request<{ items: StoredFinding[] }>('GET', path)).items,
        60_000,
        250,
      );
      expect(items).toHaveLength(SEEDED);
      await patchOwner('f2', 'after-rotation');
      await eventually('the watch to see the patch after the rotation', () =>
        Promise.resolve(
          watch.events.some((e) => e.name === 'f2' && e.owner === 'after-rotation')
            ? true
            : undefined,
        ),
      );
      // The change feed listens again, on a connection made with the new password.
      await eventually(
        'the change feed listening again',
        async () =>
          (await connectionsOf(postgres, database.role)).listening > 0 ? true : undefined,
        30_000,
      );
      expect((await connectionsOf(postgres, database.role)).all).toBeGreaterThan(0);
      expect(alive()).toBe(true);
      expect(child!.pid).toBe(pid);

      const old = new pg.Client({ connectionString: oldUrl });
      await expect(old.connect()).rejects.toThrow(/password authentication failed/);
      await old.end().catch(() => undefined);
      const fresh = new pg.Client({ connectionString: newUrl.href });
      await fresh.connect();
      await fresh.end();
    } finally {
      watch.stop();
    }
  }, 300_000);
});
