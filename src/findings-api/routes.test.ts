import { describe, expect, it } from 'vitest';
import { route } from './routes.ts';

const base = '/apis/findings.kubeinspector.io/v1alpha1';
const r = (method: string, path: string) => route(method, new URL(path, 'http://x'));

describe('route', () => {
  it.each([
    ['GET', `${base}/namespaces/ns/findings/f1`, { verb: 'get', namespace: 'ns', name: 'f1' }],
    ['GET', `${base}/namespaces/ns/findings`, { verb: 'list', namespace: 'ns' }],
    ['GET', `${base}/findings`, { verb: 'list' }],
    ['GET', `${base}/findings?watch=1`, { verb: 'watch' }],
    ['GET', `${base}/namespaces/ns/findings?watch=true`, { verb: 'watch', namespace: 'ns' }],
    ['GET', `${base}/watch/findings`, { verb: 'watch' }],
    [
      'GET',
      `${base}/watch/namespaces/ns/findings/f1`,
      { verb: 'watch', namespace: 'ns', name: 'f1' },
    ],
    ['POST', `${base}/namespaces/ns/findings`, { verb: 'create', namespace: 'ns' }],
    ['PUT', `${base}/namespaces/ns/findings/f1`, { verb: 'update', namespace: 'ns', name: 'f1' }],
    [
      'PATCH',
      `${base}/namespaces/ns/findings/f1/status`,
      { verb: 'patch', namespace: 'ns', name: 'f1', subresource: 'status' },
    ],
    [
      'DELETE',
      `${base}/namespaces/ns/findings/f1`,
      { verb: 'delete', namespace: 'ns', name: 'f1' },
    ],
    ['DELETE', `${base}/namespaces/ns/findings`, { verb: 'deletecollection', namespace: 'ns' }],
    ['POST', `${base}/namespaces/ns/findings/f1`, { verb: '', namespace: 'ns', name: 'f1' }],
    ['GET', `${base}/findings?watch=false`, { verb: 'list' }],
    ['GET', `${base}/findings?watch=`, { verb: 'watch' }],
    [
      'GET',
      `${base}/namespaces/ns/findings?fieldSelector=metadata.name%3Df1`,
      { verb: 'list', namespace: 'ns', name: 'f1' },
    ],
    [
      'GET',
      `${base}/namespaces/ns/findings?watch=1&fieldSelector=status.severity%3DLOW,metadata.name%3D%3Df1`,
      { verb: 'watch', namespace: 'ns', name: 'f1' },
    ],
    [
      'GET',
      `${base}/namespaces/ns/findings?fieldSelector=metadata.name!%3Df1`,
      { verb: 'list', namespace: 'ns' },
    ],
    [
      'GET',
      `${base}/namespaces/ns/findings?fieldSelector=metadata.name%3Da%2Fb`,
      { verb: 'list', namespace: 'ns' },
    ],
    ['POST', `${base}/findings`, { verb: '' }],
    ['DELETE', `${base}/findings`, { verb: '' }],
  ])('%s %s', (method, path, expected) => {
    expect(r(method, path)).toEqual({ kind: 'resource', resource: expected });
  });

  it.each([
    ['/healthz', { kind: 'health', check: 'healthz' }],
    ['/readyz/ping', { kind: 'health', check: 'readyz' }],
    ['/apis', { kind: 'discovery', document: 'groupList' }],
    ['/apis/findings.kubeinspector.io', { kind: 'discovery', document: 'group' }],
    [base, { kind: 'discovery', document: 'resourceList' }],
    [`${base}/`, { kind: 'discovery', document: 'resourceList' }],
    ['/openapi/v2', { kind: 'openapi', document: 'v2' }],
    ['/openapi/v3', { kind: 'openapi', document: 'v3root' }],
    [`/openapi/v3${base}`, { kind: 'openapi', document: 'v3' }],
    [`${base}/namespaces/ns/findings/f1/scale`, { kind: 'notFound' }],
    [`${base}/findings/f1`, { kind: 'notFound' }],
    [`${base}/watch/namespaces/ns/findings/f1/status`, { kind: 'notFound' }],
    ['/apis/kubeinspector.io/v1alpha1', { kind: 'notFound' }],
    ['/api/v1/pods', { kind: 'notFound' }],
  ])('GET %s', (path, expected) => {
    expect(r('GET', path)).toEqual(expected);
  });
});
