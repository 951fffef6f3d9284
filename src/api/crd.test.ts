import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type JsonSchema,
  customResourceDefinition,
  lintRoot,
  lintStructural,
  openApiSchema,
  rootSchema,
  toStructural,
} from './crd.ts';
import { INVALID_OBJECTS, VALID_PARTS } from './testing/invalid-objects.ts';
import { API_VERSION, CATEGORY, KINDS, kindInfo } from './v1alpha1/index.ts';

const described = (extra: JsonSchema): JsonSchema => ({ description: 'd', ...extra });

describe('toStructural', () => {
  it('drops additionalProperties: false next to properties', () => {
    const out = openApiSchema(z.object({ a: z.string().max(3).describe('a') }).strict());
    expect(out).not.toHaveProperty('additionalProperties');
    expect(out.properties).toHaveProperty('a');
  });

  it('drops the pattern zod adds to date-time strings', () => {
    const out = openApiSchema(z.iso.datetime().max(64));
    expect(out).toEqual({ type: 'string', format: 'date-time', maxLength: 64 });
  });

  it('drops the safe-integer bounds of z.int() and marks integers int64', () => {
    expect(openApiSchema(z.int())).toEqual({ type: 'integer', format: 'int64' });
  });

  it('turns a const into a one-value enum', () => {
    expect(toStructural({ type: 'string', const: 'x' })).toEqual({ type: 'string', enum: ['x'] });
  });

  it('refuses unions, which have no structural form', () => {
    expect(() => openApiSchema(z.object({ a: z.union([z.string(), z.number()]) }))).toThrow(
      /\.a: anyOf is not supported/,
    );
  });

  it('refuses recursive schemas, which need $ref', () => {
    const Node: z.ZodType = z.object({ children: z.array(z.lazy(() => Node)) });
    expect(() => openApiSchema(Node)).toThrow();
  });

  it('keeps x-kubernetes keys given through meta', () => {
    const out = openApiSchema(
      z.array(z.string().max(1)).max(2).meta({ 'x-kubernetes-list-type': 'set' }),
    );
    expect(out['x-kubernetes-list-type']).toBe('set');
  });
});

describe('lintStructural reports', () => {
  const cases: [string, JsonSchema, string][] = [
    [
      'a node without a type',
      { properties: { a: described({ type: 'string', maxLength: 1 }) } },
      '<root>: no type',
    ],
    ['type null', { type: 'null' }, '<root>: no type'],
    [
      'a $ref',
      { type: 'object', properties: { a: described({ $ref: '#' }) } },
      '.a: key $ref is not allowed',
    ],
    [
      'an anyOf',
      { type: 'object', properties: { a: described({ type: 'string', maxLength: 1, anyOf: [] }) } },
      '.a: key anyOf is not allowed',
    ],
    [
      'additionalProperties beside properties',
      { type: 'object', properties: {}, additionalProperties: { type: 'string', maxLength: 1 } },
      'additionalProperties beside properties',
    ],
    [
      'a string without maxLength',
      { type: 'object', properties: { a: described({ type: 'string' }) } },
      '.a: string without maxLength',
    ],
    [
      'a list without maxItems',
      {
        type: 'object',
        properties: { a: described({ type: 'array', items: { type: 'integer' } }) },
      },
      '.a: list without maxItems',
    ],
    [
      'a map without maxProperties',
      {
        type: 'object',
        properties: { a: described({ type: 'object', additionalProperties: { type: 'integer' } }) },
      },
      '.a: map without maxProperties',
    ],
    [
      'a field without a description',
      { type: 'object', properties: { a: { type: 'integer' } } },
      '.a: no description',
    ],
    [
      'list-form items',
      { type: 'object', properties: { a: described({ type: 'array', maxItems: 1, items: [] }) } },
      '.a: items must be a schema',
    ],
    [
      'uniqueItems',
      {
        type: 'object',
        properties: {
          a: described({
            type: 'array',
            maxItems: 1,
            uniqueItems: true,
            items: { type: 'integer' },
          }),
        },
      },
      '.a: uniqueItems is forbidden',
    ],
    [
      'an object whose content would be pruned',
      { type: 'object', properties: { a: described({ type: 'object' }) } },
      '.a: object without properties',
    ],
    [
      'a list-map key that is neither required nor defaulted',
      {
        type: 'object',
        properties: {
          a: described({
            type: 'array',
            maxItems: 1,
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['k'],
            items: described({
              type: 'object',
              properties: { k: described({ type: 'string', maxLength: 1 }) },
            }),
          }),
        },
      },
      '.a: list-map key k must be required or defaulted',
    ],
  ];
  for (const [name, schema, problem] of cases) {
    it(name, () => {
      expect(lintStructural(schema).join('\n')).toContain(problem);
    });
  }

  it('nothing for a small structural schema', () => {
    expect(
      lintStructural({
        type: 'object',
        properties: {
          a: described({ type: 'array', maxItems: 2, items: { type: 'string', maxLength: 3 } }),
        },
      }),
    ).toEqual([]);
  });

  it('properties at the root other than apiVersion, kind, metadata, spec and status', () => {
    expect(
      lintRoot({ type: 'object', properties: { extra: described({ type: 'boolean' }) } }),
    ).toContain('<root>: property extra is not allowed at the root');
  });

  it('constraints on metadata', () => {
    expect(
      lintRoot({ type: 'object', properties: { metadata: { type: 'object', description: 'm' } } }),
    ).toContain('.metadata: may only be {type: object}');
  });
});

describe.each(KINDS.map((k) => [k.kind, k] as const))('the CRD of %s', (_kind, info) => {
  const crd = customResourceDefinition(info);
  const version = crd.spec.versions[0];
  const root = rootSchema(info);

  it('has a structural schema with a description on every field and a bound on every list, map and string', () => {
    expect(lintRoot(root)).toEqual([]);
  });

  it('is served as kubeinspector.io/v1alpha1 with the status subresource (CoveredResource: none) and the inspector category', () => {
    expect(`${crd.spec.group}/${version?.name}`).toBe(API_VERSION);
    expect(version).toMatchObject({ served: true, storage: true });
    // Only the controller writes a CoveredResource: one apply carries labels and status (ADR 505).
    expect(version?.subresources).toEqual(
      info.kind === 'CoveredResource' ? undefined : { status: {} },
    );
    expect(crd.spec.names.categories).toEqual([CATEGORY]);
    expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
    expect(crd.metadata.name).toBe(`${info.plural}.kubeinspector.io`);
  });

  it('has printer columns whose paths exist in the schema, ending with Age', () => {
    const columns = version?.additionalPrinterColumns ?? [];
    expect(columns.at(-1)?.name).toBe('Age');
    for (const column of columns) {
      if (column.jsonPath.startsWith('.metadata.')) continue;
      const path = column.jsonPath
        .replace(/\[\?.*?\]/g, '')
        .split('.')
        .filter(Boolean);
      let node: JsonSchema | undefined = root;
      for (const segment of path) {
        if (node?.type === 'array') node = node.items as JsonSchema;
        node = (node?.properties as Record<string, JsonSchema> | undefined)?.[segment];
      }
      expect(node, `${column.name}: ${column.jsonPath}`).toBeDefined();
    }
  });

  it('has status conditions as a list map keyed by type', () => {
    const status = (root.properties as Record<string, JsonSchema>).status;
    const conditions = (status?.properties as Record<string, JsonSchema>).conditions;
    expect(conditions).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
  });
});

it('gives CoveredResource the short name coverage', () => {
  expect(kindInfo('CoveredResource').shortNames).toContain('coverage');
});

describe('the generated schema, checked with ajv,', () => {
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    formats: { 'date-time': true, int64: true },
  });
  const validators = new Map(
    KINDS.map((info) => [info.kind, ajv.compile(rootSchema(info))] as const),
  );
  const object = (kind: string, part: 'spec' | 'status', value: unknown) => ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name: 'x' },
    ...(kindInfo(kind).specRequired && part === 'status' ? { spec: VALID_PARTS[kind]?.spec } : {}),
    [part]: value,
  });

  for (const [kind, parts] of Object.entries(VALID_PARTS)) {
    it(`accepts the valid ${kind}`, () => {
      const validate = validators.get(kind);
      for (const part of ['spec', 'status'] as const) {
        if (parts[part])
          expect(
            validate?.(object(kind, part, parts[part])),
            JSON.stringify(validate?.errors),
          ).toBe(true);
      }
    });
  }

  for (const c of INVALID_OBJECTS.filter((x) => x.enforcedBy === 'schema')) {
    it(`refuses ${c.name}`, () => {
      expect(validators.get(c.kind)?.(object(c.kind, c.part, c.value))).toBe(false);
    });
  }
});
