// `kube-inspector controller` as a real process against a real control plane with the CRDs:
// the vulnerability database it is given shows in /metrics, a database it cannot reach is
// counted as an error without stopping it, bad flags stop it at once, and two replicas fail
// over through the Lease.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SETUPS } from '../../src/controllers/index.ts';
import { loadLocal } from '../../src/vulndb/loader.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  findingsProcessFlags,
  startProductEnvironment,
} from './product.ts';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const osv = new URL('../../src/vulndb/testdata/osv', import.meta.url).pathname;

interface Running {
  child: ChildProcessWithoutNullStreams;
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<number | null>;
}

function startControllerProcess(
  env: ProductEnvironment,
  args: string[],
  o: { leaderElect?: boolean; podName?: string } = {},
): Running {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      main,
      'controller',
      `--kubeconfig=${env.plane.kubeconfig}`,
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
      ...(o.leaderElect ? [] : ['--leader-elect=false']),
      // The findings API on a free port, the environment's store and serving certificate.
      ...findingsProcessFlags(env, 0),
      // No database unless the test gives one: the default, the OSV project's exports, is
      // not reachable from the tests.
      ...(args.some((a) => a.startsWith('--vulnerability-db=')) ? [] : ['--vulnerability-db=none']),
      ...args,
    ],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...(o.podName !== undefined ? { POD_NAME: o.podName } : {}),
      },
    },
  );
  const running: Running = {
    child,
    logs: [],
    stderr: [],
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        running.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        running.stderr.push(`stdout: ${line}`);
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => running.stderr.push(chunk.toString()));
  return running;
}

async function metricsOf(running: Running): Promise<{ text: string; probes: number }> {
  const ports = await eventually(
    'the controller to listen',
    () =>
      Promise.resolve(
        running.logs.find((l) => typeof l.metricsPort === 'number') as
          { metricsPort: number; probePort: number } | undefined,
      ),
    60_000,
  );
  const res = await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`);
  return { text: await res.text(), probes: ports.probePort };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** SIGTERM, then the exit code; a failure shows the process's warnings and errors. */
async function stop(running: Running): Promise<number | null> {
  running.child.kill('SIGTERM');
  const code = await running.exited;
  if (code !== 0)
    console.error(
      'the controller exited with %s; its warnings and errors:\n%s',
      code,
      running.logs
        .filter((l) => Number(l.level) >= 40)
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
  return code;
}

describe('kube-inspector controller as a process', { timeout: 180_000 }, () => {
  let env: ProductEnvironment;
  beforeAll(async () => {
    env = await startProductEnvironment();
  }, 120_000);
  afterAll(async () => {
    await env?.stop();
  });

  it('loads a database directory and reports it in /metrics, then stops cleanly on SIGTERM', async () => {
    const expected = await loadLocal(osv);
    const scratch = mkdtempSync(join(tmpdir(), 'ki-scan-cache-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const cache = join(scratch, 'layers');
    const running = startControllerProcess(env, [
      `--vulnerability-db=${osv}`,
      `--vulnerability-db-dir=${join(scratch, 'vulndb')}`,
      '--vulnerability-db-refresh=10m',
      '--scan-concurrency=2',
      `--scan-cache-dir=${cache}`,
      `--admin-namespace=${env.adminNamespace}`,
    ]);
    try {
      const loaded = await eventually(
        'the database to be loaded',
        async () => {
          const { text } = await metricsOf(running);
          return sample(text, 'kubeinspector_vulndb_loaded') === 1 ? text : undefined;
        },
        90_000,
      );
      expect(sample(loaded, 'kubeinspector_vulndb_advisories')).toBe(expected.size);
      expect(expected.size).toBeGreaterThan(10);
      expect(sample(loaded, 'kubeinspector_vulndb_refreshes_total{result="loaded"}')).toBe(1);
      expect(sample(loaded, 'kubeinspector_vulndb_refreshes_total{result="error"}')).toBe(0);
      expect(sample(loaded, 'kubeinspector_vulndb_modified_timestamp_seconds')).toBe(
        Date.parse(expected.stats.newestModified!) / 1000,
      );
      const lastSuccess = sample(
        loaded,
        'kubeinspector_vulndb_last_refresh_success_timestamp_seconds',
      )!;
      expect(Math.abs(Date.now() / 1000 - lastSuccess)).toBeLessThan(120);
      const log = running.logs.find((l) => l.msg === 'vulnerability database loaded');
      expect(log).toMatchObject({ advisories: expected.size, source: osv });
      // Every registered area set up its controllers in the process.
      const controllers = new Set(
        [
          ...loaded.matchAll(
            /^controller_runtime_max_concurrent_reconciles\{controller="([^"]+)"\}/gm,
          ),
        ].map((m) => m[1]),
      );
      expect(controllers.size).toBeGreaterThanOrEqual(SETUPS.length);
      expect(existsSync(cache)).toBe(true);
    } finally {
      expect(await stop(running)).toBe(0);
    }
    expect(running.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('keeps running with no database when the URL cannot be reached, and counts the error', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/osv/all.zip`;
    const scratch = mkdtempSync(join(tmpdir(), 'ki-vulndb-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const running = startControllerProcess(env, [
      `--vulnerability-db=${url}`,
      `--vulnerability-db-dir=${scratch}`,
    ]);
    try {
      const { text, probes } = await eventually(
        'the failed load to be counted',
        async () => {
          const m = await metricsOf(running);
          return sample(m.text, 'kubeinspector_vulndb_refreshes_total{result="error"}') === 1
            ? m
            : undefined;
        },
        90_000,
      );
      expect(sample(text, 'kubeinspector_vulndb_loaded')).toBe(0);
      expect(sample(text, 'kubeinspector_vulndb_advisories')).toBe(0);
      expect(sample(text, 'kubeinspector_vulndb_refreshes_total{result="loaded"}')).toBe(0);
      const failure = running.logs.find(
        (l) => l.msg === 'vulnerability database refresh failed; keeping the last good database',
      );
      expect(failure).toMatchObject({ source: url, consecutiveFailures: 1 });
      // Still alive and ready: the controllers run without a database.
      const ready = await eventually('readiness', async () => {
        const res = await fetch(`http://127.0.0.1:${probes}/readyz`);
        return res.ok ? res.status : undefined;
      });
      expect(ready).toBe(200);
      expect(running.child.exitCode).toBeNull();
    } finally {
      expect(await stop(running)).toBe(0);
    }
  });

  it('refuses a bad flag before connecting, with exit code 2 and the flag named', async () => {
    const running = startControllerProcess(env, ['--insecure-registry=https://r.local:5000']);
    expect(await running.exited).toBe(2);
    expect(running.stderr.join('')).toContain(
      'kube-inspector controller: --insecure-registry must be HOST or HOST:PORT',
    );
  });

  it('refuses a scan cache directory it cannot create, naming the flag', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'ki-not-a-dir-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const file = join(scratch, 'file');
    writeFileSync(file, 'x');
    const running = startControllerProcess(env, [`--scan-cache-dir=${join(file, 'cache')}`]);
    expect(await running.exited).toBe(2);
    expect(running.stderr.join('')).toMatch(/--scan-cache-dir .*file\/cache: ENOTDIR/);
  });

  it('runs as two replicas: one leads, the other takes over when the leader is killed', async () => {
    const ns = 'leader-election';
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const start = (name: string) =>
      startControllerProcess(env, [`--leader-election-namespace=${ns}`], {
        leaderElect: true,
        podName: name,
      });
    /** When the replica became leader (its log's time), or 0. */
    const leadingAt = (r: Running): number =>
      (r.logs.find((l) => String(l.msg).startsWith('became leader'))?.time as number | undefined) ??
      0;
    const a = start('replica-a');
    const b = start('replica-b');
    try {
      const first = await eventually(
        'one replica to lead',
        () => Promise.resolve(leadingAt(a) ? a : leadingAt(b) ? b : undefined),
        90_000,
      );
      const other = first === a ? b : a;
      // Only one leads while both run.
      await new Promise((r) => setTimeout(r, 3000));
      expect(leadingAt(other)).toBe(0);

      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await eventually(
        'the other replica to take over',
        () => Promise.resolve(leadingAt(other) || undefined),
        45_000,
      );
      const gapSeconds = (leadingAt(other) - killedAt) / 1000;
      console.log(`leader failover after SIGKILL: ${gapSeconds.toFixed(1)} s`);
      // The lease lasts 15 s and candidates retry every 2 s (jittered up to 2.4 s): well under 30 s.
      expect(gapSeconds).toBeLessThan(30);
      const holder = await env.kubectl(
        'get',
        'lease',
        '-n',
        ns,
        'kube-inspector-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      );
      expect(holder).toMatch(other === a ? /^replica-a_/ : /^replica-b_/);
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
  });
});
