// The product through its command line only: `kube-inspector controller` as a process with a
// database directory and EPSS/KEV files covers a node (its agent pod and NodeInventory written
// as the agent would), matches its packages into findings carrying the enrichment, which it
// keeps in its findings store and serves as the findings API (registered with the control
// plane), and `kube-inspector findings export` and `kube-inspector coverage` show them.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { collectionPath, core, type ObjectList } from '../../src/kube/resources.ts';
import { parseCsv } from '../support/csv.ts';
import { AGENT_LABELS, Writer, kubeletNodeStatus, nodeObject } from './coverage-fixtures.ts';
import { BOOKWORM_PACKAGES, applyNodeInventory } from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  attachFindingsProcess,
  findingsProcessFlags,
  freePort,
  startProductEnvironment,
} from './product.ts';

const execFileAsync = promisify(execFile);
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const osv = new URL('../../src/vulndb/testdata/osv', import.meta.url).pathname;
const NODE = 'worker-e2e';

describe('kube-inspector from its command line', { timeout: 240_000 }, () => {
  let env: ProductEnvironment;
  let controller: ReturnType<typeof spawn> | undefined;
  let detach: (() => Promise<void>) | undefined;
  const output: string[] = [];

  const cli = async (...args: string[]): Promise<string> =>
    (
      await execFileAsync(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', main, ...args],
        {
          env: { PATH: process.env.PATH, KUBECONFIG: env.plane.kubeconfig },
          maxBuffer: 16 * 1024 * 1024,
        },
      )
    ).stdout;

  beforeAll(async () => {
    env = await startProductEnvironment();
    const w = new Writer(env.client);
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    const node = await w.create(core.nodes, nodeObject(NODE));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, Date.now()), 'kubelet');
    // The agent DaemonSet's pod bound to the node: the node is managed.
    await w.create(core.pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `agent-${NODE}`, namespace: env.adminNamespace, labels: AGENT_LABELS },
      spec: {
        nodeName: NODE,
        automountServiceAccountToken: false,
        containers: [{ name: 'agent', image: '127.0.0.1:1/kube-inspector/agent:dev' }],
      },
    });
    await applyNodeInventory(env.client, NODE, BOOKWORM_PACKAGES, new Date());
  }, 120_000);

  afterAll(async () => {
    await detach?.();
    if (controller !== undefined && controller.exitCode === null) {
      const exited = new Promise((resolve) => controller!.once('exit', resolve));
      controller.kill('SIGTERM');
      await exited;
    }
    await env?.stop();
  });

  it('covers the node, writes enriched findings, and exports them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ki-enrichment-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'epss.csv'),
      '#model_version:v2025.03.14,score_date:2026-03-01T00:00:00+0000\ncve,epss,percentile\nCVE-2024-6387,0.87361,0.99374\n',
    );
    writeFileSync(
      join(dir, 'kev.json'),
      JSON.stringify({ vulnerabilities: [{ cveID: 'CVE-2024-6387' }] }),
    );
    const started = Date.now();
    const port = await freePort();
    controller = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        main,
        'controller',
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
        '--leader-elect=false',
        `--vulnerability-db=${osv}`,
        `--epss=${join(dir, 'epss.csv')}`,
        `--kev=${join(dir, 'kev.json')}`,
        ...findingsProcessFlags(env, port),
      ],
      {
        env: {
          PATH: process.env.PATH,
          KUBECONFIG: env.plane.kubeconfig,
          POD_NAMESPACE: env.adminNamespace,
        },
      },
    );
    controller.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    controller.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    detach = await attachFindingsProcess(env, port).catch((err: unknown) => {
      throw new Error(`${String(err)}\ncontroller output:\n${output.join('').slice(-4000)}`);
    });

    const coveredName = coveredResourceName.node(NODE);
    const findings = await eventually(
      'findings of the node',
      async () => {
        const list = await env.client.get<ObjectList<Finding>>(
          collectionPath(kinds.findings, env.adminNamespace),
          { query: { labelSelector: `kubeinspector.io/covered-resource=${coveredName}` } },
        );
        return list.items.some((f) => f.status?.vulnerabilityId === 'CVE-2024-6387')
          ? list.items
          : undefined;
      },
      180_000,
      1000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\ncontroller output:\n${output.join('').slice(-4000)}`);
    });
    console.log(
      `controller process: ${findings.length} findings of the node ${((Date.now() - started) / 1000).toFixed(1)} s after start`,
    );
    const openssh = findings.find((f) => f.status?.vulnerabilityId === 'CVE-2024-6387')!;
    expect(openssh.status?.epss?.score).toBe(0.87361);
    expect(openssh.status?.exploitAvailable).toBe('YES');

    const [header, ...rows] = parseCsv(await cli('findings', 'export', '-n', env.adminNamespace));
    const at = (row: string[], column: string) => row[header!.indexOf(column)];
    const row = rows.find((r) => at(r, 'vulnerabilityId') === 'CVE-2024-6387')!;
    expect(row).toBeDefined();
    expect(rows).toHaveLength(findings.length);
    expect(at(row, 'resource.id')).toBe(NODE);
    expect(at(row, 'resource.type')).toBe('NODE');
    expect(at(row, 'epss.score')).toBe('0.87361');
    expect(at(row, 'exploitAvailable')).toBe('YES');
    expect(at(row, 'packages.name')).toContain('openssh-server');
    const firstObserved = Number(at(row, 'firstObservedAt'));
    expect(Math.abs(firstObserved - Date.now() / 1000)).toBeLessThan(600);

    const coverage = JSON.parse(await cli('coverage', '--type', 'NODE', '-o', 'json')) as {
      resourceTypes: { all: number; scanning: number; reasons: { reason: string }[] }[];
    };
    expect(coverage.resourceTypes[0]).toMatchObject({ all: 1, scanning: 1 });
    expect(coverage.resourceTypes[0]!.reasons.map((r) => r.reason)).toEqual(['SUCCESSFUL']);
  });
});
