// Failover of the findings API on PostgreSQL, through kube-apiserver's aggregation layer: three
// `kube-inspector controller` processes with --findings-store=postgres on one database (Debian's
// postgresql on loopback), each serving the findings API behind the environment's Service (a TCP
// relay that sends each new connection to a live process, as kube-proxy does to ready pods). The
// lease holder is the one the Service sends to; it is killed (SIGKILL) while a person's patches
// go through kube-apiserver every 100 ms, a reader lists every 100 ms and a watch follows the
// findings. Reads and the watch carry on through the other processes: the watch resumes from its
// last resourceVersion and sees every acknowledged patch, in order. The longest gaps are printed.
// Under the same load, a rolling upgrade as a Deployment with maxSurge 1 and maxUnavailable 0 does
// it (a new process started and ready, then an old one ended with SIGTERM, three times) fails no
// read; and the database stopped for 3 s and started again under three replicas answers 503
// meanwhile, then serves again, with nothing acknowledged lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINDINGS_API_VERSION, LABELS } from '../../src/api/v1alpha1/common.ts';
import { PostgresFindingStore } from '../../src/findings-store/postgres.ts';
import type { StoredFinding } from '../../src/findings-store/store.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { findingsGroup, findingsVersion, registerAggregatedApi } from './findings-api-harness.ts';
import { eventually } from './helpers.ts';
import { type ProductEnvironment, freePort, startProductEnvironment } from './product.ts';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const PATCHED = 20;

interface Replica {
  name: string;
  port: number;
  probes: number;
  child: ChildProcess;
  output: string[];
  alive(): boolean;
}

/** Whether something accepts connections on a port of 127.0.0.1. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether a replica is alive and its /readyz answers 200 (what the kubelet's probe asks). */
async function ready(r: Replica): Promise<boolean> {
  if (!r.alive()) return false;
  const res = await fetch(`http://127.0.0.1:${r.probes}/readyz`).catch(() => undefined);
  return res?.ok === true;
}

/** A watch through kube-apiserver that resumes from its last resourceVersion when it ends. */
function followingWatch(env: ProductEnvironment, path: string, from: string) {
  let stopped = false;
  let rv = from;
  const events: { type: string; rv: string; name: string; owner: string; at: number }[] = [];
  let restarts = 0;
  const abort = new AbortController();
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await env.client.raw('GET', path, {
          query: { watch: 'true', resourceVersion: rv, allowWatchBookmarks: 'true' },
          timeoutMs: 0,
          signal: abort.signal,
        });
        let buffer = '';
        const decoder = new TextDecoder();
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
            const frame = JSON.parse(buffer.slice(0, i)) as { type: string; object: StoredFinding };
            buffer = buffer.slice(i + 1);
            if (frame.type === 'ERROR') throw new Error(JSON.stringify(frame.object));
            rv = frame.object.metadata.resourceVersion ?? rv;
            if (frame.type === 'BOOKMARK') continue;
            const spec = frame.object.spec as { attributes?: { owner?: string } } | undefined;
            events.push({
              type: frame.type,
              rv,
              name: frame.object.metadata.name ?? '',
              owner: spec?.attributes?.owner ?? '',
              at: performance.now(),
            });
          }
        }
      } catch {
        // The connection or the watch ended (the replica behind it died): watch again.
      }
      if (stopped) break;
      restarts++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    events,
    restarts: () => restarts,
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
    },
  };
}

/** Something done every `intervalMs`; the longest stretch from a failure to the next success. */
/**
 * The findings API registered with kube-apiserver, then traffic through it until stopped: a
 * watch that resumes from its last resourceVersion, a patch of one of the findings and a list
 * every 100 ms. `onRead` runs after each answered list.
 */
async function startTraffic(
  env: ProductEnvironment,
  path: string,
  options: { onRead?: () => void; writesTimeoutMs?: number } = {},
) {
  const registration = await registerAggregatedApi(env.client, {
    group: findingsGroup,
    version: findingsVersion,
    service: env.findings.service,
    port: env.findings.port,
    caBundle: env.findings.serving.caBundle,
  });
  try {
    const listed = await eventually('findings listed through kube-apiserver', async () => {
      const l = await env.client
        .request<{ items: unknown[]; metadata: { resourceVersion: string } }>('GET', path)
        .catch(() => undefined);
      return l?.items.length === PATCHED ? l : undefined;
    });
    const watch = followingWatch(env, path, listed.metadata.resourceVersion);
    const acknowledged: { rv: string; name: string; owner: string; i: number }[] = [];
    const writer = everyInterval(100, async (i) => {
      const name = `f${i % PATCHED}`;
      const owner = `team-${i}`;
      const f = await env.client.request<StoredFinding>('PATCH', `${path}/${name}`, {
        body: { spec: { attributes: { owner } } },
        contentType: 'application/merge-patch+json',
        timeoutMs: 5_000,
      });
      acknowledged.push({ rv: f.metadata.resourceVersion!, name, owner, i });
    });
    const reader = everyInterval(100, async () => {
      await env.client.request('GET', path, { query: { limit: 5 }, timeoutMs: 5_000 });
      options.onRead?.();
    });
    const writesSoFar = (n: number) =>
      eventually(
        `${n} writes`,
        () => Promise.resolve(acknowledged.length >= n ? true : undefined),
        options.writesTimeoutMs ?? 120_000,
      );
    return { registration, watch, acknowledged, writer, reader, writesSoFar };
  } catch (err) {
    await registration.unregister();
    throw err;
  }
}

function everyInterval(intervalMs: number, fn: (i: number) => Promise<void>) {
  let stopped = false;
  let failingSince: number | undefined;
  let longest = 0;
  let failures = 0;
  let done = 0;
  const errors: string[] = [];
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const at = performance.now();
      try {
        await fn(i);
        done++;
        if (failingSince !== undefined)
          longest = Math.max(longest, performance.now() - failingSince);
        failingSince = undefined;
      } catch (err) {
        failures++;
        errors.push(String(err).slice(0, 300));
        failingSince ??= at;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      if (failingSince !== undefined) longest = Math.max(longest, performance.now() - failingSince);
      return { longest, failures, done, errors };
    },
  };
}

describe('the findings API on PostgreSQL across a killed leader, a rolling upgrade and a database restart', () => {
  let env: ProductEnvironment;
  let postgres: TestPostgres;
  let dir: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    env = await startProductEnvironment();
    postgres = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'ki-postgres-failover-'));
  }, 300_000);

  afterAll(async () => {
    for (const r of replicas) await terminate(r);
    await env?.stop();
    await postgres?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A new database with PATCHED findings (as the controllers would have written them); its URL file. */
  const seededDatabase = async (file: string): Promise<string> => {
    const db = await postgres.createDatabase();
    const urlFile = join(dir, file);
    writeFileSync(urlFile, `${db.url}\n`);
    const seed = await PostgresFindingStore.open({ url: db.url });
    await seed.batch(
      Array.from({ length: PATCHED }, (_, i) => ({
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
    return urlFile;
  };

  /** SIGTERM, as the kubelet ends a pod; resolves once the process has exited. */
  const terminate = async (r: Replica): Promise<void> => {
    if (!r.alive()) return;
    const exited = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGTERM');
    await exited;
  };

  const start = async (name: string, urlFile: string): Promise<Replica> => {
    const port = await freePort();
    const probes = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        main,
        'controller',
        '--metrics-bind-address=127.0.0.1:0',
        `--health-probe-bind-address=127.0.0.1:${probes}`,
        '--findings-store=postgres',
        '--vulnerability-db=none',
        `--findings-postgres-url-file=${urlFile}`,
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
          POD_NAME: name,
        },
      },
    );
    const output: string[] = [];
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    const r: Replica = {
      name,
      port,
      probes,
      child,
      output,
      alive: () => child.exitCode === null && child.signalCode === null,
    };
    replicas.push(r);
    return r;
  };

  it('keeps reads, writes through any replica and a watch going while the leader is killed', async () => {
    const urlFile = await seededDatabase('url');
    const ns = env.adminNamespace;

    for (const name of ['replica-0', 'replica-1', 'replica-2']) await start(name, urlFile);
    // Each serves once its store is open; the Service sends to the first live one in order.
    const path = `/apis/${findingsGroup}/${findingsVersion}/namespaces/${ns}/findings`;
    for (const r of replicas)
      await eventually(
        `${r.name} serving`,
        async () => {
          if (!r.alive()) throw new Error(`${r.name} exited:\n${r.output.join('').slice(-3000)}`);
          return (await listening(r.port)) ? true : undefined;
        },
        120_000,
        200,
      );
    const lease = await eventually(
      'a lease holder',
      async () => {
        const l = await env.client
          .request<{ spec?: { holderIdentity?: string } }>(
            'GET',
            `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/kube-inspector-controller`,
          )
          .catch(() => undefined);
        return l?.spec?.holderIdentity;
      },
      120_000,
    );
    const leader = replicas.find((r) => lease.startsWith(`${r.name}_`))!;
    expect(leader).toBeDefined();
    // The Service's endpoints, the leader first: it is the one the aggregation layer reaches.
    for (const r of [leader, ...replicas.filter((x) => x !== leader)])
      env.endpoints.push({ port: r.port, ready: () => Promise.resolve(r.alive()) });
    const { registration, watch, acknowledged, writer, reader } = await startTraffic(env, path);
    try {
      await eventually('writes before the kill', () =>
        Promise.resolve(acknowledged.length >= 20 ? true : undefined),
      );
      const killedAt = performance.now();
      leader.child.kill('SIGKILL');
      await eventually('the leader gone', () => Promise.resolve(leader.alive() ? undefined : true));
      const before = acknowledged.length;
      await eventually(
        'writes after the kill',
        () => Promise.resolve(acknowledged.length >= before + 40 ? true : undefined),
        60_000,
      );
      const writes = await writer.stop();
      const reads = await reader.stop();
      const last = acknowledged.at(-1)!;
      await eventually('the watch to reach the last patch', () =>
        Promise.resolve(watch.events.some((e) => e.rv === last.rv) ? true : undefined),
      );
      await watch.stop();

      // Every acknowledged patch reached the watch, once, in resourceVersion order. A patch in
      // flight at the kill may have committed without its answer: the watch may show it too.
      const seen = watch.events.map((e) => `${e.rv} ${e.name} ${e.owner}`);
      const rvs = watch.events.map((e) => Number(e.rv));
      expect(rvs).toEqual([...new Set(rvs)].sort((x, y) => x - y));
      const shown = new Set(seen);
      expect(acknowledged.filter((a) => !shown.has(`${a.rv} ${a.name} ${a.owner}`))).toEqual([]);
      expect(seen.length - acknowledged.length).toBeLessThanOrEqual(writes.failures);
      expect(watch.events.every((e) => e.type === 'MODIFIED')).toBe(true);
      expect(reads.done).toBeGreaterThan(0);
      const after = watch.events.filter((e) => e.at > killedAt);
      const gaps = watch.events.slice(1).map((e, i) => e.at - watch.events[i]!.at);
      const acrossKill =
        after.length > 0
          ? after[0]!.at - (watch.events.filter((e) => e.at <= killedAt).at(-1)?.at ?? killedAt)
          : 0;
      console.log(
        `postgres failover through kube-apiserver: reads ${reads.done} ok, ${reads.failures} failed, longest read gap ${Math.round(reads.longest)} ms; ` +
          `patches ${writes.done} ok, ${writes.failures} failed, longest write gap ${Math.round(writes.longest)} ms; ` +
          `watch ${watch.events.length} events, ${watch.restarts()} re-watches, longest gap between events ${Math.round(Math.max(...gaps))} ms, across the kill ${Math.round(acrossKill)} ms`,
      );
      // Another process keeps the API available: far less than the Lease's 15 s.
      expect(reads.longest).toBeLessThan(10_000);
    } finally {
      await registration.unregister();
    }
  }, 300_000);

  it('keeps every read answered and a watch complete through a rolling upgrade of three replicas', async () => {
    // What the first case left behind does not serve here: its processes end, the Service empties.
    for (const r of replicas) await terminate(r);
    env.endpoints.splice(0);
    const urlFile = await seededDatabase('url-rolling');
    const ns = env.adminNamespace;
    const path = `/apis/${findingsGroup}/${findingsVersion}/namespaces/${ns}/findings`;
    const untilReady = (r: Replica) =>
      eventually(
        `${r.name} ready`,
        async () => {
          if (!r.alive()) throw new Error(`${r.name} exited:\n${r.output.join('').slice(-3000)}`);
          return (await ready(r)) ? true : undefined;
        },
        120_000,
        100,
      );
    // The Service's endpoints are the ready pods: a terminating pod is not ready (its /readyz
    // turns red on SIGTERM), so new connections go to the others.
    const serve = (r: Replica) => env.endpoints.push({ port: r.port, ready: () => ready(r) });
    const old: Replica[] = [];
    for (const name of ['old-0', 'old-1', 'old-2']) old.push(await start(name, urlFile));
    for (const r of old) {
      await untilReady(r);
      serve(r);
    }
    const { registration, watch, acknowledged, writer, reader, writesSoFar } = await startTraffic(
      env,
      path,
      { writesTimeoutMs: 60_000 },
    );
    try {
      await writesSoFar(20);
      // maxSurge 1, maxUnavailable 0: a new pod, ready, then an old one terminated and gone.
      const began = performance.now();
      const steps: string[] = [];
      for (let i = 0; i < old.length; i++) {
        const t0 = performance.now();
        const fresh = await start(`new-${i}`, urlFile);
        await untilReady(fresh);
        serve(fresh);
        const t1 = performance.now();
        await terminate(old[i]!);
        env.endpoints.splice(
          env.endpoints.findIndex((e) => e.port === old[i]!.port),
          1,
        );
        steps.push(
          `new-${i} ready in ${Math.round(t1 - t0)} ms, old-${i} ended in ${Math.round(performance.now() - t1)} ms`,
        );
      }
      const rolled = performance.now() - began;
      await writesSoFar(acknowledged.length + 20);
      const writes = await writer.stop();
      const reads = await reader.stop();
      const last = acknowledged.at(-1)!;
      await eventually('the watch to reach the last patch', () =>
        Promise.resolve(watch.events.some((e) => e.rv === last.rv) ? true : undefined),
      );
      await watch.stop();

      const seen = watch.events.map((e) => `${e.rv} ${e.name} ${e.owner}`);
      const rvs = watch.events.map((e) => Number(e.rv));
      expect(rvs).toEqual([...new Set(rvs)].sort((x, y) => x - y));
      const shown = new Set(seen);
      expect(acknowledged.filter((a) => !shown.has(`${a.rv} ${a.name} ${a.owner}`))).toEqual([]);
      expect(seen.length - acknowledged.length).toBeLessThanOrEqual(writes.failures);
      expect(watch.events.every((e) => e.type === 'MODIFIED')).toBe(true);
      const gaps = watch.events.slice(1).map((e, i) => e.at - watch.events[i]!.at);
      console.log(
        `postgres rolling upgrade through kube-apiserver (${Math.round(rolled)} ms; ${steps.join('; ')}): ` +
          `reads ${reads.done} ok, ${reads.failures} failed, longest read gap ${Math.round(reads.longest)} ms; ` +
          `patches ${writes.done} ok, ${writes.failures} failed, longest write gap ${Math.round(writes.longest)} ms; ` +
          `watch ${watch.events.length} events, ${watch.restarts()} re-watches, longest gap between events ${Math.round(Math.max(...gaps))} ms`,
      );
      // A ready server at every moment: not one read failed.
      expect(reads.errors).toEqual([]);
      expect(reads.done).toBeGreaterThan(0);
    } finally {
      await registration.unregister();
    }
  }, 400_000);

  it('answers 503 while the database is down and loses nothing acknowledged when it is back', async () => {
    for (const r of replicas) await terminate(r);
    env.endpoints.splice(0);
    const urlFile = await seededDatabase('url-restart');
    const ns = env.adminNamespace;
    const path = `/apis/${findingsGroup}/${findingsVersion}/namespaces/${ns}/findings`;
    const three: Replica[] = [];
    for (const name of ['db-0', 'db-1', 'db-2']) three.push(await start(name, urlFile));
    for (const r of three) {
      await eventually(
        `${r.name} ready`,
        async () => {
          if (!r.alive()) throw new Error(`${r.name} exited:\n${r.output.join('').slice(-3000)}`);
          return (await ready(r)) ? true : undefined;
        },
        120_000,
        100,
      );
      // Alive, not ready: while the database is away every replica's /readyz may be red, and a
      // Service with no ready endpoint is what the aggregation layer answers 503 for as well.
      env.endpoints.push({ port: r.port, ready: () => Promise.resolve(r.alive()) });
    }
    let readsAfter = 0;
    let back = false;
    const { registration, watch, acknowledged, writer, reader, writesSoFar } = await startTraffic(
      env,
      path,
      {
        onRead: () => {
          if (back) readsAfter++;
        },
      },
    );
    try {
      await writesSoFar(20);
      const before = acknowledged.length;
      const downAt = performance.now();
      await postgres.restart(3_000);
      back = true;
      const upAt = performance.now();
      await writesSoFar(before + 20);
      const firstWriteAfter = performance.now() - upAt;
      const writes = await writer.stop();
      const reads = await reader.stop();
      const last = acknowledged.at(-1)!;
      await eventually('the watch to reach the last patch', () =>
        Promise.resolve(watch.events.some((e) => e.rv === last.rv) ? true : undefined),
      );
      await watch.stop();

      // While the database was away reads were answered 503 (nothing else), then again 200.
      expect(reads.errors.filter((e) => !/\b503\b/.test(e))).toEqual([]);
      expect(readsAfter).toBeGreaterThan(0);
      // Every acknowledged patch is in the database and reached the watch, in order.
      const seen = watch.events.map((e) => `${e.rv} ${e.name} ${e.owner}`);
      const rvs = watch.events.map((e) => Number(e.rv));
      expect(rvs).toEqual([...new Set(rvs)].sort((x, y) => x - y));
      const shown = new Set(seen);
      expect(acknowledged.filter((a) => !shown.has(`${a.rv} ${a.name} ${a.owner}`))).toEqual([]);
      const now = await env.client.request<{ items: StoredFinding[] }>('GET', path);
      const owners = new Map(
        now.items.map((f) => [
          f.metadata.name,
          Number(
            ((f.spec as { attributes?: { owner?: string } }).attributes?.owner ?? '-1').slice(5),
          ),
        ]),
      );
      // A finding's owner is its last acknowledged patch's, or a later one whose answer was lost.
      const lastPerName = new Map(acknowledged.map((a) => [a.name, a.i]));
      expect([...lastPerName].filter(([name, i]) => (owners.get(name) ?? -1) < i)).toEqual([]);
      const gaps = watch.events.slice(1).map((e, i) => e.at - watch.events[i]!.at);
      console.log(
        `postgres restart under load through kube-apiserver (down ${Math.round(upAt - downAt)} ms incl. stop and start; first 20 patches after it in ${Math.round(firstWriteAfter)} ms): ` +
          `reads ${reads.done} ok, ${reads.failures} failed (503), longest read gap ${Math.round(reads.longest)} ms; ` +
          `patches ${writes.done} ok, ${writes.failures} failed, longest write gap ${Math.round(writes.longest)} ms; ` +
          `watch ${watch.events.length} events, ${watch.restarts()} re-watches, longest gap between events ${Math.round(Math.max(...gaps))} ms`,
      );
    } finally {
      await registration.unregister();
    }
  }, 400_000);
});
