import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';
import { FINDINGS_API_VERSION, LABELS } from '../api/v1alpha1/common.ts';
import { seededRandom, type Random } from '../vulndb/testing/random.ts';
import {
  findingFields,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.ts';
import { copyFindings } from './copy.ts';
import { PostgresFindingStore } from './postgres.ts';
import { SqliteFindingStore, type SqliteFindingStoreOptions } from './sqlite.ts';
import {
  StoreError,
  type BatchWrite,
  type FindingStore,
  type FindingWatch,
  type ListOptions,
  type StoredFinding,
  type WatchEvent,
} from './store.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'findings-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'findings.db');
}

function open(options: Partial<SqliteFindingStoreOptions> = {}, path = tempPath()) {
  const store = new SqliteFindingStore({ path, ...options });
  cleanups.push(() => store.close());
  return { store, path };
}

// ---------------------------------------------------------------- the backends

// PostgreSQL answers each statement over a socket: the randomised and concurrent tests take
// seconds there on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 });

// One PostgreSQL server for the file; every store gets a database of its own.
let server: TestPostgres | undefined;
beforeAll(async () => {
  server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** The options both backends take. */
type CommonOptions = Partial<
  Pick<
    SqliteFindingStoreOptions,
    'now' | 'pageSize' | 'maxEvents' | 'eventWindowMs' | 'watchBufferSize'
  >
>;

interface Backend {
  name: string;
  open(options?: CommonOptions): Promise<{ store: FindingStore }>;
  /** How the backend plans a page selected by the severity label. */
  severityPlan(store: FindingStore): Promise<string>;
  severityIndex: RegExp;
  /** Snapshots (read transactions) still open. */
  heldSnapshots(store: FindingStore): Promise<number>;
}

const PAGE_BY_SEVERITY =
  'SELECT id FROM findings f WHERE f.l_severity = ? AND f.id > ? ORDER BY f.id LIMIT 500';

async function openPostgres(options: CommonOptions = {}): Promise<PostgresFindingStore> {
  if (server === undefined) throw new Error('PostgreSQL did not start');
  const { url } = await server.createDatabase();
  const store = await PostgresFindingStore.open({ url, ...options });
  cleanups.push(() => store.close());
  return store;
}

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    open: (options) => Promise.resolve(open(options)),
    severityPlan: (store) => {
      const db = (store as SqliteFindingStore).db;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${PAGE_BY_SEVERITY}`).all('CRITICAL', 0) as {
        detail: string;
      }[];
      return Promise.resolve(plan.map((p) => p.detail).join('\n'));
    },
    severityIndex: /USING (COVERING )?INDEX findings_l_severity/,
    heldSnapshots: (store) => {
      // A checkpoint can truncate the WAL only when no reader holds an older snapshot.
      const db = (store as SqliteFindingStore).db;
      const row = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
      return Promise.resolve(row.busy);
    },
  },
  {
    name: 'PostgreSQL',
    open: async (options) => ({ store: await openPostgres(options) }),
    severityPlan: async (store) => {
      const client = await (store as PostgresFindingStore).pool.connect();
      try {
        // A test table is small enough for a sequential scan: ask what the index path is.
        await client.query('SET enable_seqscan = off');
        const sql = PAGE_BY_SEVERITY.replace('?', '$1').replace('?', '$2');
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [
          'CRITICAL',
          0,
        ]);
        await client.query('RESET enable_seqscan');
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        client.release();
      }
    },
    severityIndex: /Index (Only )?Scan using findings_l_severity/,
    heldSnapshots: async (store) => {
      await new Promise((r) => setTimeout(r, 50));
      const { rows } = await (store as PostgresFindingStore).pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
      );
      return rows[0]!.n;
    },
  },
];

const ADMIN = 'kube-inspector-system';

/** What the store assigns on create. */
function pick(m: StoredFinding['metadata']) {
  return {
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    generation: m.generation,
    creationTimestamp: m.creationTimestamp,
  };
}

/** The status of a finding, for reading and editing in tests. */
function st(f: StoredFinding | undefined): Record<string, unknown> {
  return (f?.status ?? {}) as Record<string, unknown>;
}
const description = 'A heap overflow in the parser lets a remote attacker run code. '.repeat(20);

function advisory(n: number) {
  return {
    description: `${n}: ${description}`,
    cvss: [
      {
        version: '3.1',
        scoringVector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
        baseScore: 9.8,
        source: 'NVD',
      },
    ],
    referenceUrls: [`https://security-tracker.debian.org/tracker/CVE-2024-${n}`],
    vulnerabilitySource: 'DEBIAN_CVE',
    aliases: [`DSA-${n}-1`],
    exploitAvailable: 'NO',
    epss: { score: 0.02 },
  };
}

function finding(
  name: string,
  options: {
    namespace?: string;
    vuln?: number;
    severity?: string;
    labels?: Record<string, string>;
    /** The resource's name; default: one resource per finding. */
    resource?: string;
  } = {},
): StoredFinding {
  const vuln = options.vuln ?? 1;
  const severity = options.severity ?? 'HIGH';
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: {
      namespace: options.namespace ?? ADMIN,
      name,
      labels: {
        [LABELS.severity]: severity,
        [LABELS.type]: 'PACKAGE_VULNERABILITY',
        [LABELS.status]: 'ACTIVE',
        [LABELS.resourceType]: 'CONTAINER_IMAGE',
        [LABELS.vulnerabilityId]: `CVE-2024-${vuln}`,
        ...options.labels,
      },
      managedFields: [
        {
          manager: 'kube-inspector',
          operation: 'Apply',
          apiVersion: FINDINGS_API_VERSION,
          time: `2026-01-01T00:00:${String(vuln % 60).padStart(2, '0')}Z`,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:status': { 'f:severity': {}, 'f:title': {} } },
          subresource: 'status',
        },
      ],
    },
    spec: { attributes: { team: 'payments' } },
    status: {
      type: 'PACKAGE_VULNERABILITY',
      title: `CVE-2024-${vuln} - openssl`,
      severity,
      status: 'ACTIVE',
      vulnerabilityId: `CVE-2024-${vuln}`,
      ...advisory(vuln),
      packages: [
        { name: 'openssl', version: '3.0.11-1~deb12u1', fixedInVersion: '3.0.13-1~deb12u1' },
      ],
      resource: {
        type: 'CONTAINER_IMAGE',
        id: `registry.local/app@sha256:${(options.resource ?? name).padEnd(64, '0')}`,
      },
      rulesPackage: 'cve',
      recommendation: { text: 'Upgrade openssl to 3.0.13-1~deb12u1 or later.' },
    },
  };
}

async function expectStoreError(
  p: Promise<unknown>,
  reason: string,
  message?: RegExp,
): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).reason).toBe(reason);
  if (message) expect((err as StoreError).message).toMatch(message);
}

/** Reads n events, failing after a timeout. */
async function take(watch: FindingWatch, n: number, timeoutMs = 5_000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (n === 0) return out;
  const it = watch[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const timeout = new Promise<'timeout'>((r) =>
      setTimeout(() => r('timeout'), deadline - Date.now()).unref(),
    );
    const next = await Promise.race([it.next(), timeout]);
    if (next === 'timeout') throw new Error(`only ${out.length} of ${n} events arrived`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

function summary(events: WatchEvent[]): string[] {
  return events.map(
    (e) => `${e.type} ${e.object.metadata.name ?? ''}@${e.object.metadata.resourceVersion}`,
  );
}

describe.each(BACKENDS)('$name: CRUD', (backend) => {
  it('creates, reads back the same object, updates and deletes', async () => {
    const { store } = await backend.open({ now: () => Date.parse('2026-01-02T03:04:05.678Z') });
    const input = finding('f1', { labels: { team: 'payments', 'example.com/tier': '1' } });
    const created = await store.create(input);
    expect(created.metadata).toMatchObject({
      name: 'f1',
      namespace: ADMIN,
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: '2026-01-02T03:04:05Z',
    });
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.status).toEqual(input.status);
    expect(await store.get(ADMIN, 'f1')).toEqual(created);

    const changed = structuredClone(created);
    st(changed).severity = 'CRITICAL';
    changed.metadata.labels![LABELS.severity] = 'CRITICAL';
    const updated = await store.update(changed);
    expect(updated.metadata.resourceVersion).toBe('2');
    expect(updated.metadata.generation).toBe(1);
    expect(await store.get(ADMIN, 'f1')).toEqual(updated);

    const deleted = await store.delete(ADMIN, 'f1');
    expect(deleted.metadata.resourceVersion).toBe('3');
    expect(deleted.status).toEqual(updated.status);
    expect(await store.get(ADMIN, 'f1')).toBeUndefined();
    expect(store.currentResourceVersion()).toBe('3');
  });

  it('reads back objects without status, labels or managedFields unchanged', async () => {
    const { store } = await backend.open();
    const bare: StoredFinding = {
      apiVersion: FINDINGS_API_VERSION,
      kind: 'Finding',
      metadata: { namespace: 'ns', name: 'bare', annotations: { a: 'b' } },
      spec: { attributes: { k: 'v' } },
    };
    const created = await store.create(bare);
    expect(created).toEqual({
      ...bare,
      metadata: { ...bare.metadata, ...pick(created.metadata) },
    });
    expect(await store.get('ns', 'bare')).toEqual(created);
    const emptyStatus = await store.create({
      ...bare,
      metadata: { namespace: 'ns', name: 'e' },
      status: {},
    });
    expect((await store.get('ns', 'e'))?.status).toEqual({});
    expect(emptyStatus.status).toEqual({});
  });

  it('refuses duplicates, missing objects and versions on create', async () => {
    const { store } = await backend.open();
    await store.create(finding('f1'));
    await expectStoreError(store.create(finding('f1')), 'AlreadyExists', /"f1" already exists/);
    await expectStoreError(store.update(finding('nope')), 'NotFound', /"nope" not found/);
    await expectStoreError(store.delete(ADMIN, 'nope'), 'NotFound');
    const withVersion = finding('f2');
    withVersion.metadata.resourceVersion = '7';
    await expectStoreError(store.create(withVersion), 'Invalid', /resourceVersion/);
    const noName = finding('');
    await expectStoreError(store.create(noName), 'Invalid', /metadata.name/);
  });

  it('answers Conflict on a stale resourceVersion or failed delete preconditions', async () => {
    const { store } = await backend.open();
    const v1 = await store.create(finding('f1'));
    const v2 = await store.update({ ...v1, spec: { attributes: { team: 'x' } } });
    await expectStoreError(store.update({ ...v1, spec: {} }), 'Conflict', /has been modified/);
    await expectStoreError(
      store.delete(ADMIN, 'f1', {
        preconditions: { resourceVersion: v1.metadata.resourceVersion! },
      }),
      'Conflict',
      /ResourceVersion in precondition/,
    );
    await expectStoreError(
      store.delete(ADMIN, 'f1', { preconditions: { uid: 'other' } }),
      'Conflict',
      /UID in precondition/,
    );
    const gone = await store.delete(ADMIN, 'f1', {
      preconditions: { uid: v2.metadata.uid!, resourceVersion: v2.metadata.resourceVersion! },
    });
    expect(gone.metadata.uid).toBe(v1.metadata.uid);
  });

  it('changes nothing on dryRun', async () => {
    const { store } = await backend.open();
    const dry = await store.create(finding('f1'), { dryRun: true });
    expect(dry.metadata.uid).toBeDefined();
    expect(dry.metadata.resourceVersion).toBeUndefined();
    expect(await store.get(ADMIN, 'f1')).toBeUndefined();
    expect(store.currentResourceVersion()).toBe('0');

    const real = await store.create(finding('f1'));
    const edit = { ...real, spec: { attributes: { team: 'dry' } } };
    const dryUpdate = await store.update(edit, { dryRun: true });
    expect(dryUpdate.spec).toEqual({ attributes: { team: 'dry' } });
    expect(dryUpdate.metadata.resourceVersion).toBe(real.metadata.resourceVersion);
    await store.delete(ADMIN, 'f1', { dryRun: true });
    expect(await store.get(ADMIN, 'f1')).toEqual(real);
    expect(store.currentResourceVersion()).toBe('1');
  });

  it('increments generation on spec changes only and keeps the version of a no-op update', async () => {
    const { store } = await backend.open();
    const v1 = await store.create(finding('f1'));
    const statusOnly = structuredClone(v1);
    st(statusOnly).title = 'new title';
    const v2 = await store.update(statusOnly);
    expect(v2.metadata.generation).toBe(1);
    const v3 = await store.update({ ...v2, spec: { attributes: { team: 'other' } } });
    expect(v3.metadata.generation).toBe(2);
    expect(v3.metadata.resourceVersion).toBe('3');

    const watch = await store.watch({ resourceVersion: '3' });
    const same = await store.update(structuredClone(v3));
    expect(same).toEqual(v3);
    const unversioned = structuredClone(v3);
    delete unversioned.metadata.resourceVersion;
    expect((await store.update(unversioned)).metadata.resourceVersion).toBe('3');
    expect(store.currentResourceVersion()).toBe('3');
    await store.delete(ADMIN, 'f1');
    expect(summary(await take(watch, 1))).toEqual(['DELETED f1@4']);
  });

  it('runs a batch as one transaction: all or nothing', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    await expectStoreError(
      store.batch([
        { op: 'create', finding: finding('b') },
        { op: 'create', finding: finding('a') },
      ]),
      'AlreadyExists',
    );
    expect(await store.get(ADMIN, 'b')).toBeUndefined();
    expect(store.currentResourceVersion()).toBe('1');
    const done = await store.batch([
      { op: 'create', finding: finding('b') },
      { op: 'upsert', finding: finding('a', { severity: 'LOW' }) },
      { op: 'upsert', finding: finding('c') },
      { op: 'delete', namespace: ADMIN, name: 'b' },
    ]);
    expect(done.map((f) => `${f.metadata.name}@${f.metadata.resourceVersion}`)).toEqual([
      'b@2',
      'a@3',
      'c@4',
      'b@5',
    ]);
    expect(st(await store.get(ADMIN, 'a')).severity).toBe('LOW');
  });

  it('keeps names with quotes and backslashes as given (never read as SQL)', async () => {
    const { store } = await backend.open();
    const namespace = "ns'; DROP TABLE findings; --";
    const name = "o'brien\\'\\\\x";
    await store.create(finding(name, { namespace }));
    const [updated] = await store.batch([
      { op: 'upsert', finding: finding(name, { namespace, severity: 'LOW' }) },
    ]);
    expect(updated?.metadata).toMatchObject({ namespace, name, resourceVersion: '2' });
    expect(st(await store.get(namespace, name)).severity).toBe('LOW');
    expect((await store.delete(namespace, name)).metadata.name).toBe(name);
    expect(await store.count({})).toBe(0);
  });

  it('writes a large batch, one finding several times, with its labels and one event each', async () => {
    const { store } = await backend.open();
    await store.batch([
      { op: 'create', finding: finding('kept', { labels: { team: 'red', tier: '1' } }) },
      { op: 'create', finding: finding('gone', { labels: { team: 'red' } }) },
    ]);
    const watch = await store.watch({ resourceVersion: store.currentResourceVersion() });
    const many = Array.from({ length: 300 }, (_, i) =>
      finding(`n${i}`, { vuln: i % 7, labels: i % 2 === 0 ? { team: 'blue' } : {} }),
    );
    const done = await store.batch([
      ...many.map((f): BatchWrite => ({ op: 'upsert', finding: f })),
      { op: 'upsert', finding: finding('kept', { severity: 'LOW', labels: { team: 'blue' } }) },
      { op: 'delete', namespace: ADMIN, name: 'gone' },
      { op: 'upsert', finding: finding('kept', { severity: 'CRITICAL', vuln: 99 }) },
      { op: 'create', finding: finding('gone', { labels: { team: 'green' } }) },
      { op: 'delete', namespace: ADMIN, name: 'n0' },
    ]);
    expect(done.map((f) => f.metadata.resourceVersion)).toEqual(
      Array.from({ length: 305 }, (_, i) => String(i + 3)),
    );
    const names = async (selector: string) =>
      (await store.list({ labelSelector: parseLabelSelector(selector) })).items
        .map((f) => f.metadata.name)
        .sort();
    expect(await names('team=red')).toEqual([]);
    expect(await names('team=green')).toEqual(['gone']);
    expect(await names('tier')).toEqual([]);
    expect((await names('team=blue')).length).toBe(149);
    const kept = await store.get(ADMIN, 'kept');
    expect(st(kept).severity).toBe('CRITICAL');
    expect(kept?.metadata.labels?.team).toBeUndefined();
    expect(kept?.metadata.labels?.[LABELS.vulnerabilityId]).toBe('CVE-2024-99');
    expect(await store.count({})).toBe(301);
    const events: WatchEvent[] = [];
    for await (const e of watch) {
      events.push(e);
      if (events.length === 305) break;
    }
    watch.close();
    expect(events.map((e) => e.object.metadata.resourceVersion)).toEqual(
      done.map((f) => f.metadata.resourceVersion),
    );
    expect(events.slice(-5).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'MODIFIED kept',
      'DELETED gone',
      'MODIFIED kept',
      'ADDED gone',
      'DELETED n0',
    ]);
  });
});

// ---------------------------------------------------------------- selectors in SQL

const KEYS = [LABELS.severity, LABELS.status, LABELS.run, 'team', 'example.com/n', 'tier'];
const VALUES = ['CRITICAL', 'HIGH', 'LOW', 'a', '1', '7', '12', ''];

function randomObject(rng: Random, i: number): StoredFinding {
  const f = finding(`f${i}`, {
    namespace: rng.pick(['ns-a', 'ns-b', ADMIN]),
    vuln: rng.int(5),
    severity: rng.pick(['CRITICAL', 'HIGH', 'LOW']),
  });
  const labels: Record<string, string> = {};
  for (const k of KEYS) if (rng.chance(0.6)) labels[k] = rng.pick(VALUES);
  f.metadata.labels = labels;
  if (rng.chance(0.2)) delete st(f).rulesPackage;
  if (rng.chance(0.2)) st(f).status = 'CLOSED';
  return f;
}

function randomRequirement(rng: Random): string {
  const k = rng.pick(KEYS);
  const v = () => rng.pick(VALUES);
  switch (rng.int(8)) {
    case 0:
      return `${k}=${v()}`;
    case 1:
      return `${k}!=${v()}`;
    case 2:
      return `${k} in (${v()},${v()})`;
    case 3:
      return `${k} notin (${v()})`;
    case 4:
      return k;
    case 5:
      return `!${k}`;
    case 6:
      return `${k}>${rng.int(15)}`;
    default:
      return `${k}<${rng.int(15)}`;
  }
}

function randomFieldTerm(rng: Random): string {
  const field = rng.pick([
    'metadata.namespace',
    'status.severity',
    'status.status',
    'status.rulesPackage',
    'status.vulnerabilityId',
    'metadata.name',
  ]);
  const value = rng.pick(['ns-a', ADMIN, 'CRITICAL', 'CLOSED', 'cve', '', 'CVE-2024-3', 'f3']);
  return `${field}${rng.pick(['=', '==', '!='])}${value}`;
}

async function listAll(store: FindingStore, options: ListOptions) {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list({ ...options, limit: 37, ...(token ? { continue: token } : {}) });
    names.push(...page.items.map((f) => `${f.metadata.namespace}/${f.metadata.name}`));
    token = page.continue;
  } while (token !== undefined);
  return names;
}

describe.each(BACKENDS)('$name: selectors in SQL', (backend) => {
  it('selects exactly what the pure matchers select, for random objects and selectors', async () => {
    const { store } = await backend.open();
    const rng = seededRandom(1234);
    const objects = Array.from({ length: 150 }, (_, i) => randomObject(rng, i));
    await store.batch(objects.map((finding) => ({ op: 'create', finding })));
    for (let round = 0; round < 250; round++) {
      const labelText = Array.from({ length: 1 + rng.int(3) }, () => randomRequirement(rng)).join(
        ',',
      );
      const fieldText = rng.chance(0.5) ? randomFieldTerm(rng) : '';
      const namespace = rng.chance(0.3) ? 'ns-b' : undefined;
      const labelSelector = parseLabelSelector(labelText);
      const fieldSelector = parseFieldSelector(fieldText);
      const expected = objects
        .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
        .filter((o) => matchesLabels(labelSelector, o.metadata.labels))
        .filter((o) => matchesFields(fieldSelector, findingFields(o)))
        .map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
        .sort();
      const got = await listAll(store, {
        labelSelector,
        fieldSelector,
        ...(namespace ? { namespace } : {}),
      });
      expect({ labelText, fieldText, namespace, got: got.sort() }).toEqual({
        labelText,
        fieldText,
        namespace,
        got: expected,
      });
    }
  });

  it('refuses a field that cannot be selected on', async () => {
    const { store } = await backend.open();
    await expectStoreError(
      store.list({ fieldSelector: parseFieldSelector('spec.attributes.team=x') }),
      'Invalid',
      /field label not supported: spec.attributes.team/,
    );
  });

  it('uses an index for equality on a well-known label', async () => {
    const { store } = await backend.open();
    expect(await backend.severityPlan(store)).toMatch(backend.severityIndex);
  });
});

// ---------------------------------------------------------------- paging

describe.each(BACKENDS)('$name: paging', (backend) => {
  it('pages under concurrent writes with no duplicates and no gaps, at the first page version', async () => {
    const { store } = await backend.open();
    const rng = seededRandom(99);
    await store.batch(
      Array.from({ length: 300 }, (_, i) => ({ op: 'create' as const, finding: finding(`f${i}`) })),
    );
    const deleted = new Set<string>();
    const seen: string[] = [];
    let page = await store.list({ limit: 40 });
    const listVersion = page.resourceVersion;
    expect(page.remainingItemCount).toBe(260);
    // With a selector kube-apiserver leaves the count out, and so does the store.
    const selected = await store.list({ limit: 40, labelSelector: parseLabelSelector('!absent') });
    expect(selected.items).toHaveLength(40);
    expect(selected.continue).toBeDefined();
    expect(selected.remainingItemCount).toBeUndefined();
    for (let n = 1000; ; n++) {
      seen.push(...page.items.map((f) => f.metadata.name));
      expect(page.resourceVersion).toBe(listVersion);
      if (page.continue === undefined) break;
      for (let k = 0; k < 5; k++) {
        const victim = `f${rng.int(300)}`;
        const current = await store.get(ADMIN, victim);
        if (current && rng.chance(0.5)) {
          await store.delete(ADMIN, victim);
          deleted.add(victim);
        } else if (current)
          await store.update({ ...current, spec: { attributes: { n: String(n) } } });
      }
      await store.create(finding(`new${n}`));
      page = await store.list({ limit: 40, continue: page.continue });
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (let i = 0; i < 300; i++) if (!deleted.has(`f${i}`)) expect(seen).toContain(`f${i}`);
  });

  it('streams a full list from one snapshot while writes go on', async () => {
    const { store } = await backend.open({ pageSize: 25 });
    await store.batch(
      Array.from({ length: 200 }, (_, i) => ({ op: 'create' as const, finding: finding(`f${i}`) })),
    );
    const { resourceVersion, pages } = await store.listPages({});
    expect(resourceVersion).toBe('200');
    const names: string[] = [];
    for await (const items of pages) {
      names.push(...items.map((f) => f.metadata.name));
      await store.delete(ADMIN, `f${199 - names.length / 25}`);
      await store.create(finding(`late${names.length}`));
    }
    expect(names).toHaveLength(200);
    expect(new Set(names)).toEqual(new Set(Array.from({ length: 200 }, (_, i) => `f${i}`)));
    const full = await store.list({});
    expect(full.items).toHaveLength(200);
    expect(full.resourceVersion).toBe(store.currentResourceVersion());
  });

  it('releases the snapshot of a full list that is ended before its first page', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    const { pages } = await store.listPages({});
    const it = pages[Symbol.asyncIterator]();
    await it.return?.();
    // A checkpoint can only truncate the WAL when no reader holds an older snapshot.
    await store.create(finding('b'));
    expect(await backend.heldSnapshots(store)).toBe(0);
  });

  it('serves list versions as Kubernetes does, or Expired', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    await store.create(finding('b'));
    expect((await store.list({ resourceVersion: '1' })).resourceVersion).toBe('2');
    expect(
      (await store.list({ resourceVersion: '2', resourceVersionMatch: 'Exact' })).items,
    ).toHaveLength(2);
    await expectStoreError(
      store.list({ resourceVersion: '1', resourceVersionMatch: 'Exact' }),
      'Expired',
    );
    await expectStoreError(store.list({ resourceVersion: '9' }), 'Expired', /newer/);
    await expectStoreError(store.list({ resourceVersion: 'x' }), 'Invalid');
    await expectStoreError(store.list({ continue: 'garbage' }), 'Invalid', /continue/);
    const page = await store.list({ limit: 1 });
    await expectStoreError(
      store.list({ limit: 1, continue: page.continue!, resourceVersion: '2' }),
      'Invalid',
    );
  });

  it('deletes a collection by selector', async () => {
    const { store } = await backend.open({ pageSize: 7 });
    await store.batch(
      Array.from({ length: 40 }, (_, i) => ({
        op: 'create' as const,
        finding: finding(`f${i}`, { severity: i % 2 ? 'LOW' : 'HIGH' }),
      })),
    );
    const selector = parseLabelSelector(`${LABELS.severity}=LOW`);
    expect(
      await store.deleteCollection({ labelSelector: selector }, { dryRun: true }),
    ).toHaveLength(20);
    expect((await store.list({})).items).toHaveLength(40);
    const gone = await store.deleteCollection({ labelSelector: selector });
    expect(gone).toHaveLength(20);
    const left = (await store.list({})).items;
    expect(left.map((f) => st(f).severity)).toEqual(Array<string>(20).fill('HIGH'));
  });
});

// ---------------------------------------------------------------- watch

describe.each(BACKENDS)('$name: watch', (backend) => {
  it('resumes from a resourceVersion with every later change, in order', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    const from = store.currentResourceVersion();
    const b = await store.create(finding('b'));
    await store.update({ ...b, spec: { attributes: { x: 'y' } } });
    await store.delete(ADMIN, 'a');
    const watch = await store.watch({ resourceVersion: from });
    await store.create(finding('c'));
    expect(summary(await take(watch, 4))).toEqual([
      'ADDED b@2',
      'MODIFIED b@3',
      'DELETED a@4',
      'ADDED c@5',
    ]);
    watch.close();
  });

  it('turns label changes into ADDED and DELETED for a selecting watch, live and replayed', async () => {
    const { store } = await backend.open();
    const selector = parseLabelSelector(`${LABELS.severity}=CRITICAL`);
    const a = await store.create(finding('a', { severity: 'LOW' }));
    const live = await store.watch({ resourceVersion: '1', labelSelector: selector });
    const up = structuredClone(a);
    up.metadata.labels![LABELS.severity] = 'CRITICAL';
    const a2 = await store.update(up);
    const a3 = await store.update({ ...a2, spec: { attributes: { x: '1' } } });
    const down = structuredClone(a3);
    down.metadata.labels![LABELS.severity] = 'LOW';
    await store.update(down);
    const expected = ['ADDED a@2', 'MODIFIED a@3', 'DELETED a@4'];
    const liveEvents = await take(live, 3);
    expect(summary(liveEvents)).toEqual(expected);
    const replayed = await store.watch({ resourceVersion: '1', labelSelector: selector });
    const replayedEvents = await take(replayed, 3);
    expect(summary(replayedEvents)).toEqual(expected);
    // As kube-apiserver's watch cache: the DELETED event carries the object as the watcher last
    // saw it (still matching), at the change's resourceVersion.
    for (const events of [liveEvents, replayedEvents]) {
      const deleted = events[2]!.object;
      expect(deleted.metadata.labels![LABELS.severity]).toBe('CRITICAL');
      expect(deleted.spec).toEqual({ attributes: { x: '1' } });
      expect(deleted.metadata.resourceVersion).toBe('4');
    }
    live.close();
    replayed.close();
  });

  it('answers Expired for a version older than the log keeps, by count and by age', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { store } = await backend.open({ maxEvents: 5, eventWindowMs: 60_000, now: () => now });
    for (let i = 0; i < 7; i++) await store.create(finding(`f${i}`));
    const page = await store.list({ limit: 2 });
    await store.create(finding('f7'));
    await expectStoreError(
      store.watch({ resourceVersion: '2' }),
      'Expired',
      /too old resource version: 2/,
    );
    const ok = await store.watch({ resourceVersion: '3' });
    expect(summary(await take(ok, 5))).toHaveLength(5);
    ok.close();
    now += 120_000;
    await store.create(finding('later'));
    expect((await store.stats()).oldestResumableResourceVersion).toBe('8');
    await expectStoreError(store.watch({ resourceVersion: '7' }), 'Expired');
    await expectStoreError(
      store.list({ limit: 2, continue: page.continue! }),
      'Expired',
      /too old/,
    );
    await expectStoreError(store.watch({ resourceVersion: '99' }), 'Expired', /newer/);
  });

  it('ends a slow consumer with Expired without blocking the writer', async () => {
    const { store } = await backend.open({ watchBufferSize: 5 });
    const watch = await store.watch({ resourceVersion: '0', sendInitialEvents: false });
    for (let i = 0; i < 10; i++) await store.create(finding(`f${i}`));
    expect(store.currentResourceVersion()).toBe('10');
    const err = await take(watch, 10).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe('Expired');
  });

  it('serves WatchList: ADDED per match, the initial-events-end bookmark, then later changes only', async () => {
    const { store } = await backend.open({ pageSize: 10 });
    await store.batch(
      Array.from({ length: 55 }, (_, i) => ({ op: 'create' as const, finding: finding(`f${i}`) })),
    );
    const watch = await store.watch({
      sendInitialEvents: true,
      allowWatchBookmarks: true,
      resourceVersion: '',
    });
    const it = watch[Symbol.asyncIterator]();
    const events: WatchEvent[] = [];
    for (let i = 0; i < 20; i++) events.push((await it.next()).value as WatchEvent);
    // Changes during the initial events: to objects already sent and to objects not yet sent.
    await store.delete(ADMIN, 'f0');
    await store.delete(ADMIN, 'f50');
    await store.create(finding('late'));
    for (;;) {
      const e = (await it.next()).value as WatchEvent;
      events.push(e);
      if (e.type === 'BOOKMARK') break;
    }
    events.push(...(await take(watch, 3)));
    const s = summary(events);
    expect(s.slice(0, 55)).toEqual(Array.from({ length: 55 }, (_, i) => `ADDED f${i}@${i + 1}`));
    expect(events[55]!.object.metadata).toEqual({
      resourceVersion: '55',
      annotations: { 'k8s.io/initial-events-end': 'true' },
    });
    expect(s.slice(56)).toEqual(['DELETED f0@56', 'DELETED f50@57', 'ADDED late@58']);
    watch.close();
  });

  it('starts with the current state when no version is given, and now when sendInitialEvents is false', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    const legacy = await store.watch({});
    const fromNow = await store.watch({ sendInitialEvents: false });
    await store.create(finding('b'));
    expect(summary(await take(legacy, 2))).toEqual(['ADDED a@1', 'ADDED b@2']);
    expect(summary(await take(fromNow, 1))).toEqual(['ADDED b@2']);
  });

  it('sends bookmarks on an interval when asked', async () => {
    const { store } = await backend.open();
    await store.create(finding('a'));
    const watch = await store.watch({
      resourceVersion: '1',
      allowWatchBookmarks: true,
      bookmarkIntervalMs: 20,
    });
    await store.create(finding('b'));
    const events = await take(watch, 2);
    expect(summary(events)).toEqual(['ADDED b@2', 'BOOKMARK @2']);
    watch.close();
  });

  it('finishes the iteration when closed', async () => {
    const { store } = await backend.open();
    const watch = await store.watch({ sendInitialEvents: false });
    setTimeout(() => watch.close(), 10);
    expect(await take(watch, 1)).toEqual([]);
  });
});

// ---------------------------------------------------------------- durability and size

describe('SqliteFindingStore query plans', () => {
  const plan = (store: SqliteFindingStore, sql: string, ...params: number[]) =>
    (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((p) => p.detail)
      .join('\n');

  it('counts what remains after a page from the index of ids, not from whole rows', () => {
    const { store } = open();
    const sql =
      'SELECT count(*) AS n FROM (SELECT 1 FROM findings f WHERE (1) AND f.id > ? LIMIT ?)';
    expect(plan(store, sql, 500, 10_000)).toMatch(
      /SEARCH f USING COVERING INDEX findings_ids \(id>\?\)/,
    );
  });

  it('reads a page of a severity from where the continue token left off (a range of the index)', () => {
    const { store } = open();
    expect(plan(store, PAGE_BY_SEVERITY.replace('?', "'CRITICAL'"), 12_345)).toMatch(
      /SEARCH f USING COVERING INDEX findings_l_severity \(l_severity=\? AND rowid>\?\)/,
    );
  });
});

describe('SqliteFindingStore on disk', () => {
  it('keeps the resourceVersion sequence and the event log across a restart', async () => {
    const path = tempPath();
    const first = new SqliteFindingStore({ path });
    await first.create(finding('a'));
    const b = await first.create(finding('b'));
    await first.update({ ...b, spec: { attributes: { x: '1' } } });
    await first.close();

    const { store } = open({}, path);
    expect(store.currentResourceVersion()).toBe('3');
    expect((await store.get(ADMIN, 'b'))?.spec).toEqual({ attributes: { x: '1' } });
    const watch = await store.watch({ resourceVersion: '1' });
    const c = await store.create(finding('c'));
    expect(c.metadata.resourceVersion).toBe('4');
    expect(summary(await take(watch, 3))).toEqual(['ADDED b@2', 'MODIFIED b@3', 'ADDED c@4']);
    await expectStoreError(store.watch({ resourceVersion: '5' }), 'Expired');
  });

  it('keeps what was committed when the process stops without closing, and says Expired past a shorter log', async () => {
    const path = tempPath();
    const crashed = new SqliteFindingStore({ path });
    cleanups.push(() => crashed.close());
    await crashed.create(finding('a'));
    await crashed.create(finding('b'));
    // A second process opening the same file (the first one never closed it).
    const { store } = open({ maxEvents: 1 }, path);
    expect(store.currentResourceVersion()).toBe('2');
    expect(await store.get(ADMIN, 'b')).toBeDefined();
    const replay = await store.watch({ resourceVersion: '0', sendInitialEvents: false });
    await store.create(finding('c'));
    expect(summary(await take(replay, 1))).toEqual(['ADDED c@3']);
    await expectStoreError(store.watch({ resourceVersion: '1' }), 'Expired');
  });

  it('reuses snapshot connections, and a reused one still reads a consistent, current snapshot', async () => {
    const { store } = open();
    await store.create(finding('a'));
    const fds = () => readdirSync('/proc/self/fd').length;
    const names = async () => {
      const out: string[] = [];
      for await (const page of (await store.listPages({})).pages)
        out.push(...page.map((f) => f.metadata.name));
      return out;
    };
    await names();
    const before = fds();
    for (let i = 0; i < 40; i++) expect(await names()).toEqual(['a']);
    expect(fds() - before).toBeLessThanOrEqual(0);
    // Held open across a write: the old state; the next one (same connection): the new state.
    const held = await store.listPages({});
    expect(fds()).toBe(before); // the kept connection, not a new one
    await store.create(finding('b'));
    expect(await names()).toEqual(['a', 'b']);
    const heldNames: string[] = [];
    for await (const page of held.pages) heldNames.push(...page.map((f) => f.metadata.name));
    expect(heldNames).toEqual(['a']);
    expect(held.resourceVersion).toBe('1');
    // Several at once: more connections while busy, at most four kept afterwards.
    const busy = await Promise.all(Array.from({ length: 8 }, () => store.listPages({})));
    const during = fds();
    for (const b of busy) for await (const _page of b.pages) break;
    expect(during - fds()).toBeGreaterThan(0);
    expect(fds() - before).toBeLessThanOrEqual(3 * 4);
  });

  it('stores each advisory once and drops it when nothing refers to it', async () => {
    const { store } = open({ maxEvents: 1 });
    const count = 2_000;
    await store.batch(
      Array.from({ length: count }, (_, i) => ({
        op: 'create' as const,
        finding: finding(`f${i}`, { vuln: i % 20, resource: `r${i % 10}` }),
      })),
    );
    const stats = await store.stats();
    expect(stats.findings).toBe(count);
    expect(stats.advisories).toBe(20);
    const jsonBytes = JSON.stringify(await store.get(ADMIN, 'f1')).length;
    // Pages in use (the event log's freed pages are reused by later writes).
    const pragma = (name: string) =>
      (store.db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]!;
    const used = (pragma('page_count') - pragma('freelist_count')) * pragma('page_size');
    const bytesPerFinding = used / count;
    console.log(
      `findings store: ${Math.round(bytesPerFinding)} bytes per finding on disk; ${jsonBytes} bytes of JSON each`,
    );
    expect(jsonBytes).toBeGreaterThan(2_000);
    expect(bytesPerFinding).toBeLessThan(jsonBytes * 0.5);
    await store.deleteCollection({});
    await store.create(finding('other', { vuln: 99 }));
    expect((await store.stats()).advisories).toBe(1);
  }, 60_000);
});

// ---------------------------------------------------------------- PostgreSQL: several replicas

/** Two store instances on one database: two serving replicas. */
async function replicas(n: number, options: CommonOptions = {}) {
  if (server === undefined) throw new Error('PostgreSQL did not start');
  const db = await server.createDatabase();
  const stores: PostgresFindingStore[] = [];
  for (let i = 0; i < n; i++) {
    const store = await PostgresFindingStore.open({ url: db.url, ...options });
    cleanups.push(() => store.close());
    stores.push(store);
  }
  return { db, stores };
}

/** Waits until a condition holds, failing after a timeout. */
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('PostgresFindingStore replicas', () => {
  it('runs the migrations once when replicas start together, and again changes nothing', async () => {
    if (server === undefined) throw new Error('PostgreSQL did not start');
    const db = await server.createDatabase();
    const stores = await Promise.all(
      [1, 2, 3].map(() => PostgresFindingStore.open({ url: db.url })),
    );
    for (const s of stores) cleanups.push(() => s.close());
    const applied = await server.admin(
      'SELECT version FROM schema_migrations ORDER BY version',
      db.database,
    );
    expect(applied.rows.map((r: { version: number }) => r.version)).toEqual([1, 2]);
    await server.admin(
      'INSERT INTO schema_migrations (version, name) VALUES (99, $$later$$)',
      db.database,
    );
    await expect(PostgresFindingStore.open({ url: db.url })).rejects.toThrow(
      /migration 99, newer than this version knows/,
    );
  });

  it('delivers a change written through one replica to a watch on another, and resumes there', async () => {
    const {
      stores: [a, b],
    } = await replicas(2);
    const watch = await b!.watch({ resourceVersion: '0', sendInitialEvents: false });
    await a!.create(finding('one'));
    const updated = await a!.update({
      ...(await a!.get(ADMIN, 'one'))!,
      spec: { attributes: { team: 'billing' } },
    });
    expect(summary(await take(watch, 2))).toEqual(['ADDED one@1', 'MODIFIED one@2']);
    watch.close();
    // A list on A, then a watch on B from its version: nothing before it, everything after.
    const list = await a!.list({ limit: 10 });
    await a!.delete(ADMIN, 'one');
    const resumed = await b!.watch({ resourceVersion: list.resourceVersion });
    expect(summary(await take(resumed, 1))).toEqual(['DELETED one@3']);
    expect(updated.metadata.resourceVersion).toBe('2');
    resumed.close();
  });

  it('orders the writes of concurrent replicas in one sequence every watcher sees whole', async () => {
    const { stores } = await replicas(3);
    const [a, b, c] = stores as [PostgresFindingStore, PostgresFindingStore, PostgresFindingStore];
    const watches = await Promise.all(
      stores.map((s) => s.watch({ resourceVersion: '0', sendInitialEvents: false })),
    );
    const writes = async (store: PostgresFindingStore, prefix: string) => {
      for (let i = 0; i < 40; i++) await store.create(finding(`${prefix}${i}`));
    };
    await Promise.all([writes(a, 'a'), writes(b, 'b')]);
    expect(c.currentResourceVersion()).not.toBe('');
    for (const w of watches) {
      const events = await take(w, 80);
      expect(events.map((e) => Number(e.object.metadata.resourceVersion))).toEqual(
        Array.from({ length: 80 }, (_, i) => i + 1),
      );
      w.close();
    }
  });

  it('loses nothing when the database restarts under load: watches resume or relist', async () => {
    if (server === undefined) throw new Error('PostgreSQL did not start');
    const { stores } = await replicas(2, { pageSize: 50 });
    const [writer, reader] = stores as [PostgresFindingStore, PostgresFindingStore];
    const watch = await reader.watch({ resourceVersion: '0', sendInitialEvents: false });
    const received: number[] = [];
    let expired = false;
    const consuming = (async () => {
      try {
        for await (const e of watch) received.push(Number(e.object.metadata.resourceVersion));
      } catch (err) {
        if (err instanceof StoreError && err.reason === 'Expired') expired = true;
        else throw err;
      }
    })();
    const committed: number[] = [];
    let stop = false;
    const writing = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const f = await writer.create(finding(`w${i}`));
          committed.push(Number(f.metadata.resourceVersion));
        } catch {
          // The database is going away or starting: try again.
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    await until('writes before the restart', () => committed.length >= 20);
    const started = async () =>
      String(
        (
          (await server!.admin('SELECT pg_postmaster_start_time()::text AS t')).rows[0] as {
            t: string;
          }
        ).t,
      );
    const before = await started();
    await server.restart(500);
    const after = committed.length;
    await until('writes after the restart', () => committed.length >= after + 20);
    stop = true;
    await writing;
    const last = Math.max(...committed);
    await until('the watch to reach the last write', () => expired || received.at(-1) === last);
    watch.close();
    await consuming;
    // Every committed write is in the database and, unless the watch was told to relist, in it.
    expect(await reader.count({})).toBe(committed.length);
    if (!expired) expect(received).toEqual([...committed].sort((x, y) => x - y));
    // The server did restart underneath (writes in flight then failed or waited for it).
    expect(await started()).not.toBe(before);
  });

  it('stores each advisory once and drops it when neither a finding nor a logged change refers to it', async () => {
    const {
      stores: [store],
    } = await replicas(1, { maxEvents: 1 });
    await store!.batch([
      { op: 'create', finding: finding('f1', { vuln: 1 }) },
      { op: 'create', finding: finding('f2', { vuln: 1 }) },
    ]);
    expect((await store!.stats()).advisories).toBe(1);
    const f2 = (await store!.get(ADMIN, 'f2'))!;
    await store!.update({ ...f2, status: finding('f2', { vuln: 2 }).status });
    expect((await store!.stats()).advisories).toBe(2);
    await store!.delete(ADMIN, 'f1');
    expect((await store!.stats()).advisories).toBe(2); // the DELETED event still shows it
    await store!.delete(ADMIN, 'f2');
    expect((await store!.stats()).advisories).toBe(1);
    await store!.create(finding('f3', { vuln: 3 }));
    expect((await store!.stats()).advisories).toBe(1);
    expect(st(await store!.get(ADMIN, 'f3')).description).toBe(
      st(finding('x', { vuln: 3 })).description,
    );
  });

  it('says it is closed when used after close', async () => {
    const store = await openPostgres();
    await store.create(finding('a'));
    await store.close();
    await expect(store.get(ADMIN, 'a')).rejects.toThrow('the PostgreSQL findings store is closed');
    await expect(store.create(finding('b'))).rejects.toThrow('findings store is closed');
    await expect(store.list({ limit: 1 })).rejects.toThrow('findings store is closed');
  });

  it('keeps its pool across the database going away and coming back', async () => {
    if (server === undefined) throw new Error('PostgreSQL did not start');
    const {
      stores: [store],
    } = await replicas(1);
    await store!.create(finding('kept'));
    await server.down();
    await expect(store!.get(ADMIN, 'kept')).rejects.toThrow();
    await server.up();
    expect((await store!.get(ADMIN, 'kept'))?.metadata.name).toBe('kept');
    await store!.create(finding('after'));
    expect(await store!.count({})).toBe(2);
  });

  it('connects with a rotated password read from the URL file', async () => {
    if (server === undefined) throw new Error('PostgreSQL did not start');
    const db = await server.createDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'findings-url-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'url');
    writeFileSync(file, `${db.url}\n`);
    const store = await PostgresFindingStore.open({
      url: () => readFileSync(file, 'utf8').trim(),
    });
    cleanups.push(() => store.close());
    await store.create(finding('before'));
    await server.admin(`ALTER ROLE ${db.role} PASSWORD 'rotated-password'`);
    writeFileSync(file, `${db.url.replace(`:${db.password}@`, ':rotated-password@')}\n`);
    // Connections already open stay; end them so the next statements need new ones.
    await server.admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${db.role}'`,
    );
    expect((await store.get(ADMIN, 'before'))?.metadata.name).toBe('before');
    await store.create(finding('after'));
    const stale = await PostgresFindingStore.open({ url: db.url }).then(
      (s) => s.close().then(() => 'connected'),
      (err: unknown) => String(err),
    );
    expect(stale).toMatch(/password authentication failed/);
  });
});

describe('copying a findings store between backends', () => {
  const MARKER = 'one-off-import';
  it('moves findings with attributes, lifecycle, evaluations and markers, SQLite to PostgreSQL and back', async () => {
    const { store: sqlite } = open();
    const objects = Array.from({ length: 120 }, (_, i) =>
      finding(`f${i}`, {
        vuln: i,
        labels: { [LABELS.coveredResource]: `r${i % 3}`, team: `t${i % 2}` },
      }),
    );
    objects[5]!.spec = { attributes: { owner: 'payments', ticket: 'SEC-1' } };
    (objects[6]!.status as Record<string, unknown>).status = 'CLOSED';
    await sqlite.batch(objects.map((f) => ({ op: 'create', finding: f })));
    const seen = new Date('2026-03-01T10:00:00Z');
    await sqlite.recordEvaluation('r1', seen);
    await sqlite.setMarker(MARKER, 1234);
    const postgres = await openPostgres();
    const result = await copyFindings(sqlite, postgres, [MARKER]);
    expect(result).toEqual({ findings: 120, evaluations: 1, markers: 1 });
    const comparable = (f: StoredFinding | undefined) => {
      const { uid: _u, resourceVersion: _r, creationTimestamp: _c, ...meta } = f!.metadata;
      return { ...f, metadata: meta };
    };
    for (const name of ['f5', 'f6', 'f7'])
      expect(comparable(await postgres.get(ADMIN, name))).toEqual(
        comparable(await sqlite.get(ADMIN, name)),
      );
    expect(await postgres.lastEvaluation('r1')).toEqual(seen);
    expect(await postgres.marker(MARKER)).toBe(1234);
    expect(await postgres.count({ labelSelector: parseLabelSelector('team=t1') })).toBe(60);
    await expect(copyFindings(sqlite, postgres, [MARKER])).rejects.toThrow(
      /already holds 120 findings/,
    );
    const { store: back } = open();
    expect((await copyFindings(postgres, back, [MARKER])).findings).toBe(120);
    expect(st(await back.get(ADMIN, 'f6')).status).toBe('CLOSED');
  });
});
