// Continuous findings on a real control plane: a covered node's inventory matched against the
// OSV fixtures (real advisories) becomes Finding objects; their lifecycle (close, reopen,
// retention), suppression both ways, counts on the CoveredResource, the metrics, and no writes
// from a steady cluster. CoveredResources and NodeInventories are written here the way the
// coverage controller and the node agent write them.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import { findingsSetup, setupFindings } from '../../src/controllers/findings/index.ts';
import { ImageInventoryStore } from '../../src/controllers/image-inventories.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { buildPackageFinding, findingName, mergeFinding } from '../../src/findings/build.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import { matchPackages } from '../../src/vulndb/match.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { operatingSystem } from '../../src/scanner/analyzers/os-release.ts';
import type { Inventory } from '../../src/scanner/types.ts';
import type { DatabaseSource } from '../../src/vulndb/source.ts';
import {
  BOOKWORM_PACKAGES,
  applyCoveredImage,
  applyCoveredNode,
  applyNodeInventory,
  databaseCopy,
  findingWrites,
  findingsOf,
  metricValue,
  withVersions,
} from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const execFileAsync = promisify(execFile);
const DAY = 86_400_000;
const EXPECTED_NODE_FINDINGS = [
  'CVE-2011-3374',
  'CVE-2023-4911',
  'CVE-2023-5363',
  'CVE-2024-6387',
  'DSA-5523-1',
].sort();

describe('continuous findings', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let database: DatabaseSource;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  const clock = new ManualClock(new Date());
  const images = new ImageInventoryStore();

  const writes = async (): Promise<number> => findingWrites(await controller.metrics());
  const findings = (cr: string) => findingsOf(env.client, env.adminNamespace, cr);
  /** Names of the findings in the administrator namespace with these labels. */
  const findingNames = async (selector: string): Promise<string[]> =>
    (await env.kubectl('get', 'findings', '-n', env.adminNamespace, '-o', 'name', '-l', selector))
      .split('\n')
      .filter((l) => l !== '');
  /** The total of a CoveredResource's finding counts. */
  const countedTotal = async (cr: string): Promise<number | undefined> => {
    const obj = JSON.parse(await env.kubectl('get', 'coveredresource', cr, '-o', 'json')) as {
      status: { findingCounts?: { total?: number } };
    };
    return obj.status.findingCounts?.total;
  };
  /**
   * A change of the default ScanConfiguration's spec (one the findings do not depend on): the
   * controller looks at every resource again.
   */
  let resyncs = 0;
  const resync = async (): Promise<void> => {
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { workload: { eligibilityDays: 90 + (++resyncs % 2) } },
    });
  };

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = await databaseCopy();
    database = db.source;
    controller = await startController(env, { setups: [setupFindings], database, clock, images });
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
    db?.remove();
  });

  it('matches a covered node and writes findings with deterministic names, labels, status and counts', async () => {
    await applyNodeInventory(env.client, 'node-a', BOOKWORM_PACKAGES, clock.now());
    const cr = await applyCoveredNode(env.client, 'node-a', { lastScannedAt: clock.now() });
    const found = await eventually('the findings of node-a', async () => {
      const f = await findings(cr);
      return f.size === EXPECTED_NODE_FINDINGS.length ? f : undefined;
    });
    expect([...found.keys()].sort()).toEqual(EXPECTED_NODE_FINDINGS);

    const glibc = found.get('CVE-2023-4911')!;
    expect(glibc.metadata.name).toBe(findingName('node-a', 'CVE-2023-4911', 'Debian:12/glibc'));
    expect(glibc.metadata.labels).toMatchObject({
      [LABELS.severity]: 'HIGH',
      [LABELS.type]: 'PACKAGE_VULNERABILITY',
      [LABELS.status]: 'ACTIVE',
      [LABELS.resourceType]: 'NODE',
      [LABELS.vulnerabilityId]: 'CVE-2023-4911',
      [LABELS.coveredResource]: cr,
    });
    expect(glibc.spec).toBeUndefined();
    const s = glibc.status!;
    expect(s.packages?.map((p) => `${p.name} ${p.version} -> ${p.fixedInVersion}`)).toEqual([
      'libc-bin 2.36-9 -> 2.36-9+deb12u3',
      'libc6 2.36-9 -> 2.36-9+deb12u3',
    ]);
    expect(s).toMatchObject({
      status: 'ACTIVE',
      fixAvailable: 'YES',
      rulesPackage: 'cve',
      resource: { type: 'NODE', id: 'node-a', kind: 'Node', name: 'node-a', platform: 'DEBIAN_12' },
    });
    expect(s.firstObservedAt).toBe(s.lastObservedAt);
    expect(s.updatedAt).toBe(s.firstObservedAt);

    // kubectl selects by the labels, as Inspector's filters do.
    expect(await findingNames(`${LABELS.coveredResource}=${cr},${LABELS.severity}=HIGH`)).toContain(
      `finding.findings.kubeinspector.io/${glibc.metadata.name}`,
    );

    const counts = await eventually('finding counts on the CoveredResource', async () => {
      const obj = JSON.parse(
        await env.kubectl('get', 'coveredresource', cr, '-o', 'json', '--show-managed-fields'),
      ) as {
        status: { findingCounts?: Record<string, number> };
        metadata: { managedFields: { manager: string; subresource?: string; fieldsV1: object }[] };
      };
      return obj.status.findingCounts?.total === EXPECTED_NODE_FINDINGS.length ? obj : undefined;
    });
    const bySeverity = [...found.values()].reduce<Record<string, number>>((m, f) => {
      const k = f.status!.severity!.toLowerCase();
      m[k] = (m[k] ?? 0) + 1;
      return m;
    }, {});
    expect(counts.status.findingCounts).toMatchObject(bySeverity);
    const owner = counts.metadata.managedFields.find((m) =>
      JSON.stringify(m.fieldsV1).includes('findingCounts'),
    );
    expect(owner?.manager).toBe('kube-inspector-findings');

    const metrics = await controller.metrics();
    expect(
      metricValue(metrics, 'kubeinspector_findings', {
        severity: 'HIGH',
        type: 'PACKAGE_VULNERABILITY',
        status: 'ACTIVE',
      }),
    ).toBeGreaterThanOrEqual(bySeverity.high ?? 0);
    expect(
      metricValue(metrics, 'kubeinspector_finding_evaluations_total', { result: 'matched' }),
    ).toBeGreaterThan(0);
  });

  it('writes nothing while nothing changes, and does not move lastObservedAt for a resync', async () => {
    const cr = coveredResourceName.node('node-a');
    const before = await findings(cr);
    const count = await writes();
    await resync();
    // Let the controller look at everything again.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await writes()).toBe(count);
    const after = await findings(cr);
    for (const [id, f] of after) {
      expect(f.metadata.resourceVersion, id).toBe(before.get(id)!.metadata.resourceVersion);
    }
  });

  it('re-evaluates a continuous resource once a day: lastObservedAt moves, updatedAt does not', async () => {
    const cr = coveredResourceName.node('node-a');
    const before = await findings(cr);
    clock.advance(DAY + 60_000);
    // The controller requeued node-a for this moment; a resync stands in for the real-time timer.
    await resync();
    const at = clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
    const after = await eventually('every lastObservedAt moved', async () => {
      const f = await findings(cr);
      return [...f.values()].every((x) => x.status?.lastObservedAt === at) ? f : undefined;
    });
    for (const [id, f] of after) {
      expect(f.status?.updatedAt, id).toBe(before.get(id)!.status?.updatedAt);
      expect(f.status?.firstObservedAt, id).toBe(before.get(id)!.status?.firstObservedAt);
    }
  });

  it('keeps attributes people add with kubectl patch and apply through re-evaluations and a database update', async () => {
    const cr = coveredResourceName.node('node-a');
    const glibc = (await findings(cr)).get('CVE-2023-4911')!;
    const name = glibc.metadata.name;
    await env.kubectl(
      'patch',
      'finding',
      name,
      '-n',
      env.adminNamespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { attributes: { owner: 'team-payments' } } }),
    );
    await env.kubectlWithInput(
      JSON.stringify({
        apiVersion: 'findings.kubeinspector.io/v1alpha1',
        kind: 'Finding',
        metadata: { name, namespace: env.adminNamespace },
        spec: { attributes: { ticket: 'SEC-1234' } },
      }),
      'apply',
      '--server-side',
      '--field-manager=jane',
      '-f',
      '-',
    );
    const firstObservedAt = glibc.status!.firstObservedAt;

    // A database update that changes the finding: a later fix and a higher score.
    clock.advance(60_000);
    db.edit('debian/DSA-5514-1.json', (r) => {
      r.modified = '2024-01-01T00:00:00Z';
      const affected = r.affected as { ranges: { events: Record<string, string>[] }[] }[];
      affected[0]!.ranges[0]!.events = [{ introduced: '0' }, { fixed: '2.36-9+deb12u4' }];
      r.severity = [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }];
    });
    expect(await database.refresh()).toBe('updated');
    const updated = await eventually('the finding updated from the new database', async () => {
      const f = (await findings(cr)).get('CVE-2023-4911');
      return f?.status?.packages?.[0]?.fixedInVersion === '2.36-9+deb12u4' ? f : undefined;
    });
    expect(updated.spec?.attributes).toEqual({ owner: 'team-payments', ticket: 'SEC-1234' });
    expect(updated.status).toMatchObject({ severity: 'CRITICAL', firstObservedAt });
    expect(updated.metadata.labels?.[LABELS.severity]).toBe('CRITICAL');
    expect(Date.parse(updated.status!.updatedAt!)).toBe(
      Date.parse(
        clock
          .now()
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
      ),
    );
    expect(updated.status!.lastObservedAt).toBe(updated.status!.updatedAt);

    // An inventory change that leaves this finding as it is still observes it.
    clock.advance(60_000);
    await applyNodeInventory(
      env.client,
      'node-a',
      [...BOOKWORM_PACKAGES, { name: 'less', version: '590-2', ecosystem: 'Debian:12' }],
      clock.now(),
    );
    const observed = await eventually('lastObservedAt moved by the inventory change', async () => {
      const f = (await findings(cr)).get('CVE-2023-4911');
      return f?.status?.lastObservedAt !== updated.status!.lastObservedAt ? f : undefined;
    });
    expect(observed.status!.updatedAt).toBe(updated.status!.updatedAt);
    expect(observed.spec?.attributes).toEqual({ owner: 'team-payments', ticket: 'SEC-1234' });
  });

  it('closes fixed findings, reopens them within the window and deletes them after the retention', async () => {
    const cr = await applyCoveredNode(env.client, 'node-b', { lastScannedAt: clock.now() });
    await applyNodeInventory(env.client, 'node-b', BOOKWORM_PACKAGES, clock.now());
    const first = await eventually('node-b findings', async () => {
      const f = await findings(cr);
      return f.size === EXPECTED_NODE_FINDINGS.length ? f : undefined;
    });
    const ssh = first.get('CVE-2024-6387')!;

    clock.advance(DAY);
    const fixed = withVersions(BOOKWORM_PACKAGES, {
      'openssh-client': '1:9.2p1-2+deb12u3',
      'openssh-server': '1:9.2p1-2+deb12u3',
    });
    await applyNodeInventory(env.client, 'node-b', fixed, clock.now());
    const closed = await eventually('the openssh finding CLOSED', async () => {
      const f = (await findings(cr)).get('CVE-2024-6387');
      return f?.status?.status === 'CLOSED' ? f : undefined;
    });
    expect(closed.metadata.labels?.[LABELS.status]).toBe('CLOSED');
    expect(closed.status!.firstObservedAt).toBe(ssh.status!.firstObservedAt);
    await eventually('counts without the closed finding', async () =>
      (await countedTotal(cr)) === EXPECTED_NODE_FINDINGS.length - 1 ? true : undefined,
    );

    // Back within the reopen window: the same object, the same firstObservedAt.
    clock.advance(2 * DAY);
    await applyNodeInventory(env.client, 'node-b', BOOKWORM_PACKAGES, clock.now());
    const reopened = await eventually('the openssh finding reopened', async () => {
      const f = (await findings(cr)).get('CVE-2024-6387');
      return f?.status?.status === 'ACTIVE' ? f : undefined;
    });
    expect(reopened.metadata.uid).toBe(ssh.metadata.uid);
    expect(reopened.status!.firstObservedAt).toBe(ssh.status!.firstObservedAt);

    // Fixed again; 31 days later the closed finding is deleted, the others stay.
    clock.advance(DAY);
    await applyNodeInventory(env.client, 'node-b', fixed, clock.now());
    await eventually('closed again', async () =>
      (await findings(cr)).get('CVE-2024-6387')?.status?.status === 'CLOSED' ? true : undefined,
    );
    clock.advance(29 * DAY);
    await resync();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await findings(cr)).has('CVE-2024-6387')).toBe(true);
    clock.advance(1 * DAY + 60_000);
    await resync();
    await eventually('the closed finding deleted after 30 days', async () => {
      const f = await findings(cr);
      return !f.has('CVE-2024-6387') && f.size === EXPECTED_NODE_FINDINGS.length - 1
        ? true
        : undefined;
    });
  });

  it('closes the findings of a resource that is gone and deletes them after 3 days', async () => {
    const cr = await applyCoveredNode(env.client, 'node-c', { lastScannedAt: clock.now() });
    await applyNodeInventory(env.client, 'node-c', BOOKWORM_PACKAGES, clock.now());
    await eventually('node-c findings', async () =>
      (await findings(cr)).size === EXPECTED_NODE_FINDINGS.length ? true : undefined,
    );
    await env.kubectl('delete', 'coveredresource', cr, '--wait=true');
    await eventually('every node-c finding CLOSED', async () => {
      const f = [...(await findings(cr)).values()];
      return f.length === EXPECTED_NODE_FINDINGS.length &&
        f.every((x) => x.status?.status === 'CLOSED')
        ? true
        : undefined;
    });
    clock.advance(3 * DAY + 60_000);
    await resync();
    await eventually('node-c findings deleted', async () =>
      (await findings(cr)).size === 0 ? true : undefined,
    );
  });

  it('keeps the findings of a stopped node and deletes them when coverage is being disabled', async () => {
    const cr = await applyCoveredNode(env.client, 'node-d', { lastScannedAt: clock.now() });
    await applyNodeInventory(env.client, 'node-d', BOOKWORM_PACKAGES, clock.now());
    await eventually('node-d findings', async () =>
      (await findings(cr)).size === EXPECTED_NODE_FINDINGS.length ? true : undefined,
    );
    await applyCoveredNode(env.client, 'node-d', {
      statusCode: 'INACTIVE',
      reason: 'RESOURCE_STOPPED',
    });
    await applyNodeInventory(env.client, 'node-d', [], clock.now());
    await new Promise((r) => setTimeout(r, 1_500));
    const kept = [...(await findings(cr)).values()];
    expect(kept.map((f) => f.status?.status)).toEqual(kept.map(() => 'ACTIVE'));

    await applyCoveredNode(env.client, 'node-d', {
      statusCode: 'INACTIVE',
      reason: 'PENDING_DISABLE',
    });
    await eventually('node-d findings deleted', async () =>
      (await findings(cr)).size === 0 ? true : undefined,
    );
  });

  it('suppresses findings a rule matches and restores them when the rule is narrowed or deleted', async () => {
    const cr = coveredResourceName.node('node-a');
    const rule = (values: string[]) => ({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'SuppressionRule',
      metadata: { name: 'accepted-apt', namespace: env.adminNamespace },
      spec: {
        reason: 'apt signature issue accepted: no untrusted mirrors',
        filterCriteria: {
          vulnerabilityId: values.map((value) => ({ comparison: 'EQUALS', value })),
        },
      },
    });
    await env.apply(rule(['CVE-2011-3374', 'CVE-2023-5363']));
    await eventually('two findings SUPPRESSED', async () => {
      const f = await findings(cr);
      return f.get('CVE-2011-3374')?.status?.status === 'SUPPRESSED' &&
        f.get('CVE-2023-5363')?.metadata.labels?.[LABELS.status] === 'SUPPRESSED'
        ? true
        : undefined;
    });
    const ruleStatus = await eventually('the rule counts what it suppresses', async () => {
      const r = JSON.parse(
        await env.kubectl(
          'get',
          'suppressionrule',
          'accepted-apt',
          '-n',
          env.adminNamespace,
          '-o',
          'json',
        ),
      ) as {
        status?: { matchedFindings?: number; conditions?: { type: string; status: string }[] };
      };
      // Every node with these packages has the two findings (node-a and node-b here).
      const suppressed = (await findingNames(`${LABELS.status}=SUPPRESSED`)).length;
      return suppressed >= 2 && r.status?.matchedFindings === suppressed ? r.status : undefined;
    });
    expect(ruleStatus.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'True' }),
    );
    await eventually('counts leave suppressed findings out', async () =>
      (await countedTotal(cr)) === EXPECTED_NODE_FINDINGS.length - 2 ? true : undefined,
    );

    // A rule of another namespace does not reach the administrator's node findings.
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    await env.apply({
      ...rule(['CVE-2024-6387']),
      metadata: { name: 'team-rule', namespace: 'team-a' },
    });

    await env.apply(rule(['CVE-2011-3374']));
    await eventually('the narrowed rule restores the other finding', async () => {
      const f = await findings(cr);
      return f.get('CVE-2023-5363')?.status?.status === 'ACTIVE' &&
        f.get('CVE-2011-3374')?.status?.status === 'SUPPRESSED'
        ? true
        : undefined;
    });
    expect((await findings(cr)).get('CVE-2024-6387')?.status?.status).toBe('ACTIVE');

    await env.kubectl('delete', 'suppressionrule', 'accepted-apt', '-n', env.adminNamespace);
    await eventually('deleting the rule restores every finding', async () => {
      const f = [...(await findings(cr)).values()];
      return f.every((x) => x.status?.status === 'ACTIVE') ? true : undefined;
    });
  });

  it('moves run findings between ACTIVE and SUPPRESSED when rules change after the run, keeping their owner', async () => {
    // A run finding as the assessment run controller writes it: owned by its run (a ConfigMap
    // stands in), labels and status under the field manager kube-inspector.
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    await env.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'run-1', namespace: 'team-a' },
    });
    const uid = (
      await env.kubectl(
        'get',
        'configmap',
        'run-1',
        '-n',
        'team-a',
        '-o',
        'jsonpath={.metadata.uid}',
      )
    ).trim();
    const match = matchPackages(database.current!, [
      { ecosystem: 'Debian:12', name: 'libssl3', sourceName: 'openssl', version: '3.0.9-1' },
    ]).findings[0]!;
    const built = buildPackageFinding(
      {
        resourceType: 'WORKLOAD',
        id: 'team-a/Deployment/web',
        namespace: 'team-a',
        name: 'web',
        kind: 'Deployment',
      },
      match,
      {},
    );
    const name = `run-1-${built.name}`.slice(0, 253);
    const owner = { apiVersion: 'v1', kind: 'ConfigMap', name: 'run-1', uid, controller: true };
    // Written as the run controller writes it: into the findings store, owned by the run.
    await controller.store.create({
      apiVersion: 'findings.kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: {
        name,
        namespace: 'team-a',
        labels: { ...built.labels, [LABELS.run]: 'run-1' },
        ownerReferences: [owner],
      },
      status: mergeFinding(undefined, built.status, clock.now()),
    });
    const get = async () =>
      JSON.parse(
        await env.kubectl('get', 'finding', name, '-n', 'team-a', '-o', 'json'),
      ) as Finding & KubeObject;

    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'SuppressionRule',
      metadata: { name: 'openssl-accepted', namespace: 'team-a' },
      spec: {
        reason: 'not reachable in this service',
        filterCriteria: { packageName: [{ comparison: 'EQUALS', value: 'libssl3' }] },
      },
    });
    const suppressed = await eventually('the run finding SUPPRESSED', async () => {
      const f = await get();
      return f.status?.status === 'SUPPRESSED' &&
        f.metadata.labels?.[LABELS.status] === 'SUPPRESSED'
        ? f
        : undefined;
    });
    expect(suppressed.metadata.ownerReferences).toEqual([owner]);
    expect(suppressed.metadata.labels?.[LABELS.run]).toBe('run-1');
    expect(suppressed.status?.packages?.[0]?.name).toBe('libssl3');

    await env.kubectl('delete', 'suppressionrule', 'openssl-accepted', '-n', 'team-a');
    const restored = await eventually('ACTIVE again once the rule is gone', async () => {
      const f = await get();
      return f.status?.status === 'ACTIVE' && f.metadata.labels?.[LABELS.status] === 'ACTIVE'
        ? f
        : undefined;
    });
    expect(restored.metadata.ownerReferences).toEqual([owner]);
    expect(restored.status?.vulnerabilityId).toBe('CVE-2023-5363');
  });

  it('matches an Ubuntu image the scanner spells Ubuntu:22.04:LTS, and re-matches a scan-on-push image only when it is scanned again', async () => {
    const digest = `sha256:${'1'.repeat(64)}`;
    const pushDigest = `sha256:${'2'.repeat(64)}`;
    const layer = `sha256:${'3'.repeat(64)}`;
    const inventory = (packages: [string, string, string][]): Inventory => ({
      kind: 'image',
      target: 'registry.test/shop/web:1.0',
      os: operatingSystem({ ID: 'ubuntu', VERSION_ID: '22.04', NAME: 'Ubuntu' })!,
      packages: packages.map(([name, version, sourceName]) => ({
        type: 'deb',
        name,
        version,
        sourceName,
        purl: `pkg:deb/ubuntu/${name}@${version}?distro=ubuntu-22.04`,
        filePath: 'var/lib/dpkg/status',
        layerDigest: layer,
      })),
      runtimes: [],
      layers: [],
      warnings: [],
      stats: { durationMs: 1, bytesDownloaded: 0, uncompressedBytes: 0, entries: 0 },
    });
    const jammy = inventory([
      ['libc6', '2.35-0ubuntu3.1', 'glibc'],
      ['openssh-client', '1:8.9p1-3ubuntu0.1', 'openssh'],
    ]);
    images.set({
      digest,
      reference: `registry.test/shop/web@${digest}`,
      scannedAt: clock.now(),
      outcome: { status: 'inventory', inventory: jammy },
    });
    const cr = await applyCoveredImage(env.client, 'registry.test/shop/web', digest, {
      lastScannedAt: clock.now(),
      tags: ['1.0'],
    });
    const found = await eventually('the Ubuntu image findings', async () => {
      const f = await findings(cr);
      return f.size === 2 ? f : undefined;
    });
    expect([...found.keys()].sort()).toEqual(['CVE-2023-4911', 'CVE-2024-6387']);
    expect(found.get('CVE-2023-4911')!.status).toMatchObject({
      resource: {
        type: 'CONTAINER_IMAGE',
        id: `registry.test/shop/web@${digest}`,
        imageRepository: 'registry.test/shop/web',
        imageDigest: digest,
        imageTags: ['1.0'],
      },
      packages: [{ name: 'libc6', ecosystem: 'Ubuntu:22.04:LTS', sourceLayerHash: layer }],
    });

    // Scan on push: a database update does not re-match it.
    images.set({
      digest: pushDigest,
      reference: `registry.test/shop/api@${pushDigest}`,
      scannedAt: clock.now(),
      outcome: { status: 'inventory', inventory: jammy },
    });
    const pushed = await applyCoveredImage(env.client, 'registry.test/shop/api', pushDigest, {
      frequency: 'SCAN_ON_PUSH',
      lastScannedAt: clock.now(),
    });
    const before = await eventually('the scan-on-push image findings', async () => {
      const f = await findings(pushed);
      return f.size === 2 ? f : undefined;
    });
    clock.advance(60_000);
    db.edit('ubuntu/UBUNTU-CVE-2023-4911.json', (r) => {
      r.modified = '2024-02-01T00:00:00Z';
      r.summary = 'glibc: buffer overflow in ld.so (updated)';
    });
    expect(await database.refresh()).toBe('updated');
    await eventually('the continuous image re-matched', async () =>
      (await findings(cr)).get('CVE-2023-4911')?.status?.description ===
      'glibc: buffer overflow in ld.so (updated)'
        ? true
        : undefined,
    );
    const after = await findings(pushed);
    expect(after.get('CVE-2023-4911')!.metadata.resourceVersion).toBe(
      before.get('CVE-2023-4911')!.metadata.resourceVersion,
    );
    // Scanned again (pushed): matched again, with the current database.
    clock.advance(60_000);
    await applyCoveredImage(env.client, 'registry.test/shop/api', pushDigest, {
      frequency: 'SCAN_ON_PUSH',
      lastScannedAt: clock.now(),
    });
    await eventually('the scan-on-push image re-matched after its new scan', async () =>
      (await findings(pushed)).get('CVE-2023-4911')?.status?.description ===
      'glibc: buffer overflow in ld.so (updated)'
        ? true
        : undefined,
    );
  });

  it('keeps attributes edited with kubectl edit, and writes nothing when the controller restarts', async () => {
    const cr = coveredResourceName.node('node-a');
    const glibc = (await findings(cr)).get('CVE-2023-4911')!;
    const dir = mkdtempSync(join(tmpdir(), 'findings-editor-'));
    const editor = join(dir, 'editor.sh');
    writeFileSync(
      editor,
      `#!/bin/sh\nsed -i 's/^    ticket: SEC-1234$/&\\n    reviewed: "yes"/' "$1"\n`,
      { mode: 0o755 },
    );
    try {
      await execFileAsync(
        env.plane.binaries.kubectl,
        [
          '--kubeconfig',
          env.plane.kubeconfig,
          'edit',
          'finding',
          glibc.metadata.name,
          '-n',
          env.adminNamespace,
        ],
        { env: { ...process.env, KUBE_EDITOR: editor } },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const attributes = { owner: 'team-payments', ticket: 'SEC-1234', reviewed: 'yes' };
    expect((await findings(cr)).get('CVE-2023-4911')!.spec?.attributes).toEqual(attributes);

    const before = await findings(cr);
    await controller.stop({ keepApiService: true });
    controller = await startController(env, { setups: [setupFindings], database, clock, images });
    await resync();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await writes()).toBe(0);
    const after = await findings(cr);
    for (const [id, f] of after) {
      expect(f.metadata.resourceVersion, id).toBe(before.get(id)!.metadata.resourceVersion);
    }

    // The new controller evaluates: an upgrade closes the finding, the attributes stay.
    clock.advance(60_000);
    await applyNodeInventory(
      env.client,
      'node-a',
      withVersions(BOOKWORM_PACKAGES, { libc6: '2.36-9+deb12u4', 'libc-bin': '2.36-9+deb12u4' }),
      clock.now(),
    );
    const closed = await eventually('the glibc finding CLOSED by the new controller', async () => {
      const f = (await findings(cr)).get('CVE-2023-4911');
      return f?.status?.status === 'CLOSED' ? f : undefined;
    });
    expect(closed.spec?.attributes).toEqual(attributes);
    expect(await writes()).toBeGreaterThan(0);
  });

  it('keeps Findings small: measures typical and largest sizes and the total of this scenario', async () => {
    const list = JSON.parse(
      await env.kubectl(
        'get',
        'findings',
        '-n',
        env.adminNamespace,
        '-o',
        'json',
        '--show-managed-fields',
      ),
    ) as { items: { metadata: { managedFields?: unknown } }[] };
    const stats = (sizes: number[]) => {
      sizes.sort((a, b) => a - b);
      return `median ${sizes[Math.floor(sizes.length / 2)]} B, largest ${sizes[sizes.length - 1]} B, total ${sizes.reduce((a, b) => a + b, 0)} B`;
    };
    const sizes = list.items.map((f) => Buffer.byteLength(JSON.stringify(f)));
    const bare = list.items.map((f) =>
      Buffer.byteLength(
        JSON.stringify({ ...f, metadata: { ...f.metadata, managedFields: undefined } }),
      ),
    );
    const largest = Math.max(...sizes);
    console.log(
      `Finding sizes: ${sizes.length} findings; as stored (with managedFields) ${stats(sizes)}; without managedFields ${stats(bare)}`,
    );
    expect(sizes.length).toBeGreaterThan(5);
    expect(largest).toBeLessThan(16 * 1024);
  });

  it('caps the findings of one resource, keeping the highest severities, and says so', async () => {
    await controller.stop();
    controller = await startController(env, {
      setups: [findingsSetup({ maxFindingsPerResource: 2 })],
      database,
      clock,
      images,
    });
    const cr = await applyCoveredNode(env.client, 'node-e', { lastScannedAt: clock.now() });
    await applyNodeInventory(env.client, 'node-e', BOOKWORM_PACKAGES, clock.now());
    const found = await eventually('two findings for node-e', async () => {
      const f = await findings(cr);
      return f.size === 2 ? f : undefined;
    });
    const severities = [...found.values()].map((f) => f.status!.severity);
    expect(severities).not.toContain('LOW');
    expect(
      metricValue(await controller.metrics(), 'kubeinspector_finding_cap_exceeded_total', {}),
    ).toBeGreaterThan(0);
    const events = await eventually('a FindingCapExceeded event', async () => {
      const out = await env.kubectl('get', 'events.events.k8s.io', '-A', '-o', 'json');
      const items = (
        JSON.parse(out) as {
          items: { reason: string; regarding: { name: string }; note: string }[];
        }
      ).items;
      const e = items.filter((i) => i.reason === 'FindingCapExceeded' && i.regarding.name === cr);
      return e.length > 0 ? e : undefined;
    });
    expect(events[0]!.note).toMatch(/at most 2 per resource/);
  });
});
