// The findings API over real HTTP with the real stores, SQLite and PostgreSQL (a server started on
// loopback by test/support/postgres.ts), every test against each: status codes, bodies, watch
// frames, Table rows, server-side apply conflicts, JSON patch test operations, 409s, the delete
// policy. Authentication reads X-Remote-User/X-Remote-Group from a plain-HTTP request (what the
// front-proxy authenticator yields after its certificate check); authorisation is a table.
// Response bodies are JSON read by path, as a client reads them.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return */
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';
import { PostgresFindingStore } from '../findings-store/postgres.ts';
import { SqliteFindingStore, type SqliteFindingStoreOptions } from '../findings-store/sqlite.ts';
import type { FindingStore, StoredFinding } from '../findings-store/store.ts';
import type {
  AuthenticationResult,
  Authenticator,
  Authorizer,
  RequestAttributes,
} from './auth-types.ts';
import {
  type FindingsApiOptions,
  type RunningServer,
  createFindingsApiServer,
  listenFindingsApi,
} from './server.ts';

const CONTROLLER = 'system:serviceaccount:kube-inspector-system:kube-inspector-controller';
const GC = 'system:serviceaccount:kube-system:generic-garbage-collector';
const NS_CONTROLLER = 'system:serviceaccount:kube-system:namespace-controller';
const BASE = '/apis/findings.kubeinspector.io/v1alpha1';
const TABLE =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

/** The user kube-apiserver's front proxy names, read from the headers. */
const headerAuthenticator: Authenticator = {
  authenticate(req: IncomingMessage): AuthenticationResult {
    const name = req.headers['x-remote-user'];
    if (typeof name !== 'string' || name === '') return { ok: false, message: 'no user' };
    const groups = req.headers['x-remote-group'];
    return {
      ok: true,
      user: { name, groups: typeof groups === 'string' ? groups.split(',') : [], extra: {} },
    };
  },
};

/** RBAC as a table: user → verbs allowed (on any finding). */
function tableAuthorizer(
  table: Record<string, string[]>,
): Authorizer & { asked: RequestAttributes[] } {
  const asked: RequestAttributes[] = [];
  return {
    asked,
    authorize(a) {
      asked.push(a);
      const verbs = table[a.user.name] ?? [];
      return Promise.resolve({
        allowed: verbs.includes('*') || verbs.includes(a.verb),
        reason: verbs.length ? '' : 'no RBAC',
      });
    },
  };
}

const RBAC = {
  [CONTROLLER]: ['*'],
  [GC]: ['*'],
  [NS_CONTROLLER]: ['*'],
  alice: ['get', 'list', 'watch', 'patch', 'update', 'delete'],
  reader: ['get', 'list', 'watch'],
};

// PostgreSQL answers over a socket: allow for a busy machine.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 });

const BACKENDS = ['SQLite', 'PostgreSQL'] as const;
let backend: (typeof BACKENDS)[number] = 'SQLite';
let postgres: TestPostgres | undefined;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

type StoreOptions = Partial<Pick<SqliteFindingStoreOptions, 'pageSize' | 'maxEvents'>>;

/** A new, empty store of the backend under test (PostgreSQL: a database of its own). */
async function openStore(options: StoreOptions): Promise<FindingStore> {
  if (backend === 'SQLite') return new SqliteFindingStore({ path: ':memory:', ...options });
  if (postgres === undefined) throw new Error('PostgreSQL did not start');
  const { url } = await postgres.createDatabase();
  return PostgresFindingStore.open({ url, ...options });
}

let store: FindingStore;
let server: RunningServer;
let url: string;
let authorizer: ReturnType<typeof tableAuthorizer>;

async function start(extra: Partial<FindingsApiOptions> = {}, storeOptions: StoreOptions = {}) {
  store = await openStore(storeOptions);
  authorizer = tableAuthorizer(RBAC);
  const api = createFindingsApiServer({
    store,
    authenticator: headerAuthenticator,
    authorizer,
    controllerUsernames: [CONTROLLER],
    deleterUsernames: [GC, NS_CONTROLLER],
    now: () => new Date('2026-12-01T12:00:00Z'),
    ...extra,
  });
  server = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${server.port}`;
}

async function stop() {
  await server.close();
  await store.close();
}

interface Call {
  user?: string | undefined;
  groups?: string;
  body?: unknown;
  accept?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, c: Call = {}) {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.user !== undefined) headers['X-Remote-User'] = c.user;
  if (c.groups) headers['X-Remote-Group'] = c.groups;
  if (c.accept) headers.Accept = c.accept;
  if (c.body !== undefined) headers['Content-Type'] = c.contentType ?? 'application/json';
  const res = await fetch(url + path, {
    method,
    headers,
    ...(c.body !== undefined
      ? { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) }
      : {}),
  });
  const text = await res.text();
  let json: Record<string, any>;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { text };
  }
  return { code: res.status, headers: res.headers, json };
}

function finding(
  name: string,
  namespace: string,
  severity = 'HIGH',
  extra: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace,
      labels: { 'kubeinspector.io/severity': severity, 'kubeinspector.io/status': 'ACTIVE' },
    },
    spec: { attributes: { source: 'template' } },
    status: {
      severity,
      status: 'ACTIVE',
      type: 'PACKAGE_VULNERABILITY',
      title: `CVE-2024-0001 - ${name}`,
      inspectorScore: 7.5,
      fixAvailable: 'YES',
      vulnerabilityId: 'CVE-2024-0001',
      resource: { type: 'CONTAINER_IMAGE', id: `registry/app@sha256:${name}` },
    },
    ...extra,
  };
}

async function create(
  name: string,
  namespace = 'team-a',
  severity = 'HIGH',
): Promise<Record<string, any>> {
  const r = await call('POST', `${BASE}/namespaces/${namespace}/findings`, {
    user: CONTROLLER,
    body: finding(name, namespace, severity),
  });
  expect(r.code).toBe(201);
  return r.json;
}

const path = (name: string, ns = 'team-a') => `${BASE}/namespaces/${ns}/findings/${name}`;

/** Frames of a watch, read line by line; stop() aborts it. */
async function openWatch(p: string, c: Call = {}) {
  const controller = new AbortController();
  const headers: Record<string, string> = {
    'X-Remote-User': c.user ?? 'reader',
    ...(c.accept ? { Accept: c.accept } : {}),
  };
  const res = await fetch(url + p, { headers, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const frames: Record<string, any>[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          frames.push(JSON.parse(buffer.slice(0, nl)));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch {
      // aborted
    } finally {
      ended = true;
    }
  })();
  return {
    code: res.status,
    frames,
    ended: () => ended,
    async until(pred: (frames: Record<string, any>[]) => boolean, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!pred(frames)) {
        if (Date.now() > deadline)
          throw new Error(`watch frames so far: ${JSON.stringify(frames)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop() {
      controller.abort();
      await pump;
    },
  };
}

describe.each(BACKENDS)('%s store', (name) => {
  beforeAll(() => {
    backend = name;
  });

  describe('discovery and OpenAPI', () => {
    beforeEach(() => start());
    afterEach(() => stop());

    it('answers health without authentication and everything else only with it', async () => {
      expect((await call('GET', '/healthz')).code).toBe(200);
      expect((await call('GET', '/readyz')).code).toBe(200);
      const r = await call('GET', '/apis');
      expect(r.code).toBe(401);
      expect(r.json).toMatchObject({
        kind: 'Status',
        status: 'Failure',
        reason: 'Unauthorized',
        code: 401,
      });
    });

    it('answers /readyz 500 while not ready, /healthz still 200', async () => {
      await server.close();
      let ready = false;
      const api = createFindingsApiServer({
        store,
        authenticator: headerAuthenticator,
        authorizer,
        controllerUsernames: [],
        deleterUsernames: [],
        ready: () => ready,
      });
      server = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${server.port}`;
      expect((await call('GET', '/readyz')).code).toBe(500);
      expect((await call('GET', '/healthz')).code).toBe(200);
      ready = true;
      expect((await call('GET', '/readyz')).code).toBe(200);
    });

    it('serves legacy discovery to plain JSON and aggregated discovery to kube-aggregator', async () => {
      const legacy = await call('GET', '/apis', { user: 'anyone', accept: 'application/json' });
      expect(legacy.json.groups[0]).toEqual({
        name: 'findings.kubeinspector.io',
        versions: [{ groupVersion: 'findings.kubeinspector.io/v1alpha1', version: 'v1alpha1' }],
        preferredVersion: {
          groupVersion: 'findings.kubeinspector.io/v1alpha1',
          version: 'v1alpha1',
        },
      });
      const aggregated = await call('GET', '/apis', {
        user: 'system:kube-aggregator',
        accept:
          'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
      });
      expect(aggregated.headers.get('content-type')).toBe(
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
      );
      const resource = aggregated.json.items[0].versions[0].resources[0];
      expect(resource).toMatchObject({
        resource: 'findings',
        scope: 'Namespaced',
        shortNames: ['fnd'],
        categories: ['inspector'],
      });
      expect(resource.subresources[0]).toMatchObject({
        subresource: 'status',
        verbs: ['get', 'patch', 'update'],
      });
      expect(
        (await call('GET', '/apis', { user: 'x', accept: 'application/vnd.kubernetes.protobuf' }))
          .code,
      ).toBe(406);
      // Nobody was asked: discovery needs authentication only.
      expect(authorizer.asked).toEqual([]);
    });

    it('answers 304 to If-None-Match with the current ETag', async () => {
      const first = await call('GET', BASE, { user: 'x' });
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[0-9A-F]{64}"$/);
      expect(first.json.resources.map((r: { name: string }) => r.name)).toEqual([
        'findings',
        'findings/status',
      ]);
      expect(first.json.resources[0].verbs).toEqual([
        'create',
        'delete',
        'deletecollection',
        'get',
        'list',
        'patch',
        'update',
        'watch',
      ]);
      expect(
        (await call('GET', BASE, { user: 'x', headers: { 'If-None-Match': etag } })).code,
      ).toBe(304);
    });

    it('serves discovery while the store is closed (no store call on that path)', async () => {
      await store.close();
      expect((await call('GET', BASE, { user: 'x' })).code).toBe(200);
      expect((await call('GET', '/openapi/v2', { user: 'x' })).code).toBe(200);
    });

    it('publishes OpenAPI v2 and v3 whose PATCH never offers strategic merge patch', async () => {
      const v2 = await call('GET', '/openapi/v2', { user: 'system:aggregator' });
      const patch = v2.json.paths[`${BASE}/namespaces/{namespace}/findings/{name}`].patch;
      expect(patch.consumes).toEqual([
        'application/json-patch+json',
        'application/merge-patch+json',
        'application/apply-patch+yaml',
      ]);
      expect(patch['x-kubernetes-group-version-kind']).toEqual({
        group: 'findings.kubeinspector.io',
        kind: 'Finding',
        version: 'v1alpha1',
      });
      const def = v2.json.definitions['io.kubeinspector.findings.v1alpha1.Finding'];
      expect(def['x-kubernetes-group-version-kind']).toEqual([
        { group: 'findings.kubeinspector.io', kind: 'Finding', version: 'v1alpha1' },
      ]);
      expect(def.properties.status.properties.severity.enum).toContain('CRITICAL');
      expect(def.properties.spec.properties.attributes.description).toMatch(
        /Classic userAttributes/,
      );

      const root = await call('GET', '/openapi/v3', { user: 'x' });
      const rel = root.json.paths['apis/findings.kubeinspector.io/v1alpha1']
        .serverRelativeURL as string;
      expect(rel).toMatch(
        /^\/openapi\/v3\/apis\/findings\.kubeinspector\.io\/v1alpha1\?hash=[0-9A-F]+$/,
      );
      const v3 = await call('GET', rel, { user: 'x' });
      expect(v3.headers.get('cache-control')).toBe('public, immutable');
      const v3patch = v3.json.paths[`${BASE}/namespaces/{namespace}/findings/{name}`].patch;
      expect(Object.keys(v3patch.requestBody.content)).not.toContain(
        'application/strategic-merge-patch+json',
      );
      expect(Object.keys(v3patch.requestBody.content)).toContain('application/merge-patch+json');
      const etag = v3.headers.get('etag')!;
      expect((await call('GET', rel, { user: 'x', headers: { 'If-None-Match': etag } })).code).toBe(
        304,
      );
    });
  });

  describe('reads', () => {
    beforeEach(async () => {
      await start();
      await create('f-high');
      await create('f-critical', 'team-a', 'CRITICAL');
      await create('f-other', 'team-b', 'CRITICAL');
    });
    afterEach(() => stop());

    it('gets one finding, and answers a missing one with a NotFound Status', async () => {
      const r = await call('GET', path('f-high'), { user: 'reader' });
      expect(r.code).toBe(200);
      expect(r.json).toMatchObject({
        apiVersion: 'findings.kubeinspector.io/v1alpha1',
        kind: 'Finding',
        metadata: { name: 'f-high', namespace: 'team-a' },
      });
      const missing = await call('GET', path('nope'), { user: 'reader' });
      expect(missing.code).toBe(404);
      expect(missing.json).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'findings.findings.kubeinspector.io "nope" not found',
        reason: 'NotFound',
        code: 404,
        details: { name: 'nope', group: 'findings.kubeinspector.io', kind: 'findings' },
      });
    });

    it('authorises every request with the verb, namespace and name', async () => {
      const r = await call('GET', path('f-high'), { user: 'stranger' });
      expect(r.code).toBe(403);
      expect(r.json.message).toBe(
        'findings.findings.kubeinspector.io "f-high" is forbidden: User "stranger" cannot get resource "findings" in API group "findings.kubeinspector.io" in the namespace "team-a": no RBAC',
      );
      expect(authorizer.asked.at(-1)).toMatchObject({
        kind: 'resource',
        verb: 'get',
        group: 'findings.kubeinspector.io',
        resource: 'findings',
        namespace: 'team-a',
        name: 'f-high',
      });
      // A list limited to one name is authorised for that name (RBAC resourceNames).
      await call('GET', `${BASE}/namespaces/team-a/findings?fieldSelector=metadata.name%3Df-high`, {
        user: 'reader',
      });
      expect(authorizer.asked.at(-1)).toMatchObject({
        verb: 'list',
        namespace: 'team-a',
        name: 'f-high',
      });
      // system:masters is not asked, as k8s.io/apiserver's default authoriser does.
      const before = authorizer.asked.length;
      expect(
        (await call('GET', `${BASE}/findings`, { user: 'admin', groups: 'system:masters' })).code,
      ).toBe(200);
      expect(authorizer.asked.length).toBe(before);
    });

    it('lists across namespaces and in one, with label and field selectors and a list resourceVersion', async () => {
      const all = await call('GET', `${BASE}/findings`, { user: 'reader' });
      expect(all.json.kind).toBe('FindingList');
      expect(all.json.items.map((i: StoredFinding) => i.metadata.name).sort()).toEqual([
        'f-critical',
        'f-high',
        'f-other',
      ]);
      expect(all.json.metadata.resourceVersion).toBe(store.currentResourceVersion());
      const critical = await call(
        'GET',
        `${BASE}/findings?labelSelector=${encodeURIComponent('kubeinspector.io/severity in (CRITICAL)')}`,
        { user: 'reader' },
      );
      expect(critical.json.items.map((i: StoredFinding) => i.metadata.name).sort()).toEqual([
        'f-critical',
        'f-other',
      ]);
      const ns = await call(
        'GET',
        `${BASE}/namespaces/team-a/findings?fieldSelector=status.severity!=CRITICAL`,
        { user: 'reader' },
      );
      expect(ns.json.items.map((i: StoredFinding) => i.metadata.name)).toEqual(['f-high']);
      const none = await call('GET', `${BASE}/namespaces/team-b/findings?labelSelector=nothing`, {
        user: 'reader',
      });
      expect(none.json).toMatchObject({
        items: [],
        metadata: { resourceVersion: store.currentResourceVersion() },
      });
    });

    it('refuses an unsupported field and an unparsable selector with 400', async () => {
      const field = await call('GET', `${BASE}/findings?fieldSelector=spec.attributes.owner=x`, {
        user: 'reader',
      });
      expect(field.code).toBe(400);
      expect(field.json).toMatchObject({
        reason: 'BadRequest',
        message: 'field label not supported: spec.attributes.owner',
      });
      expect(
        (await call('GET', `${BASE}/findings?labelSelector=a%20in%20(`, { user: 'reader' })).code,
      ).toBe(400);
    });

    it('pages with limit and continue, each page with the continue token of the next', async () => {
      const first = await call('GET', `${BASE}/findings?limit=2`, { user: 'reader' });
      expect(first.json.items).toHaveLength(2);
      expect(first.json.metadata.continue).toBeTruthy();
      expect(first.json.metadata.remainingItemCount).toBe(1);
      const second = await call(
        'GET',
        `${BASE}/findings?limit=2&continue=${encodeURIComponent(first.json.metadata.continue)}`,
        { user: 'reader' },
      );
      expect(second.json.items).toHaveLength(1);
      expect(second.json.metadata.continue).toBeUndefined();
      const names = [...first.json.items, ...second.json.items].map(
        (i: StoredFinding) => i.metadata.name,
      );
      expect(new Set(names).size).toBe(3);
    });

    it('streams a list larger than a store page in one answer', async () => {
      await stop();
      await start({}, { pageSize: 1 });
      for (const n of ['a', 'b', 'c']) await create(n);
      const res = await fetch(`${url}${BASE}/findings`, { headers: { 'X-Remote-User': 'reader' } });
      expect(res.headers.get('transfer-encoding')).toBe('chunked');
      const all = (await res.json()) as { items: StoredFinding[]; metadata: unknown };
      expect(all.items.map((i) => i.metadata.name)).toEqual(['a', 'b', 'c']);
      expect(all.metadata).toEqual({ resourceVersion: store.currentResourceVersion() });
    });

    it('validates resourceVersionMatch and sendInitialEvents on a list as kube-apiserver does', async () => {
      const r = await call('GET', `${BASE}/findings?resourceVersionMatch=Exact`, {
        user: 'reader',
      });
      expect(r.code).toBe(422);
      expect(r.json.message).toMatch(
        /resourceVersionMatch is forbidden unless resourceVersion is provided/,
      );
      expect(
        (await call('GET', `${BASE}/findings?sendInitialEvents=true`, { user: 'reader' })).code,
      ).toBe(422);
    });

    it('answers kubectl get with a Table of the printer columns, wide columns at priority 1', async () => {
      const r = await call(
        'GET',
        `${BASE}/namespaces/team-a/findings?fieldSelector=metadata.name=f-high`,
        { user: 'reader', accept: TABLE },
      );
      expect(r.json.kind).toBe('Table');
      expect(r.json.apiVersion).toBe('meta.k8s.io/v1');
      expect(
        r.json.columnDefinitions.map(
          (c: { name: string; priority: number }) => `${c.name}:${c.priority}`,
        ),
      ).toEqual([
        'Name:0',
        'Severity:0',
        'Type:0',
        'Title:0',
        'Resource:0',
        'Status:0',
        'Score:1',
        'Fix:1',
        'Age:0',
      ]);
      const row = r.json.rows[0];
      expect(row.cells.slice(0, 8)).toEqual([
        'f-high',
        'HIGH',
        'PACKAGE_VULNERABILITY',
        'CVE-2024-0001 - f-high',
        'registry/app@sha256:f-high',
        'ACTIVE',
        7.5,
        'YES',
      ]);
      expect(row.object).toMatchObject({
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { name: 'f-high' },
      });
      expect(r.json.metadata.resourceVersion).toBe(store.currentResourceVersion());
      const full = await call('GET', `${path('f-high')}?includeObject=Object`, {
        user: 'reader',
        accept: TABLE,
      });
      expect(full.json.rows[0].object).toMatchObject({
        kind: 'Finding',
        status: { severity: 'HIGH' },
      });
      const bare = await call('GET', `${path('f-high')}?includeObject=None`, {
        user: 'reader',
        accept: TABLE,
      });
      expect(bare.json.rows[0].object).toBeUndefined();
      expect(
        (
          await call('GET', `${path('f-high')}?includeObject=Everything`, {
            user: 'reader',
            accept: TABLE,
          })
        ).code,
      ).toBe(400);
    });

    it('answers the metadata client with PartialObjectMetadataList', async () => {
      const r = await call('GET', `${BASE}/findings`, {
        user: GC,
        accept:
          'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
      });
      expect(r.json.kind).toBe('PartialObjectMetadataList');
      expect(r.json.items).toHaveLength(3);
      expect(r.json.items[0].status).toBeUndefined();
      expect(r.json.items[0].metadata.uid).toBeTruthy();
      expect(
        (await call('GET', `${BASE}/findings`, { user: 'reader', accept: 'application/yaml' }))
          .code,
      ).toBe(406);
    });
  });

  describe('watch', () => {
    beforeEach(async () => {
      await start({ bookmarkIntervalMs: 50 });
      await create('f1');
    });
    afterEach(() => stop());

    it('streams changes after the list resourceVersion, on both watch URL forms', async () => {
      const list = await call('GET', `${BASE}/namespaces/team-a/findings`, { user: 'reader' });
      const rv = list.json.metadata.resourceVersion;
      const w1 = await openWatch(
        `${BASE}/namespaces/team-a/findings?watch=1&resourceVersion=${rv}`,
      );
      const w2 = await openWatch(
        `${BASE}/watch/namespaces/team-a/findings/f1?resourceVersion=${rv}`,
      );
      expect(w1.code).toBe(200);
      await create('f2');
      const patched = await call('PATCH', path('f1'), {
        user: 'alice',
        body: { spec: { attributes: { owner: 'alice' } } },
        contentType: 'application/merge-patch+json',
      });
      expect(patched.code).toBe(200);
      await w1.until((f) => f.length >= 2);
      expect(w1.frames.map((f) => `${f.type} ${f.object.metadata.name}`)).toEqual([
        'ADDED f2',
        'MODIFIED f1',
      ]);
      await w2.until((f) => f.length >= 1);
      expect(w2.frames.map((f) => `${f.type} ${f.object.metadata.name}`)).toEqual(['MODIFIED f1']);
      expect(w2.frames[0]!.object.spec.attributes.owner).toBe('alice');
      await w1.stop();
      await w2.stop();
    });

    it('without a resourceVersion starts with ADDED for what exists', async () => {
      const w = await openWatch(`${BASE}/findings?watch=true`);
      await w.until((f) => f.length >= 1);
      expect(w.frames[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'f1' } } });
      await w.stop();
    });

    it('sends bookmarks only when allowed', async () => {
      const rv = store.currentResourceVersion();
      const w = await openWatch(
        `${BASE}/findings?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`,
      );
      await w.until((f) => f.some((x) => x.type === 'BOOKMARK'));
      const bookmark = w.frames.find((x) => x.type === 'BOOKMARK')!;
      expect(bookmark.object).toMatchObject({
        kind: 'Finding',
        apiVersion: 'findings.kubeinspector.io/v1alpha1',
        metadata: { resourceVersion: rv },
      });
      await w.stop();
      const quiet = await openWatch(`${BASE}/findings?watch=1&resourceVersion=${rv}`);
      await new Promise((r) => setTimeout(r, 200));
      expect(quiet.frames).toEqual([]);
      await quiet.stop();
    });

    it('completes a WatchList with the initial-events-end bookmark', async () => {
      await create('f2');
      const w = await openWatch(
        `${BASE}/findings?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
      );
      await w.until((f) =>
        f.some(
          (x) =>
            x.type === 'BOOKMARK' &&
            x.object.metadata.annotations?.['k8s.io/initial-events-end'] === 'true',
        ),
      );
      const added = w.frames
        .filter((x) => x.type === 'ADDED')
        .map((x) => x.object.metadata.name)
        .sort();
      expect(added).toEqual(['f1', 'f2']);
      const end = w.frames.findIndex(
        (x) => x.object.metadata.annotations?.['k8s.io/initial-events-end'] === 'true',
      );
      expect(end).toBe(2);
      expect(w.frames[end]!.object.metadata.resourceVersion).toBe(store.currentResourceVersion());
      await w.stop();
      expect(
        (await call('GET', `${BASE}/findings?watch=1&sendInitialEvents=true`, { user: 'reader' }))
          .code,
      ).toBe(422);
    });

    it('streams Table frames with the column definitions on the first only', async () => {
      const rv = store.currentResourceVersion();
      const w = await openWatch(
        `${BASE}/namespaces/team-a/findings?watch=1&resourceVersion=${rv}`,
        {
          accept: TABLE,
        },
      );
      await create('f2');
      await create('f3', 'team-a', 'LOW');
      await w.until((f) => f.length >= 2);
      expect(w.frames[0]!.object.kind).toBe('Table');
      expect(w.frames[0]!.object.columnDefinitions).toHaveLength(9);
      expect(w.frames[1]!.object.columnDefinitions).toBeNull();
      expect(w.frames[1]!.object.rows[0].cells.slice(0, 2)).toEqual(['f3', 'LOW']);
      await w.stop();
    });

    it('streams PartialObjectMetadata frames to the metadata client', async () => {
      const w = await openWatch(
        `${BASE}/findings?watch=1&resourceVersion=${store.currentResourceVersion()}`,
        {
          user: GC,
          accept:
            'application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
        },
      );
      await create('f2');
      await w.until((f) => f.length >= 1);
      expect(w.frames[0]).toMatchObject({
        type: 'ADDED',
        object: {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: { name: 'f2' },
        },
      });
      expect(w.frames[0]!.object.status).toBeUndefined();
      await w.stop();
    });

    it('ends every watch when the server shuts down', async () => {
      const w = await openWatch(
        `${BASE}/findings?watch=1&resourceVersion=${store.currentResourceVersion()}`,
      );
      await server.close();
      const deadline = Date.now() + 3000;
      while (!w.ended() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(w.ended()).toBe(true);
      server = await listenFindingsApi(
        createFindingsApiServer({
          store,
          authenticator: headerAuthenticator,
          authorizer,
          controllerUsernames: [],
          deleterUsernames: [],
        }),
        { host: '127.0.0.1', port: 0 },
      );
    });

    it('ends the stream at timeoutSeconds', async () => {
      const w = await openWatch(
        `${BASE}/findings?watch=1&resourceVersion=${store.currentResourceVersion()}&timeoutSeconds=1`,
      );
      const started = Date.now();
      while (!w.ended()) await new Promise((r) => setTimeout(r, 20));
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('refuses watches past the limit with 429 and Retry-After', async () => {
      await server.close();
      const api = createFindingsApiServer({
        store,
        authenticator: headerAuthenticator,
        authorizer,
        controllerUsernames: [CONTROLLER],
        deleterUsernames: [],
        maxWatches: 1,
      });
      server = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${server.port}`;
      const w = await openWatch(
        `${BASE}/findings?watch=1&resourceVersion=${store.currentResourceVersion()}`,
      );
      const refused = await call('GET', `${BASE}/findings?watch=1`, { user: 'reader' });
      expect(refused.code).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.json).toMatchObject({
        kind: 'Status',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 1 },
      });
      expect((await call('GET', `${BASE}/findings`, { user: 'reader' })).code).toBe(200);
      expect((await call('GET', BASE, { user: 'reader' })).code).toBe(200);
      await w.stop();
    });
  });

  describe('a store that does not answer', () => {
    afterEach(() => stop());

    it('answers 504 at the request timeout and frees the seat, while discovery still answers', async () => {
      await start();
      await server.close();
      // The real store behind a gate: reads wait until the test opens it.
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const slow = Object.create(store) as FindingStore;
      slow.get = async (ns: string, name: string) => {
        await gate;
        return store.get(ns, name);
      };
      const api = createFindingsApiServer({
        store: slow,
        authenticator: headerAuthenticator,
        authorizer,
        controllerUsernames: [],
        deleterUsernames: [],
        requestTimeoutMs: 300,
        maxRequestsInFlight: 1,
      });
      server = await listenFindingsApi(api, { host: '127.0.0.1', port: 0 });
      url = `http://127.0.0.1:${server.port}`;
      const pending = call('GET', path('f1'), { user: 'reader' });
      await new Promise((r) => setTimeout(r, 50));
      expect(api.inFlight().requests).toBe(1);
      expect((await call('GET', path('f1'), { user: 'reader' })).code).toBe(429);
      expect((await call('GET', BASE, { user: 'reader' })).code).toBe(200);
      const timedOut = await pending;
      expect(timedOut.code).toBe(504);
      expect(timedOut.json).toMatchObject({ kind: 'Status', reason: 'Timeout', code: 504 });
      expect(api.inFlight().requests).toBe(0);
      open();
    });
  });

  describe('watch from a compacted resourceVersion', () => {
    beforeEach(() => start({}, { maxEvents: 2 }));
    afterEach(() => stop());

    it('answers 200 with one ERROR event carrying 410 Expired', async () => {
      for (const n of ['a', 'b', 'c', 'd']) await create(n);
      const w = await openWatch(`${BASE}/findings?watch=1&resourceVersion=1`);
      await w.until((f) => f.length >= 1);
      expect(w.code).toBe(200);
      expect(w.frames[0]).toMatchObject({
        type: 'ERROR',
        object: { kind: 'Status', code: 410, reason: 'Expired' },
      });
      await w.stop();
    });
  });

  describe('writes', () => {
    beforeEach(async () => {
      await start();
      await create('f1');
    });
    afterEach(() => stop());

    it('lets only the controller create', async () => {
      const across = await call('POST', `${BASE}/findings`, {
        user: CONTROLLER,
        body: finding('x', 'team-a'),
      });
      expect(across.code).toBe(405);
      expect(across.json).toMatchObject({ kind: 'Status', reason: 'MethodNotAllowed' });
      const r = await call('POST', `${BASE}/namespaces/team-a/findings`, {
        user: 'alice',
        body: finding('x', 'team-a'),
      });
      expect(r.code).toBe(403);
      const mismatch = await call('POST', `${BASE}/namespaces/team-b/findings`, {
        user: CONTROLLER,
        body: finding('x', 'team-a'),
      });
      expect(mismatch.code).toBe(400);
      expect(
        (
          await call('POST', `${BASE}/namespaces/team-a/findings`, {
            user: CONTROLLER,
            body: finding('f1', 'team-a'),
          })
        ).code,
      ).toBe(409);
    });

    it('merge-patches attributes for a person, bumps generation, and ignores status on the main resource', async () => {
      const before = (await call('GET', path('f1'), { user: 'alice' })).json;
      const r = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { spec: { attributes: { owner: 'alice' } }, status: { severity: 'LOW' } },
        headers: { 'User-Agent': 'kubectl-patch/v1.36.3 (linux/amd64) kubernetes/abc' },
      });
      expect(r.code).toBe(200);
      expect(r.json.spec.attributes).toEqual({ source: 'template', owner: 'alice' });
      expect(r.json.status.severity).toBe('HIGH');
      expect(r.json.metadata.generation).toBe(before.metadata.generation + 1);
      expect(r.json.metadata.managedFields).toContainEqual(
        expect.objectContaining({
          manager: 'kubectl-patch',
          operation: 'Update',
          fieldsV1: { 'f:spec': { 'f:attributes': { 'f:owner': {} } } },
        }),
      );
    });

    it('refuses a person changing what the controller computes', async () => {
      const r = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { metadata: { labels: { 'kubeinspector.io/severity': 'LOW', team: 'a' } } },
      });
      expect(r.code).toBe(422);
      expect(r.json.details.causes).toEqual([
        {
          reason: 'FieldValueForbidden',
          field: 'metadata.labels[kubeinspector.io/severity]',
          message: 'Forbidden: kubeinspector.io/ keys are set by the controller',
        },
      ]);
      const own = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { metadata: { labels: { team: 'a' } } },
      });
      expect(own.code).toBe(200);
      expect(own.json.metadata.labels.team).toBe('a');
    });

    it('applies JSON patches with test operations, refusing the whole patch when a test fails', async () => {
      const ok = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/spec/attributes/source', value: 'template' },
          { op: 'add', path: '/spec/attributes/ticket', value: 'SEC-1' },
        ],
      });
      expect(ok.code).toBe(200);
      expect(ok.json.spec.attributes.ticket).toBe('SEC-1');
      const failed = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/spec/attributes/source', value: 'other' },
          { op: 'remove', path: '/spec/attributes/ticket' },
        ],
      });
      expect(failed.code).toBe(422);
      expect((await call('GET', path('f1'), { user: 'alice' })).json.spec.attributes.ticket).toBe(
        'SEC-1',
      );
    });

    it('refuses strategic merge patch with 415', async () => {
      const r = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/strategic-merge-patch+json',
        body: { spec: {} },
      });
      expect(r.code).toBe(415);
      expect(r.json.reason).toBe('UnsupportedMediaType');
    });

    it('server-side applies with a field manager, reports conflicts and takes fields with force', async () => {
      const apply = (manager: string, owner: string, force = false) =>
        call('PATCH', `${path('f1')}?fieldManager=${manager}${force ? '&force=true' : ''}`, {
          user: 'alice',
          contentType: 'application/apply-patch+yaml',
          body: `apiVersion: findings.kubeinspector.io/v1alpha1\nkind: Finding\nmetadata:\n  name: f1\n  namespace: team-a\nspec:\n  attributes:\n    owner: ${owner}\n`,
        });
      expect((await apply('gitops', 'alice')).code).toBe(200);
      const conflict = await apply('kubectl', 'bob');
      expect(conflict.code).toBe(409);
      expect(conflict.json).toMatchObject({
        reason: 'Conflict',
        message:
          'Apply failed with 1 conflict: conflict with "gitops" using findings.kubeinspector.io/v1alpha1: .spec.attributes.owner',
        details: { causes: [{ reason: 'FieldManagerConflict', field: '.spec.attributes.owner' }] },
      });
      const forced = await apply('kubectl', 'bob', true);
      expect(forced.code).toBe(200);
      expect(forced.json.spec.attributes).toEqual({ source: 'template', owner: 'bob' });
      const managers = forced.json.metadata.managedFields.map(
        (e: { manager: string; operation: string }) => `${e.manager}/${e.operation}`,
      );
      expect(managers).toContain('kubectl/Apply');
      expect(managers).not.toContain('gitops/Apply');
      const otherName = await call('PATCH', `${path('f1')}?fieldManager=kubectl`, {
        user: 'alice',
        contentType: 'application/apply-patch+yaml',
        body: 'apiVersion: findings.kubeinspector.io/v1alpha1\nkind: Finding\nmetadata:\n  name: f2\n',
      });
      expect(otherName.code).toBe(400);
      const noKind = await call('PATCH', `${path('f1')}?fieldManager=kubectl`, {
        user: 'alice',
        contentType: 'application/apply-patch+yaml',
        body: 'metadata:\n  name: f1\n',
      });
      expect(noKind.code).toBe(400);
      const noManager = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/apply-patch+yaml',
        body: 'kind: Finding\n',
      });
      expect(noManager.code).toBe(422);
    });

    it('refuses a PUT with a stale resourceVersion with 409 and takes a current one', async () => {
      const current = (await call('GET', path('f1'), { user: 'alice' })).json;
      const stale = structuredClone(current);
      await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { spec: { attributes: { a: '1' } } },
      });
      stale.spec.attributes.b = '2';
      const r = await call('PUT', path('f1'), { user: 'alice', body: stale });
      expect(r.code).toBe(409);
      expect(r.json.reason).toBe('Conflict');
      const fresh = (await call('GET', path('f1'), { user: 'alice' })).json;
      fresh.spec.attributes.b = '2';
      const ok = await call('PUT', path('f1'), { user: 'alice', body: fresh });
      expect(ok.code).toBe(200);
      expect(ok.json.spec.attributes).toEqual({ source: 'template', a: '1', b: '2' });
    });

    it('writes /status for the controller only, ignoring spec there', async () => {
      const body = { ...finding('f1', 'team-a', 'LOW'), spec: { attributes: { hacked: 'yes' } } };
      expect((await call('PUT', `${path('f1')}/status`, { user: 'alice', body })).code).toBe(403);
      const r = await call('PUT', `${path('f1')}/status`, { user: CONTROLLER, body });
      expect(r.code).toBe(200);
      expect(r.json.status.severity).toBe('LOW');
      expect(r.json.spec.attributes).toEqual({ source: 'template' });
    });

    it('creates by server-side apply for the controller only', async () => {
      const yaml = (name: string) =>
        `apiVersion: findings.kubeinspector.io/v1alpha1\nkind: Finding\nmetadata:\n  name: ${name}\n  namespace: team-a\nspec:\n  attributes:\n    source: template\n`;
      const refused = await call('PATCH', `${path('new')}?fieldManager=alice`, {
        user: 'alice',
        contentType: 'application/apply-patch+yaml',
        body: yaml('new'),
      });
      expect(refused.code).toBe(403);
      const created = await call('PATCH', `${path('new')}?fieldManager=kube-inspector`, {
        user: CONTROLLER,
        contentType: 'application/apply-patch+yaml',
        body: yaml('new'),
      });
      expect(created.code).toBe(201);
      expect(created.json.metadata.managedFields).toEqual([
        expect.objectContaining({
          manager: 'kube-inspector',
          operation: 'Apply',
          fieldsV1: { 'f:spec': { 'f:attributes': { 'f:source': {} } } },
        }),
      ]);
      const merge = await call('PATCH', path('other'), {
        user: CONTROLLER,
        contentType: 'application/merge-patch+json',
        body: { spec: {} },
      });
      expect(merge.code).toBe(404);
    });

    it('takes JSON or YAML objects and refuses other media types with 415', async () => {
      const current = (await call('GET', path('f1'), { user: 'alice' })).json;
      current.spec.attributes.format = 'json';
      expect(
        (
          await call('PUT', path('f1'), {
            user: 'alice',
            body: current,
            contentType: 'application/vnd.kubernetes.protobuf',
          })
        ).code,
      ).toBe(415);
      current.spec.attributes.format = 'yaml';
      const r = await call('PUT', path('f1'), {
        user: 'alice',
        body: stringify(current),
        contentType: 'application/yaml',
      });
      expect(r.code).toBe(200);
      expect(r.json.spec.attributes.format).toBe('yaml');
    });

    it('changes nothing with dryRun=All', async () => {
      const before = (await call('GET', path('f1'), { user: 'alice' })).json;
      const r = await call('PATCH', `${path('f1')}?dryRun=All`, {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { spec: { attributes: { owner: 'x' } } },
      });
      expect(r.code).toBe(200);
      expect(r.json.spec.attributes.owner).toBe('x');
      const after = (await call('GET', path('f1'), { user: 'alice' })).json;
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      expect(after.spec.attributes.owner).toBeUndefined();
    });

    it('refuses unknown fields with fieldValidation=Strict and warns by default', async () => {
      const body = { spec: { attributes: { owner: 'x' }, colour: 'red' } };
      const strict = await call('PATCH', `${path('f1')}?fieldValidation=Strict`, {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body,
      });
      expect(strict.code).toBe(400);
      expect(strict.json.message).toBe('strict decoding error: unknown field "spec.colour"');
      const warn = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body,
      });
      expect(warn.code).toBe(200);
      expect(warn.headers.get('warning')).toBe('299 - "unknown field \\"spec.colour\\""');
      expect(warn.json.spec.colour).toBeUndefined();
    });

    it('refuses schema violations with 422 naming the field', async () => {
      const r = await call('PATCH', path('f1'), {
        user: 'alice',
        contentType: 'application/merge-patch+json',
        body: { spec: { attributes: { owner: 'x'.repeat(300) } } },
      });
      expect(r.code).toBe(422);
      expect(r.json.details.causes[0].field).toBe('spec.attributes.owner');
    });
  });

  describe('delete', () => {
    beforeEach(async () => {
      await start();
      await create('f1');
      await create('f2', 'team-a', 'LOW');
      await create('f3', 'team-b');
    });
    afterEach(() => stop());

    it('refuses people, even with RBAC delete, and lets the controller and garbage collector delete', async () => {
      const refused = await call('DELETE', path('f1'), { user: 'alice' });
      expect(refused.code).toBe(403);
      expect(refused.json.message).toMatch(
        /^findings\.findings\.kubeinspector\.io "f1" is forbidden: User "alice" cannot delete findings/,
      );
      const admin = await call('DELETE', path('f1'), { user: 'admin', groups: 'system:masters' });
      expect(admin.code).toBe(403);
      const gc = await call('DELETE', path('f1'), {
        user: GC,
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      });
      expect(gc.code).toBe(200);
      expect(gc.json.metadata.name).toBe('f1');
      expect((await call('GET', path('f1'), { user: 'reader' })).code).toBe(404);
    });

    it('honours preconditions and refuses an unknown propagation policy', async () => {
      const r = await call('DELETE', path('f2'), {
        user: CONTROLLER,
        body: { preconditions: { uid: 'not-the-uid' } },
      });
      expect(r.code).toBe(409);
      const bad = await call('DELETE', path('f2'), {
        user: CONTROLLER,
        body: { propagationPolicy: 'Later' },
      });
      expect(bad.code).toBe(422);
      expect((await call('DELETE', `${path('f2')}?dryRun=All`, { user: CONTROLLER })).code).toBe(
        200,
      );
      expect((await call('GET', path('f2'), { user: 'reader' })).code).toBe(200);
    });

    it('deletes a collection for the namespace controller, by selector and namespace', async () => {
      expect(
        (await call('DELETE', `${BASE}/namespaces/team-a/findings`, { user: 'alice' })).code,
      ).toBe(403);
      const r = await call(
        'DELETE',
        `${BASE}/namespaces/team-a/findings?labelSelector=${encodeURIComponent('kubeinspector.io/severity=LOW')}`,
        { user: NS_CONTROLLER },
      );
      expect(r.code).toBe(200);
      expect(r.json.items.map((i: StoredFinding) => i.metadata.name)).toEqual(['f2']);
      const all = await call('DELETE', `${BASE}/namespaces/team-a/findings`, {
        user: NS_CONTROLLER,
      });
      expect(all.json.items.map((i: StoredFinding) => i.metadata.name)).toEqual(['f1']);
      const left = await call('GET', `${BASE}/findings`, { user: 'reader' });
      expect(left.json.items.map((i: StoredFinding) => i.metadata.name)).toEqual(['f3']);
    });
  });
});
