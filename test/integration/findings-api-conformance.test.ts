// The findings API as people and cluster machinery use it: the real server on
// the real SQLite store, registered with a real kube-apiserver through the
// aggregation layer (front-proxy authentication, SubjectAccessReview), used with
// the kubectl built with the control plane, and visited by the real garbage
// collector, namespace and resource-quota controllers. The control plane is
// this file's own, since the shared one runs no resource-quota controller.
//
// The same suite runs on the PostgreSQL store from findings-api-conformance-postgres.test.ts,
// which imports this file and chooses its store with useConformanceStore().
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CustomObjectsApi,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  type ControlPlane,
  defaultControllers,
  startControlPlane,
} from '../../hack/control-plane/control-plane.ts';
import { createCa, issueCertificate, type KeyPair } from '../../hack/control-plane/pki.ts';
import {
  createFrontProxyServer,
  FrontProxyAuthenticator,
} from '../../src/findings-api/front-proxy.ts';
import { createFindingsApiServer } from '../../src/findings-api/server.ts';
import { SubjectAccessReviewAuthorizer } from '../../src/findings-api/subject-access-review.ts';
import { SqliteFindingStore } from '../../src/findings-store/sqlite.ts';
import type { FindingStore, StoredFinding } from '../../src/findings-store/store.ts';
import { KubeClient } from '../../src/kube/client.ts';
import {
  findingsGroup,
  findingsVersion,
  type ServedApi,
  serveAggregatedApi,
} from './findings-api-harness.ts';
import { eventually, kubectlOfWithInput, uniqueName } from './helpers.ts';
import { endInput } from '../support/child-input.ts';

const execFileAsync = promisify(execFile);
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const controller = 'system:serviceaccount:kube-inspector-system:kube-inspector-controller';
const apiVersion = `${findingsGroup}/${findingsVersion}`;
const quotaResource = `count/findings.${findingsGroup}`;

let plane: ControlPlane;
let client: KubeClient;
let store: FindingStore;

/** Where the suite keeps findings: opened before the tests, reopened by the restart test. */
export interface ConformanceStore {
  /** Opens the store on the data of `dir` (the same data when called again). */
  open(dir: string): Promise<FindingStore>;
  /** Releases what open() started, after the store is closed. */
  stop?(): Promise<void>;
}
let backend: ConformanceStore = {
  open: (dir) => Promise.resolve(new SqliteFindingStore({ path: join(dir, 'findings.db') })),
};
/** Runs the suite on another store (called at the top level of the importing test file). */
export function useConformanceStore(other: ConformanceStore): void {
  backend = other;
}
let served: ServedApi;
let scratch: string;
let namespace: string;
const internalErrors: unknown[] = [];

/** Runs the control plane's kubectl; resolves to stdout, rejects with stderr. */
async function kubectl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(
      plane.binaries.kubectl,
      ['--kubeconfig', plane.kubeconfig, ...args],
      {
        maxBuffer: 32 * 1024 * 1024,
      },
    );
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Runs kubectl and returns stdout and stderr, whatever its exit code. */
async function kubectlAll(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(plane.binaries.kubectl, [
      '--kubeconfig',
      plane.kubeconfig,
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

function kubectlInput(input: string, ...args: string[]): Promise<string> {
  return kubectlOfWithInput(plane.binaries.kubectl, plane.kubeconfig, input, ...args);
}

/** Runs kubectl with input and returns its exit code, stdout and stderr. */
function kubectlInputAll(
  input: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    endInput(child, input, reject);
  });
}

const example = parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'finding.yaml'), 'utf8'),
) as StoredFinding;

/** A finding like the example, with its own name, namespace, severity and score. */
function finding(
  ns: string,
  name: string,
  severity: string,
  score: number,
  extra: Partial<StoredFinding['metadata']> = {},
): StoredFinding {
  const f = structuredClone(example);
  f.apiVersion = apiVersion;
  f.metadata = {
    name,
    namespace: ns,
    labels: { ...(example.metadata.labels ?? {}), 'kubeinspector.io/severity': severity },
    ...extra,
  };
  delete f.spec;
  const status = f.status as Record<string, unknown>;
  status.severity = severity;
  status.inspectorScore = score;
  return f;
}

async function createNamespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });
  return name;
}

/**
 * The user the findings server runs as (a client certificate; in a cluster it is the pod's service
 * account): only the two bindings every extension API server needs.
 */
const serverUser = 'kube-inspector-findings-api';

/**
 * A kubeconfig for serverUser, bound to system:auth-delegator (SubjectAccessReviews) and to
 * extension-apiserver-authentication-reader in kube-system, and nothing else.
 */
async function leastPrivilegedServer(): Promise<KubeConfig> {
  const pki = plane.pki!;
  const pair = await issueCertificate(
    join(scratch, 'server-identity'),
    { cert: pki.caCert, key: pki.caKey },
    'findings-api',
    { commonName: serverUser, usage: 'client' },
  );
  const subjects = [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: serverUser }];
  await client.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: {
      metadata: { name: 'kube-inspector-findings-api:system:auth-delegator' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'system:auth-delegator',
      },
      subjects,
    },
  });
  await client.request(
    'POST',
    '/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings',
    {
      body: {
        metadata: { name: 'kube-inspector-findings-api-authentication-reader' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'extension-apiserver-authentication-reader',
        },
        subjects,
      },
    },
  );
  const b64 = (path: string) => readFileSync(path).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'plane', server: plane.server, caData: b64(pki.caCert) }],
    users: [{ name: 'findings-api', certData: b64(pair.cert), keyData: b64(pair.key) }],
    contexts: [{ name: 'findings-api', cluster: 'plane', user: 'findings-api' }],
    currentContext: 'findings-api',
  });
  return kc;
}

beforeAll(async () => {
  plane = await startControlPlane({
    log: () => {},
    controllers: [...defaultControllers, 'resourcequota-controller'],
  });
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  client = await KubeClient.create(kc, { qps: 0 });
  scratch = await mkdtemp(join(tmpdir(), 'ki-findings-conformance-'));
  store = await backend.open(scratch);
  const serviceNamespace = await createNamespace('kube-inspector');
  served = await serveAggregatedApi({
    kubeConfig: kc,
    serverKubeConfig: await leastPrivilegedServer(),
    log,
    service: { name: 'findings-api', namespace: serviceNamespace },
    handler: (authenticator, apiClient) =>
      createFindingsApiServer({
        store,
        authenticator,
        authorizer: new SubjectAccessReviewAuthorizer(apiClient),
        controllerUsernames: [controller],
        // The control plane's controller manager runs with one identity (no per-controller service accounts).
        deleterUsernames: ['system:kube-controller-manager'],
        bookmarkIntervalMs: 5_000,
        onInternalError: (err) => internalErrors.push(err),
      }).handler,
  });
  namespace = await createNamespace('findings');
  await store.create(finding(namespace, 'critical-one', 'CRITICAL', 9.8));
  await store.create(finding(namespace, 'high-one', 'HIGH', 8.1));
  // Scores with a fraction: kubectl cannot sort a column that mixes integers and floats.
  await store.create(finding(namespace, 'low-one', 'LOW', 2.5));
});

afterAll(async () => {
  await served?.stop();
  await store?.close();
  await backend.stop?.();
  await client?.close();
  await plane?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('kubectl against the findings API', () => {
  it('lists the API in api-resources without discovery errors', async () => {
    const result = await kubectlAll('api-resources', '-o', 'wide');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const line = result.stdout.split('\n').find((l) => l.startsWith('findings '));
    expect(line).toBeDefined();
    expect(line).toContain(apiVersion);
    expect(line).toContain('Finding');
    expect(line).toContain('inspector');
  });

  it('gets findings in all namespaces, with the printer columns', async () => {
    const out = await kubectl('get', 'findings', '-A');
    expect(out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+/);
    for (const name of ['critical-one', 'high-one', 'low-one']) expect(out).toContain(name);
  });

  it('selects by label', async () => {
    const out = await kubectl(
      'get',
      'findings',
      '-A',
      '-l',
      'kubeinspector.io/severity=CRITICAL',
      '-o',
      'name',
    );
    expect(out.trim().split('\n')).toEqual([`finding.${findingsGroup}/critical-one`]);
  });

  it('selects by field', async () => {
    const out = await kubectl(
      'get',
      'findings',
      '-n',
      namespace,
      '--field-selector',
      'metadata.name=high-one',
      '-o',
      'name',
    );
    expect(out.trim()).toBe(`finding.${findingsGroup}/high-one`);
    const bySeverity = await kubectl(
      'get',
      'findings',
      '-A',
      '--field-selector',
      'status.severity=LOW',
      '-o',
      'name',
    );
    expect(bySeverity.trim()).toBe(`finding.${findingsGroup}/low-one`);
  });

  it('prints yaml, json, jsonpath and custom columns', async () => {
    const yaml = parse(
      await kubectl('get', 'finding', 'critical-one', '-n', namespace, '-o', 'yaml'),
    ) as StoredFinding;
    expect(yaml.metadata.name).toBe('critical-one');
    expect(yaml.apiVersion).toBe(apiVersion);
    const json = JSON.parse(await kubectl('get', 'findings', '-n', namespace, '-o', 'json')) as {
      items: StoredFinding[];
    };
    expect(json.items.map((i) => i.metadata.name).sort()).toEqual([
      'critical-one',
      'high-one',
      'low-one',
    ]);
    const path = await kubectl(
      'get',
      'finding',
      'high-one',
      '-n',
      namespace,
      '-o',
      'jsonpath={.status.severity}',
    );
    expect(path).toBe('HIGH');
    const columns = await kubectl(
      'get',
      'findings',
      '-n',
      namespace,
      '-o',
      'custom-columns=NAME:.metadata.name,SCORE:.status.inspectorScore',
      '--no-headers',
    );
    expect(columns).toMatch(/critical-one\s+9\.8/);
  });

  it('sorts by a status field, in the table and in other outputs', async () => {
    const order = ['low-one', 'high-one', 'critical-one'];
    const table = await kubectl(
      'get',
      'findings',
      '-n',
      namespace,
      '--sort-by=.status.inspectorScore',
      '--no-headers',
    );
    expect(
      table
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[0]),
    ).toEqual(order);
    const names = await kubectl(
      'get',
      'findings',
      '-n',
      namespace,
      '--sort-by=.status.inspectorScore',
      '-o',
      'name',
    );
    expect(names.trim().split('\n')).toEqual(order.map((n) => `finding.${findingsGroup}/${n}`));
  });

  it('describes a finding', async () => {
    const out = await kubectl('describe', 'finding', 'critical-one', '-n', namespace);
    expect(out).toMatch(/Name:\s+critical-one/);
    expect(out).toContain('CVE-2024-6387');
  });

  it('explains the fields from the OpenAPI the aggregator merged', async () => {
    const out = await eventually(
      'kubectl explain',
      async () => {
        const r = await kubectlAll('explain', 'findings.status.severity');
        return r.code === 0 ? r.stdout : undefined;
      },
      90_000,
      1000,
    );
    expect(out).toMatch(/CRITICAL/);
  });

  it('patches spec.attributes with a merge patch', async () => {
    await kubectl(
      'patch',
      'finding',
      'high-one',
      '-n',
      namespace,
      '--type',
      'merge',
      '-p',
      '{"spec":{"attributes":{"ticket":"SEC-1"}}}',
    );
    const got = await store.get(namespace, 'high-one');
    expect((got?.spec as { attributes?: Record<string, string> } | undefined)?.attributes).toEqual({
      ticket: 'SEC-1',
    });
  });

  it('refuses labels and annotations kube-apiserver refuses, with its messages', async () => {
    await kubectlInput(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'labels', namespace },
      }),
      'apply',
      '-f',
      '-',
    );
    const tooLong = 'x'.repeat(64);
    for (const metadata of [
      { labels: { team: tooLong } },
      { labels: { 'bad key': 'v' } },
      { labels: { team: 'a b' } },
      { labels: { 'a/b/c': 'v' } },
      { labels: { 'Example.com/team': 'v' } },
      { labels: { 'example.com/': 'v' } },
      { labels: { ['n'.repeat(64)]: 'v' } },
      { annotations: { '-note': 'v' } },
      { annotations: { note: 'y'.repeat(262_145) } },
    ]) {
      const patch = JSON.stringify({ metadata });
      const [ours, theirs] = await Promise.all([
        kubectlAll('patch', 'finding', 'high-one', '-n', namespace, '--type', 'merge', '-p', patch),
        kubectlAll('patch', 'configmap', 'labels', '-n', namespace, '--type', 'merge', '-p', patch),
      ]);
      expect(theirs.code, patch.slice(0, 80)).not.toBe(0);
      expect(ours.code, patch.slice(0, 80)).not.toBe(0);
      const reason = (stderr: string) =>
        stderr.replace(/^.*? is invalid: /s, '').replace(/\s+$/, '');
      expect(reason(ours.stderr), patch.slice(0, 80)).toBe(reason(theirs.stderr));
    }
    const got = await store.get(namespace, 'high-one');
    expect(got?.metadata.labels?.team).toBeUndefined();
    expect(got?.metadata.annotations?.note).toBeUndefined();
  });

  it('applies spec.attributes server-side', async () => {
    await kubectlInput(
      JSON.stringify({
        apiVersion,
        kind: 'Finding',
        metadata: { name: 'low-one', namespace },
        spec: { attributes: { owner: 'team-a' } },
      }),
      'apply',
      '--server-side',
      '--field-manager=people',
      '-f',
      '-',
    );
    const got = await store.get(namespace, 'low-one');
    expect((got?.spec as { attributes?: Record<string, string> } | undefined)?.attributes).toEqual({
      owner: 'team-a',
    });
    const managers = (got?.metadata.managedFields ?? []).map((m) => m.manager);
    expect(managers).toContain('people');
  });

  it('refuses to delete a finding for a person', async () => {
    const result = await kubectlAll(
      'delete',
      'finding',
      'low-one',
      '-n',
      namespace,
      '--wait=false',
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Forbidden|forbidden/);
    expect(await store.get(namespace, 'low-one')).toBeDefined();
  });

  it('edits spec.attributes with kubectl edit', async () => {
    // The editor appends a spec to the finding, which has none.
    const { stderr } = await execFileAsync(
      plane.binaries.kubectl,
      ['--kubeconfig', plane.kubeconfig, 'edit', 'finding', 'critical-one', '-n', namespace],
      {
        env: {
          ...process.env,
          KUBE_EDITOR: `sed -i -e '$a spec: {attributes: {ticket: EDITED}}'`,
        },
      },
    );
    expect(stderr).toBe('');
    const got = await store.get(namespace, 'critical-one');
    expect((got?.spec as { attributes?: Record<string, string> } | undefined)?.attributes).toEqual({
      ticket: 'EDITED',
    });
  });

  it('prints the wide table', async () => {
    const out = await kubectl('get', 'findings', '-n', namespace, '-o', 'wide');
    const header = out.split('\n')[0] ?? '';
    const narrow = (await kubectl('get', 'findings', '-n', namespace)).split('\n')[0] ?? '';
    expect(header.split(/\s+/).length).toBeGreaterThanOrEqual(narrow.split(/\s+/).length);
    expect(out).toContain('critical-one');
  });

  it('enforces RBAC per verb and namespace for impersonated users', async () => {
    const reader = uniqueName('reader');
    const otherNamespace = await createNamespace('findings-other');
    await kubectlInput(
      [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'finding-reader', namespace },
          rules: [{ apiGroups: [findingsGroup], resources: ['findings'], verbs: ['get', 'list'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'finding-reader', namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'finding-reader' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: reader }],
        },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n'),
      'apply',
      '--server-side',
      '-f',
      '-',
    );
    await eventually('the reader to be allowed', async () => {
      const r = await kubectlAll('get', 'finding', 'high-one', '-n', namespace, '--as', reader);
      return r.code === 0 ? true : undefined;
    });
    const list = await kubectlAll('get', 'findings', '-n', namespace, '--as', reader, '-o', 'name');
    expect(list.code).toBe(0);
    const patch = await kubectlAll(
      'patch',
      'finding',
      'high-one',
      '-n',
      namespace,
      '--as',
      reader,
      '--type',
      'merge',
      '-p',
      '{"spec":{"attributes":{"x":"y"}}}',
    );
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toMatch(/forbidden/i);
    const elsewhere = await kubectlAll('get', 'findings', '-n', otherNamespace, '--as', reader);
    expect(elsewhere.stderr).toMatch(/forbidden/i);
    const stranger = await kubectlAll(
      'get',
      'findings',
      '-n',
      namespace,
      '--as',
      uniqueName('stranger'),
    );
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toMatch(/forbidden/i);
  });

  it('lists findings in the inspector category', async () => {
    const out = await kubectl('get', 'inspector', '-A', '-o', 'name');
    expect(out).toContain(`finding.${findingsGroup}/critical-one`);
  });

  it.each([
    ['the table', [], 'medium-table'],
    ['names', ['-o', 'name'], 'medium-name'],
  ])('streams changes to kubectl get -w (%s)', async (_what, output, name) => {
    const watcher: ChildProcess = spawn(
      plane.binaries.kubectl,
      ['--kubeconfig', plane.kubeconfig, 'get', 'findings', '-n', namespace, '-w', ...output],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    watcher.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    watcher.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    try {
      await eventually(
        'the initial list',
        () => Promise.resolve(out.includes('critical-one') ? true : undefined),
        30_000,
        100,
      );
      await store.create(finding(namespace, name, 'MEDIUM', 5.5));
      await eventually(
        'the new finding',
        () => Promise.resolve(out.includes(name) ? true : undefined),
        30_000,
        100,
      );
      if (output.length === 0) {
        // A table row for the watch event, with the printer columns (severity among them).
        expect(out.split('\n').find((l) => l.startsWith(name))).toMatch(/MEDIUM/);
      }
      expect(err).toBe('');
    } finally {
      watcher.kill();
    }
  });

  it('applies spec.attributes client-side (a JSON merge patch, never a strategic one)', async () => {
    const result = await kubectlInputAll(
      JSON.stringify({
        apiVersion,
        kind: 'Finding',
        metadata: { name: 'critical-one', namespace },
        spec: { attributes: { ticket: 'APPLIED' } },
      }),
      'apply',
      '-f',
      '-',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/configured/);
    const got = await store.get(namespace, 'critical-one');
    expect((got?.spec as { attributes?: Record<string, string> } | undefined)?.attributes).toEqual({
      ticket: 'APPLIED',
    });
  });
});

interface Answer {
  status: number;
  body: string;
}

/** A port on loopback that nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** A request straight to the findings server, bypassing kube-apiserver. */
function direct(
  method: string,
  path: string,
  clientCert: KeyPair | undefined,
  headers: Record<string, string> = {},
  port = served.port,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${port}${path}`,
      {
        method,
        ca: readFileSync(served.serving.caCert),
        ...(clientCert
          ? { cert: readFileSync(clientCert.cert), key: readFileSync(clientCert.key) }
          : {}),
        headers: { accept: 'application/json', ...headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(method === 'PATCH' ? '{"spec":{"attributes":{"k":"v"}}}' : undefined);
  });
}

describe('the identity the findings server runs as', () => {
  it('needs only system:auth-delegator and the authentication reader Role', async () => {
    const can = async (...args: string[]) =>
      (await kubectlAll('auth', 'can-i', ...args, '--as', serverUser)).stdout.trim();
    expect(await can('create', 'subjectaccessreviews.authorization.k8s.io')).toBe('yes');
    expect(
      await can('watch', 'configmaps/extension-apiserver-authentication', '-n', 'kube-system'),
    ).toBe('yes');
    expect(await can('get', 'configmaps', '-n', 'kube-system')).toBe('no');
    expect(await can('list', `findings.${findingsGroup}`, '-A')).toBe('no');
    // ...and with that alone it loaded the settings and answered every test above.
    expect(served.authenticator.config?.allowedNames).toEqual(['front-proxy-client']);
  });
});

describe('the real server when kube-apiserver is bypassed', () => {
  const path = () => `/apis/${apiVersion}/namespaces/${namespace}/findings/critical-one`;
  const frontProxy = (): KeyPair => plane.pki!.frontProxyClient;

  it('refuses a request without the front-proxy client certificate (401)', async () => {
    const answer = await direct('GET', path(), undefined, {
      'X-Remote-User': 'admin',
      'X-Remote-Group': 'system:masters',
    });
    expect(answer.status).toBe(401);
  });

  it('authorises what the front proxy forwards with its own SubjectAccessReview', async () => {
    const stranger = {
      'X-Remote-User': uniqueName('stranger'),
      'X-Remote-Group': 'system:authenticated',
    };
    const denied = await direct('GET', path(), frontProxy(), stranger);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      code: 403,
    });
  });

  it('fails closed with 503 when kube-apiserver cannot answer the SubjectAccessReview', async () => {
    // A second instance of the server whose kube-apiserver is gone (a port nothing listens on).
    const gone = new KubeConfig();
    gone.loadFromOptions({
      clusters: [
        { name: 'gone', server: `https://127.0.0.1:${await closedPort()}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'u' }],
      currentContext: 'gone',
    });
    const goneClient = await KubeClient.create(gone, { qps: 0 });
    const authenticator = new FrontProxyAuthenticator({ config: served.authenticator.config! });
    const api = createFindingsApiServer({
      store,
      authenticator,
      authorizer: new SubjectAccessReviewAuthorizer(goneClient, { retries: 1, retryDelayMs: 10 }),
      controllerUsernames: [controller],
      deleterUsernames: [],
    });
    const second = await createFrontProxyServer({
      authenticator,
      certFile: served.serving.cert,
      keyFile: served.serving.key,
      handler: api.handler,
      log,
    });
    await new Promise<void>((r) => second.server.listen(0, '127.0.0.1', r));
    const port = (second.server.address() as AddressInfo).port;
    try {
      const answer = await direct(
        'GET',
        path(),
        frontProxy(),
        {
          'X-Remote-User': uniqueName('someone'),
          'X-Remote-Group': 'system:authenticated',
        },
        port,
      );
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({
        kind: 'Status',
        reason: 'ServiceUnavailable',
        message: expect.stringMatching(
          /kube-apiserver did not answer the SubjectAccessReview/,
        ) as unknown,
      });
    } finally {
      second.stop();
      api.close();
      second.server.closeAllConnections();
      await new Promise<void>((r) => second.server.close(() => r()));
      await goneClient.close();
    }
  });

  it('trusts a request-header CA added to extension-apiserver-authentication, without a restart', async () => {
    const dir = join(scratch, 'rotation');
    const newCa = await createCa(dir, 'new-front-proxy-ca', 'new-front-proxy-ca');
    const newClient = await issueCertificate(dir, newCa, 'new-front-proxy-client', {
      commonName: 'front-proxy-client',
      usage: 'client',
    });
    const admin = { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' };
    expect((await direct('GET', path(), newClient, admin)).status).toBe(401);
    const cmPath = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
    const cm = await client.request<{ data: Record<string, string> }>('GET', cmPath);
    const bundle = `${cm.data['requestheader-client-ca-file']?.trimEnd()}\n${readFileSync(newCa.cert, 'utf8')}`;
    await client.request('PATCH', cmPath, {
      body: { data: { 'requestheader-client-ca-file': bundle } },
      contentType: 'application/merge-patch+json',
    });
    await eventually(
      'the new CA to be trusted',
      async () => {
        const answer = await direct('GET', path(), newClient, admin);
        return answer.status === 200 ? answer : undefined;
      },
      30_000,
    );
    // kube-apiserver's own front-proxy certificate still works: both CAs are trusted.
    expect((await direct('GET', path(), frontProxy(), admin)).status).toBe(200);
    expect(served.authenticator.config?.clientCas.length).toBeGreaterThanOrEqual(2);
    expect(served.frontProxy.reloads).toBeGreaterThanOrEqual(1);
  });
});

describe('cluster machinery visiting the findings API', () => {
  it('deletes a namespace that holds findings', async () => {
    const ns = await createNamespace('findings-gone');
    await store.create(finding(ns, 'a', 'HIGH', 7));
    await store.create(finding(ns, 'b', 'LOW', 1));
    await kubectl('delete', 'namespace', ns, '--wait=false');
    await eventually(
      `namespace ${ns} to be gone`,
      async () => {
        const r = await kubectlAll('get', 'namespace', ns);
        return r.code !== 0 && /NotFound/.test(r.stderr) ? true : undefined;
      },
      120_000,
      500,
    );
    expect(await store.get(ns, 'a')).toBeUndefined();
    expect(await store.get(ns, 'b')).toBeUndefined();
  });

  it('garbage-collects a finding whose owner was deleted', async () => {
    const ns = await createNamespace('findings-gc');
    const owner = await client.request<{ metadata: { uid: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/configmaps`,
      {
        body: { metadata: { name: 'owner' }, data: {} },
      },
    );
    await store.create(
      finding(ns, 'owned', 'HIGH', 7, {
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid },
        ],
      }),
    );
    await client.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/owner`);
    await eventually(
      'the owned finding to be collected',
      async () => ((await store.get(ns, 'owned')) === undefined ? true : undefined),
      120_000,
      500,
    );
  });

  it('counts findings in a ResourceQuota (the quota controller syncs)', async () => {
    const ns = await createNamespace('findings-quota');
    await store.create(finding(ns, 'q1', 'HIGH', 7));
    await store.create(finding(ns, 'q2', 'LOW', 1));
    await client.request('POST', `/api/v1/namespaces/${ns}/resourcequotas`, {
      body: { metadata: { name: 'findings' }, spec: { hard: { [quotaResource]: '10' } } },
    });
    const used = await eventually(
      'the quota usage',
      async () => {
        const quota = await client.request<{ status?: { used?: Record<string, string> } }>(
          'GET',
          `/api/v1/namespaces/${ns}/resourcequotas/findings`,
        );
        const value = quota.status?.used?.[quotaResource];
        return value === '2' ? value : undefined;
      },
      120_000,
      500,
    );
    expect(used).toBe('2');
  });

  it('keeps a client-node informer in step across a server restart, relisting at most once', async () => {
    const ns = await createNamespace('findings-informer');
    await store.create(finding(ns, 'before', 'HIGH', 7));
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const api = kc.makeApiClient(CustomObjectsApi);
    let lists = 0;
    const informer = makeInformer<KubernetesObject>(
      kc,
      `/apis/${apiVersion}/namespaces/${ns}/findings`,
      () => {
        lists++;
        return api.listNamespacedCustomObject({
          group: findingsGroup,
          version: findingsVersion,
          namespace: ns,
          plural: 'findings',
        }) as Promise<KubernetesListObject<KubernetesObject>>;
      },
    );
    const errors: unknown[] = [];
    informer.on('error', (err) => {
      // As client-node documents: an informer stops on an error and is started again.
      errors.push(err);
      setTimeout(() => void informer.start(), 500);
    });
    const names = () => informer.list(ns).map((o) => o.metadata?.name ?? '');
    try {
      await informer.start();
      await eventually('the informer to list', () =>
        Promise.resolve(names().includes('before') ? true : undefined),
      );
      expect(lists).toBe(1);

      // A restarted process: the database reopened, every connection (the watch) dropped. The
      // old store closes once the server that used it is gone, as when a process exits.
      const previous = store;
      store = await backend.open(scratch);
      await served.restart();
      await previous.close();
      await store.create(finding(ns, 'after', 'LOW', 1));
      await eventually(
        'the informer to see a finding written after the restart',
        () => Promise.resolve(names().includes('after') ? true : undefined),
        60_000,
      );
      expect(names().sort()).toEqual(['after', 'before']);
      expect(lists).toBeLessThanOrEqual(2);
    } finally {
      await informer.stop();
    }
  });

  it('leaves kubectl without discovery errors once unregistered (APIService first)', async () => {
    await served.registration.unregister();
    const result = await kubectlAll('api-resources');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toContain(findingsGroup);
  });

  it('answered no request with an internal error', () => {
    expect(internalErrors).toEqual([]);
  });
});
