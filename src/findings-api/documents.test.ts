// The documents are JSON read by path, as kube-aggregator and kubectl read them.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument */
import { describe, expect, it } from 'vitest';
import { lintStructural } from '../api/crd.ts';
import { DISCOVERY, apiResourceList, notModified } from './discovery.ts';
import { NAMES, PATCH_CONTENT_TYPES, openApiV2, openApiV3, openApiV3Root } from './openapi.ts';
import { checkFinding, strictMessage, unknownFieldWarning } from './validate.ts';

type Obj = Record<string, any>;

/** Every $ref in a document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

const OPS = ['get', 'put', 'post', 'patch', 'delete'];

describe('OpenAPI', () => {
  it.each([
    ['v2', openApiV2(), '#/definitions/', (d: Obj) => d.definitions as Obj],
    ['v3', openApiV3(), '#/components/schemas/', (d: Obj) => d.components.schemas as Obj],
  ])('%s: every reference resolves', (_v, doc, prefix, defs) => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(10);
    for (const r of all) expect(Object.keys(defs(doc))).toContain(r.slice(prefix.length));
  });

  it.each([
    ['v2', openApiV2()],
    ['v3', openApiV3()],
  ])(
    '%s: every operation names its action and kind; PATCH never offers strategic merge',
    (v, doc) => {
      let patches = 0;
      for (const item of Object.values(doc.paths as Obj)) {
        for (const method of OPS) {
          const op = item[method];
          if (!op) continue;
          expect(op['x-kubernetes-action']).toBeTruthy();
          expect(op['x-kubernetes-group-version-kind']).toEqual({
            group: 'findings.kubeinspector.io',
            kind: 'Finding',
            version: 'v1alpha1',
          });
          if (method !== 'patch') continue;
          patches++;
          const types = v === 'v2' ? op.consumes : Object.keys(op.requestBody.content);
          expect(types).toEqual([...PATCH_CONTENT_TYPES]);
        }
      }
      expect(patches).toBe(2);
    },
  );

  it('describes every field of spec and status as a structural schema (kubectl explain)', () => {
    const doc: Obj = openApiV2();
    const finding = doc.definitions[NAMES.finding];
    expect(finding['x-kubernetes-group-version-kind']).toEqual([
      { group: 'findings.kubeinspector.io', kind: 'Finding', version: 'v1alpha1' },
    ]);
    expect(lintStructural(finding.properties.spec, '.spec')).toEqual([]);
    expect(lintStructural(finding.properties.status, '.status')).toEqual([]);
  });

  it('points the v3 root at the group-version document with a hash of its content', () => {
    const a = openApiV3Root('one').paths as Obj;
    const b = openApiV3Root('two').paths as Obj;
    const key = 'apis/findings.kubeinspector.io/v1alpha1';
    expect(a[key].serverRelativeURL).toMatch(
      /^\/openapi\/v3\/apis\/findings\.kubeinspector\.io\/v1alpha1\?hash=[0-9A-F]{128}$/,
    );
    expect(a[key].serverRelativeURL).not.toBe(b[key].serverRelativeURL);
  });
});

describe('discovery', () => {
  it('lists findings and findings/status with the CRD names', () => {
    const list = apiResourceList() as Obj;
    expect(list.resources[0]).toMatchObject({
      name: 'findings',
      singularName: 'finding',
      namespaced: true,
      kind: 'Finding',
      shortNames: ['fnd'],
      categories: ['inspector'],
    });
    expect(list.resources[1]).toMatchObject({
      name: 'findings/status',
      verbs: ['get', 'patch', 'update'],
    });
  });

  it.each([
    [undefined, false],
    ['"other"', false],
    [DISCOVERY.group.etag, true],
    [`"x", ${DISCOVERY.group.etag}`, true],
    [`W/${DISCOVERY.group.etag}`, true],
    ['*', true],
  ])('If-None-Match %j matches: %s', (header, expected) => {
    expect(notModified(header, DISCOVERY.group.etag)).toBe(expected);
  });

  it('gives each document its own ETag and the aggregated documents their content type', () => {
    const etags = Object.values(DISCOVERY).map((d) => d.etag);
    expect(new Set(etags).size).toBe(etags.length);
    expect(DISCOVERY.aggregatedV2.contentType).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    expect(JSON.parse(DISCOVERY.aggregatedV2beta1.body).apiVersion).toBe(
      'apidiscovery.k8s.io/v2beta1',
    );
  });
});

describe('checkFinding', () => {
  const good = {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: { name: 'f' },
    spec: { attributes: { a: 'b' } },
    status: { severity: 'LOW' },
  };

  it('accepts a valid finding', () => {
    expect(checkFinding(good)).toMatchObject({ causes: [], unknown: [] });
  });

  it('prunes and names unknown fields at any depth', () => {
    const out = checkFinding({
      ...good,
      extra: 1,
      spec: { attributes: {}, colour: 'red' },
      status: { severity: 'LOW', resource: { type: 'NODE', id: 'n', shape: 'x' } },
    });
    expect(out.unknown.sort()).toEqual(['extra', 'spec.colour', 'status.resource.shape']);
    expect(out.object).not.toHaveProperty('extra');
    expect(out.object.spec).toEqual({ attributes: {} });
    expect(strictMessage(['spec.colour'])).toBe(
      'strict decoding error: unknown field "spec.colour"',
    );
    expect(unknownFieldWarning('spec.colour')).toBe('299 - "unknown field \\"spec.colour\\""');
  });

  it.each([
    ['the CRD group', { ...good, apiVersion: 'kubeinspector.io/v1alpha1' }, 'apiVersion'],
    ['another kind', { ...good, kind: 'CoveredResource' }, 'kind'],
    ['an unknown severity', { ...good, status: { severity: 'SEVERE' } }, 'status.severity'],
    [
      'eleven attributes',
      {
        ...good,
        spec: { attributes: Object.fromEntries([...Array(11).keys()].map((i) => [`k${i}`, 'v'])) },
      },
      'spec.attributes',
    ],
  ])('refuses %s, naming the field', (_name, body, field) => {
    expect(checkFinding(body).causes.map((c) => c.field)).toContain(field);
  });
});
