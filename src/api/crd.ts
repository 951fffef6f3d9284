// From zod schemas to CustomResourceDefinitions: zod's OpenAPI 3.0 output is
// rewritten into a structural schema (what the API server requires), wrapped
// into a CRD with names, printer columns and (for every kind but CoveredResource)
// the status subresource, and
// linted so that a schema the API server would reject or silently prune never
// gets generated.
import { z } from 'zod';
import { API_VERSION, GROUP, VERSION } from './v1alpha1/common.ts';
import { CATEGORY, type KindInfo } from './v1alpha1/kinds.ts';

export type JsonSchema = { [key: string]: unknown };

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Order of keys in the generated YAML, for readable diffs. */
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'nullable',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'required',
  'properties',
  'items',
  'additionalProperties',
];

/** Keys a structural schema may use; anything else is an error. */
const ALLOWED_KEYS = new Set([
  ...KEY_ORDER,
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
]);

function isObject(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ordered(node: JsonSchema): JsonSchema {
  const keys = Object.keys(node).sort((a, b) => {
    const ia = KEY_ORDER.indexOf(a);
    const ib = KEY_ORDER.indexOf(b);
    return (
      (ia < 0 ? KEY_ORDER.length : ia) - (ib < 0 ? KEY_ORDER.length : ib) ||
      (ia < 0 && ib < 0 ? a.localeCompare(b) : 0)
    );
  });
  const out: JsonSchema = {};
  for (const k of keys) out[k] = node[k];
  return out;
}

/**
 * Rewrites one node of zod's OpenAPI 3.0 output into structural form. Throws
 * for constructs that have no structural equivalent (unions, references):
 * the API schemas must not use them.
 */
export function toStructural(node: JsonSchema, path = ''): JsonSchema {
  const out: JsonSchema = { ...node };
  for (const junctor of ['anyOf', 'oneOf', 'allOf', 'not']) {
    if (junctor in out)
      throw new Error(`${path || '<root>'}: ${junctor} is not supported in API schemas`);
  }
  if ('$ref' in out)
    throw new Error(`${path || '<root>'}: $ref (recursion) is not supported in API schemas`);
  delete out.$schema;
  delete out.$id;
  delete out.id;
  delete out.propertyNames;
  if (out.additionalProperties === false) delete out.additionalProperties;
  if ('const' in out) {
    out.enum = [out.const];
    delete out.const;
  }
  if (out.format === 'date-time') delete out.pattern;
  if (out.type === 'integer') {
    if (out.minimum === -MAX_SAFE) delete out.minimum;
    if (out.maximum === MAX_SAFE) delete out.maximum;
    out.format ??= 'int64';
  }
  if (isObject(out.properties)) {
    const props: JsonSchema = {};
    for (const [k, v] of Object.entries(out.properties)) {
      props[k] = toStructural(v as JsonSchema, `${path}.${k}`);
    }
    out.properties = props;
    if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  }
  if (isObject(out.items)) out.items = toStructural(out.items, `${path}[]`);
  if (isObject(out.additionalProperties)) {
    out.additionalProperties = toStructural(out.additionalProperties, `${path}{}`);
  }
  return ordered(out);
}

/** The structural OpenAPI schema of one zod schema. */
export function openApiSchema(schema: z.ZodType): JsonSchema {
  const raw = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
  }) as JsonSchema;
  return toStructural(raw);
}

/**
 * Problems that make a schema non-structural, unsafe for CEL cost estimation
 * or unhelpful for kubectl explain. Empty when the schema is fine.
 */
// eslint-disable-next-line complexity -- one branch per rule of the structural-schema checklist, kept in one list
export function lintStructural(schema: JsonSchema, path = ''): string[] {
  const problems: string[] = [];
  const at = path || '<root>';
  for (const key of Object.keys(schema)) {
    if (!ALLOWED_KEYS.has(key)) problems.push(`${at}: key ${key} is not allowed`);
  }
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const type = schema.type;
  if (!intOrString && !preserve && (typeof type !== 'string' || type === '' || type === 'null')) {
    problems.push(`${at}: no type`);
  }
  // Fields need a description; the items of a list and the values of a map
  // need one only when they are objects (kubectl explain shows the field's).
  const element = path.endsWith('[]') || path.endsWith('{}');
  const described = typeof schema.description === 'string' && schema.description !== '';
  if (path !== '' && path !== '.metadata' && !described && (!element || type === 'object')) {
    problems.push(`${at}: no description`);
  }
  if ('properties' in schema && 'additionalProperties' in schema) {
    problems.push(`${at}: additionalProperties beside properties`);
  }
  if (Array.isArray(schema.items)) problems.push(`${at}: items must be a schema, not a list`);
  if (schema.uniqueItems === true) problems.push(`${at}: uniqueItems is forbidden`);
  if (type === 'string' && !('enum' in schema) && typeof schema.maxLength !== 'number') {
    problems.push(`${at}: string without maxLength`);
  }
  if (type === 'array' && typeof schema.maxItems !== 'number') {
    problems.push(`${at}: list without maxItems`);
  }
  if (
    type === 'object' &&
    'additionalProperties' in schema &&
    typeof schema.maxProperties !== 'number'
  ) {
    problems.push(`${at}: map without maxProperties`);
  }
  if (
    type === 'object' &&
    !('properties' in schema) &&
    !('additionalProperties' in schema) &&
    !preserve &&
    path !== '.metadata'
  ) {
    problems.push(`${at}: object without properties (its content would be pruned)`);
  }
  if (schema['x-kubernetes-list-type'] === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'];
    const items = schema.items as JsonSchema | undefined;
    if (!Array.isArray(keys) || keys.length === 0 || !items) {
      problems.push(`${at}: list-type map needs list-map-keys and items`);
    } else {
      const props = (items.properties ?? {}) as Record<string, JsonSchema>;
      const required = (items.required ?? []) as string[];
      for (const k of keys as string[]) {
        const prop = props[k];
        if (!prop) problems.push(`${at}: list-map key ${k} is not a property`);
        else if (!required.includes(k) && !('default' in prop)) {
          problems.push(`${at}: list-map key ${k} must be required or defaulted`);
        } else if (prop.nullable === true) problems.push(`${at}: list-map key ${k} is nullable`);
      }
    }
  }
  if (isObject(schema.properties)) {
    for (const [k, v] of Object.entries(schema.properties)) {
      if (isObject(v)) problems.push(...lintStructural(v, `${path}.${k}`));
      else problems.push(`${path}.${k}: not a schema`);
    }
    const required = (schema.required ?? []) as string[];
    for (const r of required) {
      if (!(r in schema.properties)) problems.push(`${at}: required ${r} is not a property`);
    }
  }
  if (isObject(schema.items)) problems.push(...lintStructural(schema.items, `${path}[]`));
  if (isObject(schema.additionalProperties)) {
    problems.push(...lintStructural(schema.additionalProperties, `${path}{}`));
  }
  return problems;
}

/** Problems of a whole CRD root schema: the node rules plus the root rules. */
export function lintRoot(root: JsonSchema): string[] {
  const problems = lintStructural(root);
  const props = (root.properties ?? {}) as Record<string, JsonSchema>;
  for (const k of Object.keys(props)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)) {
      problems.push(`<root>: property ${k} is not allowed at the root`);
    }
  }
  const metadata = props.metadata;
  if (metadata && Object.keys(metadata).some((k) => k !== 'type')) {
    problems.push('.metadata: may only be {type: object}');
  }
  return problems;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns: KindInfo['printerColumns'];
      schema: { openAPIV3Schema: JsonSchema };
    }[];
  };
}

/** The root schema of a kind: apiVersion, kind, metadata, spec and status. */
export function rootSchema(info: KindInfo): JsonSchema {
  const properties: JsonSchema = {
    apiVersion: {
      description: `APIVersion of the object: ${API_VERSION}.`,
      type: 'string',
      maxLength: 64,
    },
    kind: { description: `Kind of the object: ${info.kind}.`, type: 'string', maxLength: 64 },
    // The API server owns metadata and refuses any description or constraint here.
    metadata: { type: 'object' },
  };
  if (info.spec) properties.spec = openApiSchema(info.spec);
  properties.status = openApiSchema(info.status);
  return {
    description: info.description,
    type: 'object',
    ...(info.specRequired ? { required: ['spec'] } : {}),
    properties,
  };
}

export function customResourceDefinition(info: KindInfo): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'kube-inspector' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: [CATEGORY],
      },
      scope: info.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(info.statusSubresource === false ? {} : { subresources: { status: {} } }),
          additionalPrinterColumns: info.printerColumns,
          schema: { openAPIV3Schema: rootSchema(info) },
        },
      ],
    },
  };
}

/** The file name of a kind's CRD in crds/. */
export function crdFileName(info: KindInfo): string {
  return `${GROUP}_${info.plural}.yaml`;
}
