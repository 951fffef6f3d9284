// Assessments end to end on a control plane of their own: targets, templates and runs through
// Inspector Classic's state machine, with the `cve` rules package evaluated against images in a
// loopback registry (real Debian 12 package databases) and NodeInventories, matched with the
// OSV fixtures. The controller's clock is a ManualClock: the tests move it past a run's
// duration or a schedule's next time instead of waiting.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASSESSMENT_RUN_STATES } from '../../src/api/v1alpha1/assessment-run.ts';
import { setupAssessments } from '../../src/controllers/assessments/index.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { apply } from '../../src/kube/apply.ts';
import { core, type KubeObject, objectPath } from '../../src/kube/resources.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { LocalDatabaseSource } from '../../src/vulndb/source.ts';
import { startRegistry, type TestRegistry, buildImage } from '../support/registry.ts';
import {
  AGENT_FIELD_MANAGER,
  DPKG_STATUS,
  inventoryStatus,
  type PushedImage,
  Writer,
  debianPackages,
  kubeletNodeStatus,
  nodeObject,
  push,
  runPod,
  runWorkload,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const API = 'kubeinspector.io/v1alpha1';
const NS = 'shop';
const OSV = join(import.meta.dirname, '..', '..', 'src', 'vulndb', 'testdata', 'osv');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

/**
 * Debian 12 as it was released (12.0): the fixture's dpkg status with the openssl and glibc
 * versions bookworm first shipped, which the DSA-5532-1 / CVE-2023-5363 and DSA-5514-1
 * advisories of the fixtures affect.
 */
const BOOKWORM_0_STATUS = DPKG_STATUS.replace(
  'Version: 3.0.19-1~deb12u2',
  'Version: 3.0.9-1',
).replace('Version: 2.36-9+deb12u14', 'Version: 2.36-9');

function bookwormImage(marker: string) {
  return buildImage({
    layers: [
      [
        { path: 'etc/', type: 'dir' },
        { path: 'etc/os-release', content: readFileSync(join(fixtures, 'dpkg/os-release')) },
        { path: 'var/lib/dpkg/status', content: BOOKWORM_0_STATUS },
        { path: 'etc/test-image', content: `${marker}\n` },
      ],
    ],
  });
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface Run {
  metadata: {
    name: string;
    uid: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
  };
  spec: { stop?: { action: string } };
  status?: {
    state?: string;
    stateChanges?: { state: string; stateChangedAt: string }[];
    startedAt?: string;
    completedAt?: string;
    dataCollected?: boolean;
    durationSeconds?: number;
    collected?: {
      nodes?: string[];
      workloads?: { namespace: string; kind: string; name: string }[];
      images?: { reference: string; digest?: string }[];
    };
    resourceCounts?: { nodes?: number; workloads?: number; images?: number };
    findingCounts?: Record<string, number>;
    conditions?: Condition[];
  };
}

interface FindingView {
  metadata: {
    name: string;
    labels: Record<string, string>;
    ownerReferences?: {
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
    managedFields?: { manager: string; fieldsV1?: Record<string, unknown> }[];
  };
  spec?: { attributes?: Record<string, string> };
  status: {
    vulnerabilityId: string;
    severity: string;
    status: string;
    resource: { type: string; id: string };
    rulesPackage: string;
  };
}

/** Classic's states up to evaluation, in model order. */
const CLASSIC_HAPPY_PATH = ASSESSMENT_RUN_STATES.slice(0, 8);

describe('assessments', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let registry: TestRegistry;
  let writer: Writer;
  let web: PushedImage;
  let debug: PushedImage;
  const clock = new ManualClock(Date.now());
  const database = new LocalDatabaseSource(OSV);

  const getJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await env.kubectl('get', ...args, '-o', 'json')) as T;
  const run = (name: string, ns = NS) => getJson<Run>('assessmentrun', name, '-n', ns);
  const findingsOf = async (name: string, ns = NS) =>
    (
      await getJson<{ items: FindingView[] }>(
        'findings',
        '-n',
        ns,
        '-l',
        `kubeinspector.io/run=${name}`,
      )
    ).items;
  const stateIs = (name: string, state: string, ns = NS) =>
    eventually(`run ${name} ${state}`, async () => {
      const r = await run(name, ns);
      return r.status?.state === state ? r : undefined;
    });
  /** Any change to the object brings a reconcile: how a test makes the controller look at the moved clock. */
  const poke = (kind: string, name: string, ns = NS) =>
    env.kubectl('annotate', '--overwrite', kind, name, '-n', ns, `test/poke=${Date.now()}`);

  const target = (name: string, spec: object, ns = NS) => ({
    apiVersion: API,
    kind: 'AssessmentTarget',
    metadata: { name, namespace: ns },
    spec,
  });
  const template = (name: string, spec: object, ns = NS) => ({
    apiVersion: API,
    kind: 'AssessmentTemplate',
    metadata: { name, namespace: ns },
    spec: { durationSeconds: 180, ...spec },
  });
  const runObject = (name: string, templateName: string, ns = NS) => ({
    apiVersion: API,
    kind: 'AssessmentRun',
    metadata: { name, namespace: ns },
    spec: { templateRef: { name: templateName } },
  });

  beforeAll(async () => {
    [env, registry] = await Promise.all([startProductEnvironment(), startRegistry()]);
    await database.refresh();
    writer = new Writer(env.client);
    web = await push(registry.url, registry.host, 'shop/web', '1.0', bookwormImage('web'));
    debug = await push(registry.url, registry.host, 'shop/debug', '2.0', bookwormImage('debug'));
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await writer.create(core.nodes, nodeObject('node-1', { labels: { pool: 'blue' } }));
    await writer.setStatus(
      core.nodes,
      nodeObject('node-1'),
      kubeletNodeStatus({}, Date.now()),
      'kubelet',
    );
    await runWorkload(
      writer,
      'Deployment',
      NS,
      'web',
      'node-1',
      [{ name: 'web', image: web }],
      'Running',
      Date.now(),
      {
        labels: { app: 'web' },
      },
    );
    controller = await startController(env, {
      clock,
      database,
      insecureRegistries: [registry.host],
      setups: [setupAssessments],
    });
  });
  afterAll(async () => {
    await controller?.stop();
    database.close();
    await env?.stop();
    await registry?.stop();
  });

  /**
   * Scheduled times five minutes apart within one hour, the first well after both the
   * controller's clock and the real one (the template's creation time).
   */
  const scheduleTimes = () => {
    const base = new Date(Math.max(clock.now().getTime(), Date.now()) + 6 * 60_000);
    base.setUTCSeconds(0, 0);
    while (base.getUTCMinutes() % 5 !== 0 || base.getUTCMinutes() > 45)
      base.setTime(base.getTime() + 60_000);
    return {
      m: base.getUTCMinutes(),
      h: base.getUTCHours(),
      at: (i: number) => new Date(base.getTime() + i * 5 * 60_000),
    };
  };
  const rfc = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  const stop = (name: string, action: string, ns = NS) =>
    env.kubectl(
      'patch',
      'assessmentrun',
      name,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { stop: { action } } }),
    );

  it('a target reports what it covers, and one outside the administrator namespace may not ask for nodes', async () => {
    await env.apply(
      target('storefront', {
        resourceTypes: ['WORKLOAD', 'CONTAINER_IMAGE'],
        selectors: [{ matchLabels: { app: 'web' } }, { matchLabels: { tier: 'batch' } }],
      }),
      target('greedy', { resourceTypes: ['NODE', 'WORKLOAD'] }),
    );
    const ok = await eventually('storefront matched', async () => {
      const t = await getJson<{ status?: { matched?: Record<string, number> } }>(
        'assessmenttarget',
        'storefront',
        '-n',
        NS,
      );
      return t.status?.matched;
    });
    expect(ok).toEqual({ nodes: 0, workloads: 1, images: 1 });
    const refused = await eventually('greedy refused', async () => {
      const t = await getJson<{ status?: { conditions?: Condition[] } }>(
        'assessmenttarget',
        'greedy',
        '-n',
        NS,
      );
      return t.status?.conditions?.find((c) => c.type === 'Stalled');
    });
    expect(refused.reason).toBe('OutsideAdministratorNamespace');
    expect(refused.message).toContain('spec.resourceTypes includes NODE');
    expect(refused.message).toContain(`administrator namespace ${env.adminNamespace}`);
  });

  it('a run walks the Classic states, collects a pod that came and went, and writes findings only after evaluation', async () => {
    await env.apply(
      template('storefront-cve', {
        targetRef: { name: 'storefront' },
        rulesPackages: ['cve'],
        findingAttributes: { owner: 'team-shop', ticket: 'SEC-1' },
      }),
    );
    await env.apply(runObject('adhoc-1', 'storefront-cve'));
    const collecting = await stateIs('adhoc-1', 'COLLECTING_DATA');
    expect(collecting.status?.durationSeconds).toBe(180);
    expect(collecting.status?.collected?.workloads).toEqual([
      { namespace: NS, kind: 'Deployment', name: 'web' },
    ]);
    expect(await findingsOf('adhoc-1')).toEqual([]);

    // A bare pod matching the second selector comes and goes while the run collects.
    await runPod(
      writer,
      NS,
      'debug',
      'node-1',
      [{ name: 'debug', image: debug }],
      'Running',
      Date.now(),
      {
        labels: { tier: 'batch' },
      },
    );
    await eventually('debug pod collected', async () => {
      const r = await run('adhoc-1');
      return r.status?.collected?.workloads?.some((w) => w.name === 'debug') ? true : undefined;
    });
    // No kubelet confirms a graceful deletion here: delete it at once, as a force delete does.
    await env.kubectl('delete', 'pod', 'debug', '-n', NS, '--grace-period=0', '--force');
    await eventually('debug pod gone', async () =>
      (await env.kubectl('get', 'pods', '-n', NS, '-o', 'name')).includes('pod/debug')
        ? undefined
        : true,
    );
    expect(await findingsOf('adhoc-1')).toEqual([]);

    // The duration elapses.
    clock.advance(181_000);
    await poke('assessmentrun', 'adhoc-1');
    const done = await stateIs('adhoc-1', 'COMPLETED');
    expect(done.status?.stateChanges?.map((c) => c.state)).toEqual([
      ...CLASSIC_HAPPY_PATH,
      'COMPLETED',
    ]);
    const times = done.status?.stateChanges?.map((c) => Date.parse(c.stateChangedAt)) ?? [];
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(done.status?.dataCollected).toBe(true);
    expect(
      Date.parse(done.status!.completedAt!) - Date.parse(done.status!.startedAt!),
    ).toBeGreaterThanOrEqual(180_000);
    expect(done.status?.resourceCounts).toEqual({ nodes: 0, workloads: 2, images: 2 });

    const findings = await findingsOf('adhoc-1');
    const byImage = new Map<string, string[]>();
    for (const f of findings) {
      byImage.set(
        f.status.resource.id,
        [...(byImage.get(f.status.resource.id) ?? []), f.status.vulnerabilityId].sort(),
      );
    }
    // The pod that went away is evaluated like the Deployment's image.
    expect([...byImage.keys()].sort()).toEqual([
      `${debug.repository}@${debug.digest}`,
      `${web.repository}@${web.digest}`,
    ]);
    const ids = byImage.get(`${web.repository}@${web.digest}`)!;
    expect(ids).toContain('CVE-2023-5363');
    expect(ids.length).toBeGreaterThanOrEqual(2);
    for (const f of findings) {
      expect(f.metadata.labels['kubeinspector.io/run']).toBe('adhoc-1');
      expect(f.metadata.labels['kubeinspector.io/status']).toBe('ACTIVE');
      expect(f.metadata.labels['kubeinspector.io/resource-type']).toBe('CONTAINER_IMAGE');
      expect(f.status.rulesPackage).toBe('cve');
      expect(f.metadata.ownerReferences).toEqual([
        {
          apiVersion: API,
          kind: 'AssessmentRun',
          name: 'adhoc-1',
          uid: done.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(f.spec?.attributes).toEqual({ owner: 'team-shop', ticket: 'SEC-1' });
    }
    const counts = done.status?.findingCounts ?? {};
    expect(counts.total).toBe(findings.length);
    expect(counts.high).toBe(findings.filter((f) => f.status.severity === 'HIGH').length);
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Completed',
    });

    // The template's attributes belong to their own field manager; a person's key is theirs.
    const full = await getJson<FindingView>(
      'finding',
      findings[0]!.metadata.name,
      '-n',
      NS,
      '--show-managed-fields',
    );
    const templ = full.metadata.managedFields?.find(
      (m) => m.manager === 'kube-inspector-templates',
    );
    expect(JSON.stringify(templ?.fieldsV1)).toContain('f:owner');

    const events = await env.kubectl(
      'get',
      'events.events.k8s.io',
      '-n',
      NS,
      '--field-selector',
      'regarding.name=adhoc-1',
      '-o',
      'jsonpath={.items[*].reason}',
    );
    for (const reason of ['Created', 'CollectingData', 'EvaluatingRules', 'Completed']) {
      expect(events.split(' ')).toContain(reason);
    }
    // What `kubectl get assessmentruns` shows.
    const row = (await env.kubectl('get', 'assessmentruns', 'adhoc-1', '-n', NS, '--no-headers'))
      .trim()
      .split(/\s+/);
    expect(row.slice(0, 5)).toEqual([
      'adhoc-1',
      'COMPLETED',
      'storefront-cve',
      String(counts.critical ?? 0),
      String(counts.high ?? 0),
    ]);
    expect(await controller.metrics()).toMatch(
      /kubeinspector_assessment_runs\{state="COMPLETED"\} 1/,
    );
  });

  it("a run's image scans go through the scan service: counted once each, and not repeated for the next run", async () => {
    const scans = (text: string, result: string) =>
      Number(
        new RegExp(`^kubeinspector_image_scans_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1] ?? 0,
      );
    // The run before scanned the two images it collected, once each.
    const before = await controller.metrics();
    expect(scans(before, 'success')).toBe(2);
    expect(before).toMatch(/^kubeinspector_image_scans_in_flight 0$/m);

    await env.apply(runObject('adhoc-2', 'storefront-cve'));
    await stateIs('adhoc-2', 'COLLECTING_DATA');
    await stop('adhoc-2', 'START_EVALUATION');
    const done = await stateIs('adhoc-2', 'COMPLETED');
    expect(done.status?.resourceCounts).toEqual({ nodes: 0, workloads: 1, images: 1 });
    const ids = (await findingsOf('adhoc-2')).map((f) => f.status.resource.id);
    expect(new Set(ids)).toEqual(new Set([`${web.repository}@${web.digest}`]));
    expect(scans(await controller.metrics(), 'success')).toBe(2);
    await env.kubectl('delete', 'assessmentrun', 'adhoc-2', '-n', NS, '--wait=false');
  });

  it('deleting a run deletes its findings within seconds, by the controller and by the garbage collector', async () => {
    const findings = await findingsOf('adhoc-1');
    expect(findings.length).toBeGreaterThan(0);
    // A finding only the garbage collector takes: owned by the run, without the run label the
    // controller deletes by.
    const stored = (await controller.store.get(NS, findings[0]!.metadata.name))!;
    expect(stored.metadata.ownerReferences?.[0]?.kind).toBe('AssessmentRun');
    await controller.store.create({
      ...structuredClone(stored),
      metadata: {
        name: 'owned-by-adhoc-1',
        namespace: NS,
        ownerReferences: stored.metadata.ownerReferences ?? [],
      },
    });
    const startedAt = Date.now();
    await env.kubectl('delete', 'assessmentrun', 'adhoc-1', '-n', NS, '--wait=false');
    await eventually(
      'findings of adhoc-1 gone',
      async () => ((await findingsOf('adhoc-1')).length === 0 ? true : undefined),
      90_000,
      100,
    );
    const byRun = Date.now() - startedAt;
    await eventually(
      'the owned finding gone',
      async () => ((await controller.store.get(NS, 'owned-by-adhoc-1')) ? undefined : true),
      90_000,
      100,
    );
    const byOwner = Date.now() - startedAt;
    console.log(
      `findings of a deleted run gone after ${(byRun / 1000).toFixed(1)} s (controller); ` +
        `by ownerReference after ${(byOwner / 1000).toFixed(1)} s (garbage collector)`,
    );
    expect(byRun).toBeLessThan(10_000);
    // The collector finds a newly registered API at its next discovery resync (30 s).
    expect(byOwner).toBeLessThan(45_000);
  });

  it('stop START_EVALUATION evaluates what was collected before the duration ends', async () => {
    await env.apply(runObject('early', 'storefront-cve'));
    await stateIs('early', 'COLLECTING_DATA');
    await stop('early', 'START_EVALUATION');
    const done = await stateIs('early', 'COMPLETED');
    expect(
      Date.parse(done.status!.completedAt!) - Date.parse(done.status!.startedAt!),
    ).toBeLessThan(180_000);
    expect(done.status?.stateChanges?.map((c) => c.state)).toEqual([
      ...CLASSIC_HAPPY_PATH,
      'COMPLETED',
    ]);
    // Only the Deployment was there this time.
    const findings = await findingsOf('early');
    expect(new Set(findings.map((f) => f.status.resource.id))).toEqual(
      new Set([`${web.repository}@${web.digest}`]),
    );
  });

  it('stop SKIP_EVALUATION ends CANCELED with no findings', async () => {
    await env.apply(runObject('skipped', 'storefront-cve'));
    await stateIs('skipped', 'COLLECTING_DATA');
    await stop('skipped', 'SKIP_EVALUATION');
    const done = await stateIs('skipped', 'CANCELED');
    expect(done.status?.stateChanges?.map((c) => c.state)).toEqual([
      'CREATED',
      'START_DATA_COLLECTION_PENDING',
      'START_DATA_COLLECTION_IN_PROGRESS',
      'COLLECTING_DATA',
      'CANCELED',
    ]);
    expect(done.status?.findingCounts).toBeUndefined();
    expect(await findingsOf('skipped')).toEqual([]);
  });

  it('a missing target and unknown time zones are refused by the template; its runs fail', async () => {
    await env.apply(
      template('hardening', { targetRef: { name: 'nowhere' }, rulesPackages: ['cve', 'cis'] }),
    );
    const stalled = await eventually('template stalled', async () => {
      const t = await getJson<{ status?: { conditions?: Condition[] } }>(
        'assessmenttemplate',
        'hardening',
        '-n',
        NS,
      );
      return t.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
    });
    expect(stalled.reason).toBe('TargetNotFound');
    expect(stalled.message).toContain('AssessmentTarget nowhere does not exist');
    await env.apply(runObject('hardening-1', 'hardening'));
    const failed = await stateIs('hardening-1', 'FAILED');
    expect(failed.status?.stateChanges?.map((c) => c.state)).toEqual(['CREATED', 'FAILED']);
    expect(failed.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Failed',
    });
    expect(failed.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'nowhere',
    );

    // A schedule in a time zone nobody knows is refused the same way, naming the field.
    await env.apply(
      template('martian', {
        targetRef: { name: 'storefront' },
        rulesPackages: ['cve'],
        schedule: '0 3 * * *',
        timeZone: 'Mars/Olympus_Mons',
      }),
    );
    const zone = await eventually('martian template stalled', async () => {
      const t = await getJson<{ status?: { conditions?: Condition[] } }>(
        'assessmenttemplate',
        'martian',
        '-n',
        NS,
      );
      return t.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
    });
    expect(zone).toMatchObject({
      reason: 'InvalidSchedule',
      message: 'spec.timeZone "Mars/Olympus_Mons" is not a known IANA time zone',
    });
  });

  it('nodes are assessed from the administrator namespace, with their NodeInventory packages', async () => {
    const admin = env.adminNamespace;
    const old = debianPackages().map((p) =>
      p.sourceName === 'openssl' ? { ...p, version: '3.0.9-1', sourceVersion: '3.0.9-1' } : p,
    );
    const inventory = { apiVersion: API, kind: 'NodeInventory', metadata: { name: 'node-1' } };
    await writer.apply(kinds.nodeInventories, inventory, AGENT_FIELD_MANAGER);
    await writer.apply(
      kinds.nodeInventories,
      {
        ...inventory,
        status: { ...inventoryStatus('node-1', { collectedAt: Date.now() }), packages: old },
      },
      AGENT_FIELD_MANAGER,
      'status',
    );
    await env.apply(
      target(
        'blue-nodes',
        { resourceTypes: ['NODE'], selectors: [{ matchLabels: { pool: 'blue' } }] },
        admin,
      ),
      template('nodes-cve', { targetRef: { name: 'blue-nodes' }, rulesPackages: ['cve'] }, admin),
      runObject('nodes-1', 'nodes-cve', admin),
    );
    await stateIs('nodes-1', 'COLLECTING_DATA', admin);
    await stop('nodes-1', 'START_EVALUATION', admin);
    const done = await stateIs('nodes-1', 'COMPLETED', admin);
    expect(done.status?.collected?.nodes).toEqual(['node-1']);
    const findings = await findingsOf('nodes-1', admin);
    expect(findings.map((f) => f.status.vulnerabilityId)).toContain('CVE-2023-5363');
    expect(
      new Set(findings.map((f) => `${f.status.resource.type}/${f.status.resource.id}`)),
    ).toEqual(new Set(['NODE/node-1']));
  });

  it('an image that cannot be scanned is reported, and the run ends COMPLETED_WITH_ERRORS', async () => {
    const ghost = `${registry.host}/shop/ghost:1.0`;
    await runPod(
      writer,
      NS,
      'ghost',
      'node-1',
      [
        {
          name: 'ghost',
          image: {
            repository: `${registry.host}/shop/ghost`,
            reference: ghost,
            digest: '',
            imageID: '',
          },
        },
      ],
      'Starting',
      Date.now(),
      { labels: { app: 'ghost' } },
    );
    await env.apply(
      target('ghosts', { selectors: [{ matchLabels: { app: 'ghost' } }] }),
      template('ghosts-cve', { targetRef: { name: 'ghosts' }, rulesPackages: ['cve'] }),
      runObject('ghosts-1', 'ghosts-cve'),
    );
    await stateIs('ghosts-1', 'COLLECTING_DATA');
    await stop('ghosts-1', 'START_EVALUATION');
    const done = await stateIs('ghosts-1', 'COMPLETED_WITH_ERRORS');
    const ready = done.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'CompletedWithErrors' });
    expect(ready?.message).toContain(`${ghost}: `);
    expect(done.status?.findingCounts?.total).toBe(0);
    await env.kubectl('delete', 'pod', 'ghost', '-n', NS, '--grace-period=0', '--force');
  });

  it('a target of workloads alone gives the cve rules package nothing to evaluate, and the run says so', async () => {
    await env.apply(
      target('web-only', {
        resourceTypes: ['WORKLOAD'],
        selectors: [{ matchLabels: { app: 'web' } }],
      }),
      template('web-only-cve', { targetRef: { name: 'web-only' }, rulesPackages: ['cve'] }),
      runObject('web-only-1', 'web-only-cve'),
    );
    await stateIs('web-only-1', 'COLLECTING_DATA');
    await stop('web-only-1', 'START_EVALUATION');
    const done = await stateIs('web-only-1', 'COMPLETED');
    expect(done.status?.resourceCounts).toEqual({ nodes: 0, workloads: 1, images: 0 });
    expect(done.status?.findingCounts?.total).toBe(0);
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'no node or image was collected',
    );
  });

  it('what a run collected survives a controller restart', async () => {
    await env.apply(runObject('restart-1', 'storefront-cve'));
    await stateIs('restart-1', 'COLLECTING_DATA');
    await runPod(
      writer,
      NS,
      'blip',
      'node-1',
      [{ name: 'blip', image: debug }],
      'Running',
      Date.now(),
      { labels: { tier: 'batch' } },
    );
    await eventually('blip collected', async () =>
      (await run('restart-1')).status?.collected?.workloads?.some((w) => w.name === 'blip')
        ? true
        : undefined,
    );
    // The controller goes away; the pod goes away while it is down; a new controller takes over.
    await controller.stop();
    await env.kubectl('delete', 'pod', 'blip', '-n', NS, '--grace-period=0', '--force');
    controller = await startController(env, {
      clock,
      database,
      insecureRegistries: [registry.host],
      setups: [setupAssessments],
    });
    await stop('restart-1', 'START_EVALUATION');
    const done = await stateIs('restart-1', 'COMPLETED');
    expect(done.status?.stateChanges?.map((c) => c.state)).toEqual([
      ...CLASSIC_HAPPY_PATH,
      'COMPLETED',
    ]);
    const images = new Set((await findingsOf('restart-1')).map((f) => f.status.resource.id));
    expect(images).toEqual(
      new Set([`${web.repository}@${web.digest}`, `${debug.repository}@${debug.digest}`]),
    );

    // The controller's status writes carry the resourceVersion it computed from: one made from
    // a view older than the run is refused instead of taking the run back a state.
    const stale = await env.client.get<KubeObject>(
      objectPath(kinds.assessmentRuns, 'restart-1', NS),
    );
    await poke('assessmentrun', 'restart-1');
    const write = apply(
      env.client,
      kinds.assessmentRuns,
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: {
          name: 'restart-1',
          namespace: NS,
          resourceVersion: stale.metadata.resourceVersion!,
        },
        status: { state: 'COLLECTING_DATA' },
      },
      { status: true },
    );
    await expect(write).rejects.toMatchObject({ status: 409 });
    expect((await run('restart-1')).status?.state).toBe('COMPLETED');
  });

  it('a schedule starts runs, skips a start while one is running (Forbid), and keeps the history limit', async () => {
    // Schedule three times five minutes apart, all well after both clocks.
    const { m, h, at } = scheduleTimes();
    await env.apply(
      template('nightly', {
        targetRef: { name: 'storefront' },
        rulesPackages: ['cve'],
        schedule: `${m},${m + 5},${m + 10} ${h} * * *`,
        concurrencyPolicy: 'Forbid',
        successfulRunsHistoryLimit: 1,
      }),
    );
    const tpl = () =>
      getJson<{
        status?: {
          lastScheduleTime?: string;
          nextScheduleTime?: string;
          activeRuns?: string[];
          lastRunName?: string;
        };
      }>('assessmenttemplate', 'nightly', '-n', NS);
    await eventually('next schedule time', async () =>
      (await tpl()).status?.nextScheduleTime === rfc(at(0)) ? true : undefined,
    );
    const runsOfNightly = async () =>
      (
        await getJson<{ items: Run[] }>(
          'assessmentruns',
          '-n',
          NS,
          '-l',
          'kubeinspector.io/template=nightly',
        )
      ).items
        .map((r) => r.metadata.name)
        .sort();

    // First time: a run starts.
    clock.set(at(0));
    await poke('assessmenttemplate', 'nightly');
    const first = `nightly-${Math.floor(at(0).getTime() / 60_000)}`;
    await stateIs(first, 'COLLECTING_DATA');

    // Second time, the first still collecting: Forbid skips it.
    clock.set(at(1));
    await poke('assessmenttemplate', 'nightly');
    await eventually('second start skipped', async () => {
      const t = await tpl();
      return t.status?.lastScheduleTime === rfc(at(1)) ? t : undefined;
    });
    expect(await runsOfNightly()).toEqual([first]);
    const skippedEvents = await env.kubectl(
      'get',
      'events.events.k8s.io',
      '-n',
      NS,
      '--field-selector',
      'regarding.name=nightly',
      '-o',
      'jsonpath={.items[*].reason}',
    );
    expect(skippedEvents.split(' ')).toContain('RunSkipped');

    // The first run ends; the third time starts a run, and the first is let go (limit 1).
    await stop(first, 'START_EVALUATION');
    await stateIs(first, 'COMPLETED');
    expect((await findingsOf(first)).length).toBeGreaterThan(0);
    clock.set(at(2));
    await poke('assessmenttemplate', 'nightly');
    const third = `nightly-${Math.floor(at(2).getTime() / 60_000)}`;
    await stateIs(third, 'COLLECTING_DATA');
    await stop(third, 'START_EVALUATION');
    await stateIs(third, 'COMPLETED');
    await eventually('history limit applied', async () =>
      JSON.stringify(await runsOfNightly()) === JSON.stringify([third]) ? true : undefined,
    );
    // The deleted run's findings went with it.
    await eventually(
      'findings of the first run gone',
      async () => ((await findingsOf(first)).length === 0 ? true : undefined),
      90_000,
    );
    expect((await findingsOf(third)).length).toBeGreaterThan(0);
  });

  it('Replace stops the running scheduled run with SKIP_EVALUATION, and the failed history limit applies', async () => {
    const { m, h, at } = scheduleTimes();
    await env.apply(
      template('replaced', {
        targetRef: { name: 'storefront' },
        rulesPackages: ['cve'],
        schedule: `${m},${m + 5},${m + 10} ${h} * * *`,
        concurrencyPolicy: 'Replace',
        failedRunsHistoryLimit: 1,
      }),
    );
    const name = (i: number) => `replaced-${Math.floor(at(i).getTime() / 60_000)}`;
    await eventually('next schedule time', async () =>
      (
        await getJson<{ status?: { nextScheduleTime?: string } }>(
          'assessmenttemplate',
          'replaced',
          '-n',
          NS,
        )
      ).status?.nextScheduleTime === rfc(at(0))
        ? true
        : undefined,
    );
    clock.set(at(0));
    await poke('assessmenttemplate', 'replaced');
    await stateIs(name(0), 'COLLECTING_DATA');
    clock.set(at(1));
    await poke('assessmenttemplate', 'replaced');
    const canceled = await stateIs(name(0), 'CANCELED');
    expect(canceled.spec.stop).toEqual({ action: 'SKIP_EVALUATION' });
    await stateIs(name(1), 'COLLECTING_DATA');
    expect(await findingsOf(name(0))).toEqual([]);
    // A second failed run: only the newest failed one is kept.
    await stop(name(1), 'SKIP_EVALUATION');
    await stateIs(name(1), 'CANCELED');
    await eventually('failed history limit applied', async () => {
      const names = (
        await getJson<{ items: Run[] }>(
          'assessmentruns',
          '-n',
          NS,
          '-l',
          'kubeinspector.io/template=replaced',
        )
      ).items.map((r) => r.metadata.name);
      return JSON.stringify(names) === JSON.stringify([name(1)]) ? true : undefined;
    });
  });
});
