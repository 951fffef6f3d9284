// The node agent as a process (`kube-inspector agent`) against a real control plane, with the
// token the kubelet would give its pod (TokenRequest bound to a Pod on the node), reading a
// Debian 12 root filesystem made by debootstrap: it writes its node's NodeInventory with what
// dpkg-query lists, writes nothing while nothing changes, collects again when the
// ScanConfiguration changes its limits or custom paths, and stops cleanly on SIGTERM.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInventory } from '../../src/api/v1alpha1/node-inventory.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import {
  agentToken,
  applyAgentManifests,
  debootstrapRootfs,
  nodeWithAgentPod,
  root,
  writeTokenKubeConfig,
} from './agent-support.ts';
import { eventually } from './helpers.ts';
import { type ProductEnvironment, startProductEnvironment } from './product.ts';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

class AgentProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(root, 'src/cli/main.ts'), 'agent', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let buf = '';
    this.child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ level: 0, msg: line });
        }
      }
    });
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }
}

function installedPackages(rootfs: string): string[] {
  return execFileSync(
    'dpkg-query',
    [
      `--admindir=${join(rootfs, 'var/lib/dpkg')}`,
      '-W',
      '-f',
      '${db:Status-Status} ${Package} ${Version}\\n',
    ],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter((l) => l.startsWith('installed '))
    .map((l) => l.slice('installed '.length))
    .sort();
}

describe('kube-inspector agent', () => {
  let env: ProductEnvironment;
  let rootfs: string;
  let work: string;
  let kubeconfig: string;
  const started: AgentProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'agent-it-'));
    const t0 = Date.now();
    try {
      rootfs = await debootstrapRootfs();
    } catch (err) {
      // No Debian mirror reachable: the committed dpkg status of a Debian 12 system instead.
      console.warn(`debootstrap rootfs unavailable, using the dpkg fixture: ${String(err)}`);
      rootfs = join(work, 'rootfs');
      const fixtures = join(root, 'test/fixtures/images/dpkg');
      mkdirSync(join(rootfs, 'var/lib/dpkg'), { recursive: true });
      mkdirSync(join(rootfs, 'usr/lib'), { recursive: true });
      copyFileSync(join(fixtures, 'status'), join(rootfs, 'var/lib/dpkg/status'));
      copyFileSync(join(fixtures, 'os-release'), join(rootfs, 'usr/lib/os-release'));
    }
    console.info(`rootfs ready in ${Math.round((Date.now() - t0) / 1000)} s: ${rootfs}`);
    env = await startProductEnvironment();
    await applyAgentManifests(env);
    const uid = await nodeWithAgentPod(env, 'n1');
    kubeconfig = await writeTokenKubeConfig(
      env,
      await agentToken(env, { name: 'agent-n1', uid }),
      join(work, 'agent.kubeconfig'),
    );
  }, 900_000);

  afterAll(async () => {
    for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await env?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const inventory = async (): Promise<NodeInventory | undefined> => {
    const out = await env.kubectl('get', 'nodeinventories', '-o', 'json');
    return (JSON.parse(out) as { items: NodeInventory[] }).items.find(
      (i) => i.metadata.name === 'n1',
    );
  };

  it('prints its help and refuses a missing host root with a usage error naming it', () => {
    const help = execFileSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(root, 'src/cli/main.ts'), 'agent', '--help'],
      { encoding: 'utf8' },
    );
    expect(help).toContain('Usage: kube-inspector agent [options]');
    expect(help).toContain('--host-root PATH');
    let stderr = '';
    let status: number | null = 0;
    try {
      execFileSync(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          join(root, 'src/cli/main.ts'),
          'agent',
          '--node-name=n1',
          '--host-root=/nonexistent/host',
          `--kubeconfig=${kubeconfig}`,
        ],
        { encoding: 'utf8', stdio: 'pipe' },
      );
    } catch (err) {
      ({ stderr, status } = err as { stderr: string; status: number | null });
    }
    expect(status).toBe(2);
    expect(stderr).toContain('host root /nonexistent/host does not exist');
  });

  it("writes its node's inventory, nothing while it is unchanged, and again when the ScanConfiguration changes", async () => {
    const agent = new AgentProcess([
      `--host-root=${rootfs}`,
      '--node-name=n1',
      `--kubeconfig=${kubeconfig}`,
      '--interval=2s',
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
    ]);
    started.push(agent);

    const first = await eventually(
      'the agent to write NodeInventory n1',
      async () => {
        const inv = await inventory();
        return inv?.status?.collectedAt !== undefined ? inv : undefined;
      },
      120_000,
    );
    const expected = installedPackages(rootfs);
    expect(expected.length).toBeGreaterThan(10);
    const s = first.status!;
    expect(s.packages!.map((p) => `${p.name} ${p.version}`).sort()).toEqual(expected);
    expect(s).toMatchObject({
      nodeName: 'n1',
      os: { id: 'debian', versionId: '12', platform: 'DEBIAN_12' },
      packageCount: expected.length,
      truncated: false,
    });
    expect(s.errors).toBeUndefined();
    expect(s.packages!.every((p) => p.ecosystem === 'Debian:12')).toBe(true);
    expect(s.packages!.find((p) => p.name === 'libc6')?.purl).toMatch(
      /^pkg:deb\/debian\/libc6@.*distro=debian-12/,
    );
    const managed = JSON.parse(
      await env.kubectl('get', 'nodeinventory', 'n1', '--show-managed-fields', '-o', 'json'),
    ) as KubeObject;
    expect(
      managed.metadata.managedFields?.some(
        (m) =>
          m.manager === 'kube-inspector-agent' &&
          m.operation === 'Apply' &&
          m.subresource === 'status',
      ),
    ).toBe(true);

    // Collections every 2 s find the same packages: nothing is written.
    const unchangedBefore = agent.count('node inventory unchanged; nothing written');
    await eventually(
      'two more collections',
      () =>
        Promise.resolve(
          agent.count('node inventory unchanged; nothing written') >= unchangedBefore + 2
            ? true
            : undefined,
        ),
      30_000,
    );
    const again = await inventory();
    expect(again?.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    const serving = agent.lines.find((l) => l.msg === 'serving metrics and probes') as
      (LogLine & { metricsPort: number; probePort: number }) | undefined;
    expect(serving).toBeDefined();
    const metrics = await (await fetch(`http://127.0.0.1:${serving!.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kubeinspector_agent_inventory_writes_total\{reason="new"\} 1\b/);
    expect(metrics).toMatch(
      /kubeinspector_agent_inventory_writes_total\{reason="unchanged"\} [2-9]/,
    );
    expect((await fetch(`http://127.0.0.1:${serving!.probePort}/healthz`)).status).toBe(200);

    // A lower package limit and a custom path that is not mounted: collected again at once.
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { node: { packageLimit: 10, customPaths: ['/opt/app'] } },
    });
    const limited = await eventually(
      'the inventory to be cut at the package limit',
      async () => {
        const inv = await inventory();
        return inv?.status?.truncated === true ? inv.status : undefined;
      },
      60_000,
    );
    expect(limited.packages).toHaveLength(10);
    expect(limited.packages!.map((p) => `${p.name} ${p.version}`)).toEqual(expected.slice(0, 10));
    expect(limited.packageCount).toBe(expected.length);
    expect(limited.errors).toEqual([
      {
        code: 'PACKAGE_COLLECTION_LIMIT_EXCEEDED',
        message: `found ${expected.length} packages; the first 10 (the package limit) are listed`,
      },
      {
        code: 'READ_ERROR',
        message:
          'custom path /opt/app does not exist under the host root (is it mounted into the agent?)',
      },
    ]);
    expect(
      agent.lines.some(
        (l) => l.msg === 'collecting the node inventory' && l.reason === 'configuration',
      ),
    ).toBe(true);

    // SIGTERM: a clean stop.
    agent.child.kill('SIGTERM');
    const code = await Promise.race([
      agent.exited,
      new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000)),
    ]);
    expect(code).toBe(0);
    expect(agent.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
    expect(
      agent.lines.every((l) => typeof l.level === 'number' && l.level > 0 && l.level < 50),
    ).toBe(true);
  });
});
