// The findings API's security against the real kube-apiserver: requests proxied
// through the aggregation layer arrive with the caller's identity; requests that
// do not come from kube-apiserver's front proxy are refused; RBAC on
// findings.kubeinspector.io is enforced by SubjectAccessReview per verb and
// namespace, with answers cached. The server here is a minimal one that uses
// the product's Authenticator and Authorizer and answers discovery.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCa, issueCertificate, type KeyPair } from '../../hack/control-plane/pki.ts';
import type { Authenticator, RequestAttributes } from '../../src/findings-api/auth-types.ts';
import {
  AuthorizationUnavailableError,
  SubjectAccessReviewAuthorizer,
  type SubjectAccessReviewSpec,
} from '../../src/findings-api/subject-access-review.ts';
import {
  findingsGroup,
  findingsVersion,
  type ServedApi,
  serveAggregatedApi,
} from './findings-api-harness.ts';
import { createNamespace, kubeConfig, kubectlApply, uniqueName } from './helpers.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const groupVersion = `${findingsGroup}/${findingsVersion}`;
const base = `/apis/${findingsGroup}/${findingsVersion}`;

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

/** What a request asks, as the findings API's HTTP layer works it out (enough for these tests). */
function attributesOf(req: IncomingMessage, user: RequestAttributes['user']): RequestAttributes {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const m = new RegExp(`^${base}/namespaces/([^/]+)/findings(?:/([^/]+))?$`).exec(url.pathname);
  if (m === null)
    return {
      kind: 'nonResource',
      user,
      verb: (req.method ?? 'GET').toLowerCase(),
      path: url.pathname,
    };
  const method = req.method ?? 'GET';
  const name = m[2];
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : 'list'
      : method === 'PATCH'
        ? 'patch'
        : method === 'PUT'
          ? 'update'
          : method === 'DELETE'
            ? 'delete'
            : 'create';
  return {
    kind: 'resource',
    user,
    verb,
    group: findingsGroup,
    version: findingsVersion,
    resource: 'findings',
    namespace: m[1] ?? '',
    ...(name ? { name } : {}),
  };
}

/** A minimal findings API: discovery, and every finding request answered with who asked. */
function minimalHandler(
  authenticator: Authenticator,
  authorizer: SubjectAccessReviewAuthorizer,
): RequestListener {
  return (req, res) => {
    void (async () => {
      const authn = authenticator.authenticate(req);
      if (!authn.ok) {
        send(res, 401, status(401, 'Unauthorized', authn.message));
        return;
      }
      const attributes = attributesOf(req, authn.user);
      try {
        const decision = await authorizer.authorize(attributes);
        if (!decision.allowed) {
          send(
            res,
            403,
            status(403, 'Forbidden', `forbidden: ${decision.reason ?? 'no RBAC rule allows it'}`),
          );
          return;
        }
      } catch (err) {
        const code = err instanceof AuthorizationUnavailableError ? err.status.code : 500;
        send(
          res,
          code,
          status(
            code,
            code === 503 ? 'ServiceUnavailable' : 'InternalError',
            (err as Error).message,
          ),
        );
        return;
      }
      const path = new URL(req.url ?? '/', 'https://localhost').pathname;
      if (path === '/apis') {
        send(res, 200, {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: [
            {
              name: findingsGroup,
              versions: [{ groupVersion, version: findingsVersion }],
              preferredVersion: { groupVersion, version: findingsVersion },
            },
          ],
        });
      } else if (path === `/apis/${findingsGroup}`) {
        send(res, 200, {
          kind: 'APIGroup',
          apiVersion: 'v1',
          name: findingsGroup,
          versions: [{ groupVersion, version: findingsVersion }],
          preferredVersion: { groupVersion, version: findingsVersion },
        });
      } else if (path === base) {
        send(res, 200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion,
          // No list/watch/delete: the namespace and garbage-collector controllers of the shared
          // control plane leave a resource without them alone.
          resources: [
            {
              name: 'findings',
              singularName: 'finding',
              namespaced: true,
              kind: 'Finding',
              verbs: ['get', 'patch'],
            },
          ],
        });
      } else if (attributes.kind === 'resource') {
        send(res, 200, {
          apiVersion: groupVersion,
          kind: 'Finding',
          metadata: { name: attributes.name ?? '', namespace: attributes.namespace },
          status: { verb: attributes.verb, user: authn.user },
        });
      } else {
        send(res, 404, status(404, 'NotFound', `${path} not found`));
      }
    })();
  };
}

interface Answer {
  status: number;
  body: string;
}

/** The message of a Status answer. */
function messageOf(answer: Answer): string {
  return (JSON.parse(answer.body) as { message?: string }).message ?? '';
}

interface Tls {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

function call(
  url: string,
  method: string,
  tls: Tls,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ...tls, headers, agent: false, timeout: 15_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.end(body);
  });
}

let served: ServedApi;
let authorizer: SubjectAccessReviewAuthorizer;
let namespace: string;
let otherNamespace: string;
let clock = Date.now();
let admin: Tls;
let apiServer: string;
let scratch: string;
const reader = uniqueName('reader');
const readerReviews: SubjectAccessReviewSpec[] = [];
const stranger = uniqueName('stranger');

/** Through kube-apiserver, as an impersonated user (the admin may impersonate). */
function viaApiServer(
  method: string,
  path: string,
  as: Record<string, string>,
  body?: string,
): Promise<Answer> {
  const headers: Record<string, string> = { ...as, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/merge-patch+json';
  return call(`${apiServer}${path}`, method, admin, headers, body);
}

/** Straight to the findings server, bypassing kube-apiserver. */
function direct(
  method: string,
  path: string,
  client: KeyPair | undefined,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const tls: Tls = { ca: readFileSync(served.serving.caCert) };
  if (client) {
    tls.cert = readFileSync(client.cert);
    tls.key = readFileSync(client.key);
  }
  return call(`https://127.0.0.1:${served.port}${path}`, method, tls, headers);
}

const frontProxyClient = (): KeyPair => ({
  cert: inject('frontProxyClientCert'),
  key: inject('frontProxyClientKey'),
});

beforeAll(async () => {
  const kc = kubeConfig();
  apiServer = kc.getCurrentCluster()?.server ?? '';
  const opts: Tls & { headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  admin = {};
  if (opts.ca !== undefined) admin.ca = opts.ca;
  if (opts.cert !== undefined) admin.cert = opts.cert;
  if (opts.key !== undefined) admin.key = opts.key;
  scratch = await mkdtemp(join(tmpdir(), 'ki-findings-auth-'));
  namespace = await createNamespace(kc, 'findings-auth');
  otherNamespace = await createNamespace(kc, 'findings-auth-other');
  await kubectlApply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'finding-reader', namespace },
      rules: [{ apiGroups: [findingsGroup], resources: ['findings'], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'finding-reader', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'finding-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: reader }],
    },
  );
  served = await serveAggregatedApi({
    kubeConfig: kc,
    log,
    service: { name: 'findings-api', namespace },
    handler: (authenticator, client) => {
      authorizer = new SubjectAccessReviewAuthorizer(client, {
        now: () => clock,
        // kube-apiserver fetches discovery and OpenAPI in the background: count only the reader's.
        onReview: (spec) => {
          if (spec.user === reader) readerReviews.push(spec);
        },
      });
      return minimalHandler(authenticator, authorizer);
    },
  });
});

afterAll(async () => {
  await served?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the findings API behind kube-apiserver', () => {
  it('follows the front-proxy settings kube-apiserver publishes', () => {
    const config = served.authenticator.config;
    expect(config?.allowedNames).toEqual(['front-proxy-client']);
    expect(config?.usernameHeaders).toEqual(['X-Remote-User']);
    expect(config?.groupHeaders).toEqual(['X-Remote-Group']);
    expect(config?.extraHeaderPrefixes).toEqual(['X-Remote-Extra-']);
    expect(config?.uidHeaders).toEqual(['X-Remote-Uid']);
    expect(config?.clientCaPem).toBe(readFileSync(inject('frontProxyCaCert'), 'utf8'));
  });

  it('receives the caller through kube-apiserver: user, uid, groups and extras', async () => {
    const answer = await viaApiServer('GET', `${base}/namespaces/${namespace}/findings/f-1`, {
      'Impersonate-User': reader,
      'Impersonate-Uid': 'uid-1234',
      'Impersonate-Group': 'team-blue',
      'Impersonate-Extra-Scopes': 'view',
      'Impersonate-Extra-example.com%2fTeam': 'blue',
    });
    expect(answer.status, answer.body).toBe(200);
    const user = (JSON.parse(answer.body) as { status: { user: Record<string, unknown> } }).status
      .user;
    expect(user).toEqual({
      name: reader,
      uid: 'uid-1234',
      groups: ['team-blue', 'system:authenticated'],
      extra: { scopes: ['view'], 'example.com/team': ['blue'] },
    });
  });

  it('answers discovery through kube-apiserver', async () => {
    const answer = await viaApiServer('GET', base, {});
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ kind: 'APIResourceList', groupVersion });
  });
});

describe('requests that do not come from the front proxy', () => {
  let otherCaClient: KeyPair;
  let wrongNameClient: KeyPair;

  beforeAll(async () => {
    const other = await createCa(scratch, 'other-ca', 'front-proxy-ca');
    otherCaClient = await issueCertificate(scratch, other, 'other-ca-client', {
      commonName: 'front-proxy-client',
      usage: 'client',
    });
    wrongNameClient = await issueCertificate(
      scratch,
      { cert: inject('frontProxyCaCert'), key: inject('frontProxyCaKey') },
      'wrong-name-client',
      { commonName: 'not-the-front-proxy', usage: 'client' },
    );
  });

  const asAdmin = { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'system:masters' };
  const path = () => `${base}/namespaces/${namespace}/findings/f-1`;

  it('accepts kube-apiserver front-proxy certificate with the user in the headers (the control case)', async () => {
    const answer = await direct('GET', path(), frontProxyClient(), asAdmin);
    expect(answer.status).toBe(200);
  });

  it('refuses a request without a client certificate (401)', async () => {
    const answer = await direct('GET', path(), undefined, asAdmin);
    expect(answer.status).toBe(401);
    expect(messageOf(answer)).toMatch(/no client certificate/);
  });

  it('refuses a certificate signed by another CA, even with the allowed name (401)', async () => {
    const answer = await direct('GET', path(), otherCaClient, asAdmin);
    expect(answer.status).toBe(401);
    expect(messageOf(answer)).toMatch(/not signed by the request-header CA/);
  });

  it('refuses a certificate of the request-header CA whose name is not allowed (401)', async () => {
    const answer = await direct('GET', path(), wrongNameClient, asAdmin);
    expect(answer.status).toBe(401);
    expect(messageOf(answer)).toMatch(/"not-the-front-proxy" is not one of the allowed names/);
  });

  it('refuses the front proxy when no user is named (401)', async () => {
    const answer = await direct('GET', path(), frontProxyClient(), {});
    expect(answer.status).toBe(401);
    expect(messageOf(answer)).toMatch(/no user in the request headers/);
  });
});

describe('RBAC on findings.kubeinspector.io, by SubjectAccessReview', () => {
  const finding = (ns: string) => `${base}/namespaces/${ns}/findings/f-1`;
  const asReader = () => ({ 'X-Remote-User': reader, 'X-Remote-Group': 'system:authenticated' });

  it('lets a user with get read a finding but not patch it, through kube-apiserver', async () => {
    const as = { 'Impersonate-User': reader };
    expect((await viaApiServer('GET', finding(namespace), as)).status).toBe(200);
    const patch = await viaApiServer(
      'PATCH',
      finding(namespace),
      as,
      '{"spec":{"attributes":{"a":"b"}}}',
    );
    expect(patch.status).toBe(403);
  });

  it('refuses a stranger (403), through kube-apiserver', async () => {
    const answer = await viaApiServer('GET', finding(namespace), { 'Impersonate-User': stranger });
    expect(answer.status).toBe(403);
  });

  it('decides itself, per verb and namespace, when asked directly by the front proxy', async () => {
    clock += 60_000; // nothing from earlier tests is cached
    expect((await direct('GET', finding(namespace), frontProxyClient(), asReader())).status).toBe(
      200,
    );
    const patch = await direct('PATCH', finding(namespace), frontProxyClient(), asReader());
    expect(patch.status).toBe(403);
    expect(messageOf(patch)).toMatch(/^forbidden: /);
    const elsewhere = await direct('GET', finding(otherNamespace), frontProxyClient(), asReader());
    expect(elsewhere.status).toBe(403);
    const strangers = await direct('GET', finding(namespace), frontProxyClient(), {
      'X-Remote-User': stranger,
      'X-Remote-Group': 'system:authenticated',
    });
    expect(strangers.status).toBe(403);
  });

  it('answers a repeated question from its cache, without a second review', async () => {
    clock += 60_000;
    const before = readerReviews.length;
    expect((await direct('GET', finding(namespace), frontProxyClient(), asReader())).status).toBe(
      200,
    );
    expect(readerReviews.length).toBe(before + 1);
    expect(readerReviews.at(-1)?.resourceAttributes).toEqual({
      verb: 'get',
      group: findingsGroup,
      version: findingsVersion,
      resource: 'findings',
      namespace,
      name: 'f-1',
    });
    const hits = authorizer.stats.cacheHits;
    expect((await direct('GET', finding(namespace), frontProxyClient(), asReader())).status).toBe(
      200,
    );
    expect(readerReviews.length).toBe(before + 1);
    expect(authorizer.stats.cacheHits).toBeGreaterThan(hits);
  });

  it('folds identical questions asked at the same time into one review', async () => {
    clock += 60_000;
    const attributes: RequestAttributes = {
      kind: 'resource',
      user: { name: reader, groups: ['system:authenticated'], extra: {} },
      verb: 'get',
      group: findingsGroup,
      version: findingsVersion,
      resource: 'findings',
      namespace,
      name: 'f-2',
    };
    const reviews = readerReviews.length;
    const folded = authorizer.stats.folded;
    const decisions = await Promise.all(
      Array.from({ length: 5 }, () => authorizer.authorize(attributes)),
    );
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true]);
    expect(readerReviews.length - reviews).toBe(1);
    expect(authorizer.stats.folded - folded).toBe(4);

    // The same over HTTP: five requests at once cost one review (folded or answered from the cache).
    clock += 60_000;
    const before = { ...authorizer.stats, reader: readerReviews.length };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        direct('GET', finding(otherNamespace), frontProxyClient(), asReader()),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([403, 403, 403, 403, 403]);
    expect(readerReviews.length - before.reader).toBe(1);
    expect(
      authorizer.stats.folded - before.folded + (authorizer.stats.cacheHits - before.cacheHits),
    ).toBeGreaterThanOrEqual(4);
  });

  it('keeps a denial for its 10 s, then sees a new RoleBinding', async () => {
    clock += 60_000;
    const patch = () => direct('PATCH', finding(namespace), frontProxyClient(), asReader());
    expect((await patch()).status).toBe(403);
    await kubectlApply(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'finding-patcher', namespace },
        rules: [{ apiGroups: [findingsGroup], resources: ['findings'], verbs: ['patch'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'finding-patcher', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'finding-patcher' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: reader }],
      },
    );
    // Within its 10 s the denial is answered from the cache, without asking kube-apiserver.
    const reviews = readerReviews.length;
    clock += 9_000;
    expect((await patch()).status).toBe(403);
    expect(readerReviews.length).toBe(reviews);
    clock += 1_001;
    let last = 0;
    for (let i = 0; i < 50 && last !== 200; i++) {
      clock += 10_001;
      last = (await patch()).status;
      if (last !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(last).toBe(200);
  });
});
