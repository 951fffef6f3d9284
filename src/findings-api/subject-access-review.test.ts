import { createServer } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.ts';
import type { RequestAttributes } from './auth-types.ts';
import {
  AuthorizationUnavailableError,
  decision,
  ExpiringLruCache,
  reviewKey,
  SubjectAccessReviewAuthorizer,
  subjectAccessReviewSpec,
} from './subject-access-review.ts';

const alice = { name: 'alice', uid: 'u-1', groups: ['dev'], extra: { scopes: ['a', 'b'] } };

describe('the SubjectAccessReview asked for a request', () => {
  it('carries the user, uid, groups, extra and the resource attributes', () => {
    const attributes: RequestAttributes = {
      kind: 'resource',
      user: alice,
      verb: 'patch',
      group: 'findings.kubeinspector.io',
      version: 'v1alpha1',
      resource: 'findings',
      subresource: 'status',
      namespace: 'team-a',
      name: 'f-1',
    };
    expect(subjectAccessReviewSpec(attributes)).toEqual({
      user: 'alice',
      uid: 'u-1',
      groups: ['dev'],
      extra: { scopes: ['a', 'b'] },
      resourceAttributes: {
        verb: 'patch',
        group: 'findings.kubeinspector.io',
        version: 'v1alpha1',
        resource: 'findings',
        subresource: 'status',
        namespace: 'team-a',
        name: 'f-1',
      },
    });
  });

  it('leaves out what a cluster-wide list does not have', () => {
    const spec = subjectAccessReviewSpec({
      kind: 'resource',
      user: { name: 'bob', groups: [], extra: {} },
      verb: 'list',
      group: 'findings.kubeinspector.io',
      version: 'v1alpha1',
      resource: 'findings',
    });
    expect(spec).toEqual({
      user: 'bob',
      groups: [],
      resourceAttributes: {
        verb: 'list',
        group: 'findings.kubeinspector.io',
        version: 'v1alpha1',
        resource: 'findings',
      },
    });
  });

  it('asks about a path for a non-resource request', () => {
    const spec = subjectAccessReviewSpec({
      kind: 'nonResource',
      user: alice,
      verb: 'get',
      path: '/openapi/v3',
    });
    expect(spec.nonResourceAttributes).toEqual({ verb: 'get', path: '/openapi/v3' });
    expect(spec.resourceAttributes).toBeUndefined();
  });

  it('gives the same cache key whatever order the extra keys came in, and another for another verb', () => {
    const base = {
      kind: 'resource' as const,
      group: 'findings.kubeinspector.io',
      version: 'v1alpha1',
      resource: 'findings',
      namespace: 'ns',
    };
    const a = subjectAccessReviewSpec({
      ...base,
      verb: 'get',
      user: { name: 'x', groups: [], extra: { b: ['1'], a: ['2'] } },
    });
    const b = subjectAccessReviewSpec({
      ...base,
      verb: 'get',
      user: { name: 'x', groups: [], extra: { a: ['2'], b: ['1'] } },
    });
    const c = subjectAccessReviewSpec({
      ...base,
      verb: 'patch',
      user: { name: 'x', groups: [], extra: { a: ['2'], b: ['1'] } },
    });
    expect(reviewKey(a)).toBe(reviewKey(b));
    expect(reviewKey(a)).not.toBe(reviewKey(c));
  });
});

describe('the decision from a review status', () => {
  it.each([
    [
      'allowed',
      { allowed: true, reason: 'RBAC: allowed' },
      { allowed: true, reason: 'RBAC: allowed' },
    ],
    [
      'not allowed, with the reason',
      { allowed: false, reason: 'no rule' },
      { allowed: false, reason: 'no rule' },
    ],
    [
      'denied even if also allowed (fail closed)',
      { allowed: true, denied: true, reason: 'denied by policy' },
      { allowed: false, reason: 'denied by policy' },
    ],
    [
      'not allowed, with the evaluation error added to the reason',
      { allowed: false, reason: 'no rule', evaluationError: 'role x not found' },
      { allowed: false, reason: 'no rule; role x not found' },
    ],
    ['not allowed with nothing to say', { allowed: false }, { allowed: false }],
  ])('%s', (_what, status, expected) => {
    expect(decision(status)).toEqual(expected);
  });
});

describe('the expiring LRU cache', () => {
  it('forgets an entry when its time is up', () => {
    const cache = new ExpiringLruCache<string>(10);
    cache.set('k', 'v', 10_000, 0);
    expect(cache.get('k', 9_999)).toBe('v');
    expect(cache.get('k', 10_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most its size, dropping the least recently used', () => {
    const cache = new ExpiringLruCache<number>(2);
    cache.set('a', 1, 1000, 0);
    cache.set('b', 2, 1000, 0);
    expect(cache.get('a', 1)).toBe(1); // a is now the most recently used
    cache.set('c', 3, 1000, 2);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 3)).toBeUndefined();
    expect(cache.get('a', 3)).toBe(1);
    expect(cache.get('c', 3)).toBe(3);
  });

  it('refuses a size below one', () => {
    expect(() => new ExpiringLruCache(0)).toThrow(/at least one/);
  });
});

/** A port on loopback that nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

describe('the authoriser when kube-apiserver cannot be reached', () => {
  it('fails closed with 503 after its retries, caches nothing and tries again next time', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `https://127.0.0.1:${await closedPort()}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const client = await KubeClient.create(kc, { qps: 0 });
    const authorizer = new SubjectAccessReviewAuthorizer(client, { retries: 1, retryDelayMs: 10 });
    const attributes: RequestAttributes = {
      kind: 'resource',
      user: alice,
      verb: 'get',
      group: 'findings.kubeinspector.io',
      version: 'v1alpha1',
      resource: 'findings',
      namespace: 'team-a',
    };
    const error = await authorizer.authorize(attributes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthorizationUnavailableError);
    expect((error as AuthorizationUnavailableError).status).toMatchObject({
      kind: 'Status',
      code: 503,
      reason: 'ServiceUnavailable',
      details: { retryAfterSeconds: 1 },
    });
    expect((error as Error).message).toMatch(/kube-apiserver did not answer/);
    expect(authorizer.stats.reviews).toBe(2);
    expect(authorizer.cachedAnswers).toBe(0);
    await expect(authorizer.authorize(attributes)).rejects.toThrow(AuthorizationUnavailableError);
    expect(authorizer.stats.reviews).toBe(4);
    await client.close();
  });

  it('needs no review for system:masters or a health path', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${await closedPort()}` }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const client = await KubeClient.create(kc);
    const authorizer = new SubjectAccessReviewAuthorizer(client);
    const aggregator = { name: 'system:kube-aggregator', groups: ['system:masters'], extra: {} };
    await expect(
      authorizer.authorize({ kind: 'nonResource', user: aggregator, verb: 'get', path: '/apis' }),
    ).resolves.toMatchObject({ allowed: true });
    await expect(
      authorizer.authorize({ kind: 'nonResource', user: alice, verb: 'get', path: '/readyz' }),
    ).resolves.toMatchObject({ allowed: true });
    expect(authorizer.stats.reviews).toBe(0);
    await client.close();
  });
});
