// OpenAPI v2 and v3 documents of the findings API, generated from the zod schema through the
// CRD generator's converter (src/api/crd.ts), for kube-aggregator to merge (kubectl explain,
// client-side tooling). Every operation carries x-kubernetes-action and
// x-kubernetes-group-version-kind; PATCH consumes JSON patch, merge patch and apply patch but
// not strategic merge patch, so `kubectl apply` sends a JSON merge patch. Pure, built once.
import { FINDINGS_API_VERSION, FINDINGS_GROUP, FINDINGS_VERSION } from '../api/v1alpha1/common.ts';
import { kindInfo } from '../api/v1alpha1/kinds.ts';
import { type JsonSchema, openApiSchema } from '../api/crd.ts';
import { createHash } from 'node:crypto';

const finding = kindInfo('Finding');
const GVK = { group: FINDINGS_GROUP, kind: 'Finding', version: FINDINGS_VERSION };
/** Definition names follow Kubernetes: the group reversed, then version and kind. */
const PREFIX = `io.kubeinspector.findings.${FINDINGS_VERSION}`;
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
export const NAMES = {
  finding: `${PREFIX}.Finding`,
  list: `${PREFIX}.FindingList`,
  objectMeta: `${META}.ObjectMeta`,
  listMeta: `${META}.ListMeta`,
  status: `${META}.Status`,
  deleteOptions: `${META}.DeleteOptions`,
  patch: `${META}.Patch`,
} as const;

/** Content types of PATCH: never application/strategic-merge-patch+json. */
export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
] as const;

/** A reference to a definition, with the description kubectl explain shows beside it. */
type Ref = (name: string, description?: string) => JsonSchema;

const str = (description: string): JsonSchema => ({ description, type: 'string' });

function objectMetaSchema(): JsonSchema {
  const map = (d: string): JsonSchema => ({
    ...str(d),
    type: 'object',
    additionalProperties: { type: 'string' },
  });
  return {
    description:
      'Standard object metadata: name, namespace, labels, annotations and what the server sets.',
    type: 'object',
    properties: {
      name: str(
        'Name of the finding, unique in its namespace; derived from the resource, vulnerability and package.',
      ),
      namespace: str('Namespace of the finding.'),
      labels: map(
        'Labels: severity, type, status, resource type, vulnerability id and run are set by the controller.',
      ),
      annotations: map('Annotations.'),
      uid: str('Unique id, set by the server.'),
      resourceVersion: str(
        'Opaque version of the object, set by the server; a precondition when sent on update.',
      ),
      generation: {
        description: 'Incremented on every change of spec.',
        type: 'integer',
        format: 'int64',
      },
      creationTimestamp: { ...str('When the finding was created.'), format: 'date-time' },
      ownerReferences: {
        description: 'Owners: the AssessmentRun of a run finding.',
        type: 'array',
        items: { type: 'object', additionalProperties: true },
      },
      managedFields: {
        description: 'Which manager owns which field (server-side apply).',
        type: 'array',
        items: { type: 'object', additionalProperties: true },
      },
    },
  };
}

function metaSchemas(ref: Ref): Record<string, JsonSchema> {
  return {
    [NAMES.objectMeta]: objectMetaSchema(),
    [NAMES.listMeta]: {
      description: 'Standard list metadata.',
      type: 'object',
      properties: {
        resourceVersion: str('Version of the list, for a following watch.'),
        continue: str('Token for the next page.'),
        remainingItemCount: {
          description: 'Items after this page.',
          type: 'integer',
          format: 'int64',
        },
      },
    },
    [NAMES.status]: {
      description: 'The body of an error or of a successful delete.',
      type: 'object',
      properties: {
        code: { type: 'integer', format: 'int32' },
        message: str('What happened.'),
        reason: str('Why.'),
      },
    },
    [NAMES.deleteOptions]: {
      description: 'Options of a delete: preconditions, propagationPolicy, dryRun.',
      type: 'object',
      properties: {
        preconditions: {
          type: 'object',
          properties: { uid: str('UID.'), resourceVersion: str('Version.') },
        },
        propagationPolicy: str('Orphan, Background or Foreground.'),
      },
    },
    [NAMES.patch]: { description: 'A patch document.', type: 'object' },
    [NAMES.finding]: findingSchema(ref),
    [NAMES.list]: {
      description: 'A list of findings.',
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: str(`APIVersion: ${FINDINGS_API_VERSION}.`),
        kind: str('Kind: FindingList.'),
        metadata: ref(NAMES.listMeta, 'Standard list metadata.'),
        items: { description: 'The findings.', type: 'array', items: ref(NAMES.finding) },
      },
      'x-kubernetes-group-version-kind': [{ ...GVK, kind: 'FindingList' }],
    },
  };
}

/** The Finding schema: spec and status from zod, metadata by reference. */
export function findingSchema(ref: Ref): JsonSchema {
  return {
    description: finding.description,
    type: 'object',
    properties: {
      apiVersion: str(`APIVersion of the object: ${FINDINGS_API_VERSION}.`),
      kind: str('Kind of the object: Finding.'),
      metadata: ref(
        NAMES.objectMeta,
        "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
      ),
      spec: openApiSchema(finding.spec!),
      status: openApiSchema(finding.status),
    },
    'x-kubernetes-group-version-kind': [GVK],
  };
}

interface Op {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  action: string;
  id: string;
  body?: string;
  response: string;
  query?: string[];
}

const LIST_QUERY = [
  'labelSelector',
  'fieldSelector',
  'limit',
  'continue',
  'resourceVersion',
  'resourceVersionMatch',
  'timeoutSeconds',
  'watch',
  'allowWatchBookmarks',
  'sendInitialEvents',
];
const WRITE_QUERY = ['dryRun', 'fieldManager', 'fieldValidation'];

function pathTable(): Record<string, Op[]> {
  const base = `/apis/${FINDINGS_GROUP}/${FINDINGS_VERSION}`;
  const ns = `${base}/namespaces/{namespace}/findings`;
  return {
    [`${base}/findings`]: [
      {
        method: 'get',
        action: 'list',
        id: 'listFindingForAllNamespaces',
        response: NAMES.list,
        query: LIST_QUERY,
      },
    ],
    [ns]: [
      {
        method: 'get',
        action: 'list',
        id: 'listNamespacedFinding',
        response: NAMES.list,
        query: LIST_QUERY,
      },
      {
        method: 'post',
        action: 'post',
        id: 'createNamespacedFinding',
        body: NAMES.finding,
        response: NAMES.finding,
        query: WRITE_QUERY,
      },
      {
        method: 'delete',
        action: 'deletecollection',
        id: 'deleteCollectionNamespacedFinding',
        body: NAMES.deleteOptions,
        response: NAMES.status,
        query: ['labelSelector', 'fieldSelector', 'dryRun'],
      },
    ],
    [`${ns}/{name}`]: itemOps('NamespacedFinding', true),
    [`${ns}/{name}/status`]: itemOps('NamespacedFindingStatus', false),
  };
}

function itemOps(suffix: string, withDelete: boolean): Op[] {
  const ops: Op[] = [
    { method: 'get', action: 'get', id: `read${suffix}`, response: NAMES.finding },
    {
      method: 'put',
      action: 'put',
      id: `replace${suffix}`,
      body: NAMES.finding,
      response: NAMES.finding,
      query: WRITE_QUERY,
    },
    {
      method: 'patch',
      action: 'patch',
      id: `patch${suffix}`,
      body: NAMES.patch,
      response: NAMES.finding,
      query: [...WRITE_QUERY, 'force'],
    },
  ];
  if (withDelete)
    ops.push({
      method: 'delete',
      action: 'delete',
      id: `delete${suffix}`,
      body: NAMES.deleteOptions,
      response: NAMES.status,
      query: ['dryRun'],
    });
  return ops;
}

function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

function v2Operation(op: Op): JsonSchema {
  const ref = (n: string) => ({ $ref: `#/definitions/${n}` });
  const params: JsonSchema[] = (op.query ?? []).map((q) => ({
    name: q,
    in: 'query',
    type:
      q === 'limit' || q === 'timeoutSeconds'
        ? 'integer'
        : q === 'watch' || q === 'allowWatchBookmarks' || q === 'sendInitialEvents' || q === 'force'
          ? 'boolean'
          : 'string',
    uniqueItems: true,
  }));
  if (op.body)
    params.push({
      name: 'body',
      in: 'body',
      required: op.method !== 'delete',
      schema: ref(op.body),
    });
  return {
    description: `${op.action} Finding`,
    operationId: op.id,
    consumes: op.method === 'patch' ? [...PATCH_CONTENT_TYPES] : ['*/*'],
    produces: ['application/json', 'application/json;stream=watch'],
    schemes: ['https'],
    tags: [`findingsKubeinspectorIo_${FINDINGS_VERSION}`],
    parameters: params,
    responses: {
      '200': { description: 'OK', schema: ref(op.response) },
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': GVK,
  };
}

function v3Operation(op: Op): JsonSchema {
  const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
  const types = op.method === 'patch' ? [...PATCH_CONTENT_TYPES] : ['*/*'];
  const out: JsonSchema = {
    description: `${op.action} Finding`,
    operationId: op.id,
    tags: [`findingsKubeinspectorIo_${FINDINGS_VERSION}`],
    parameters: (op.query ?? []).map((q) => ({
      name: q,
      in: 'query',
      schema: {
        type:
          q === 'limit' || q === 'timeoutSeconds'
            ? 'integer'
            : q === 'watch' ||
                q === 'allowWatchBookmarks' ||
                q === 'sendInitialEvents' ||
                q === 'force'
              ? 'boolean'
              : 'string',
        uniqueItems: true,
      },
    })),
    responses: {
      '200': { description: 'OK', content: { 'application/json': { schema: ref(op.response) } } },
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': GVK,
  };
  if (op.body) {
    out.requestBody = {
      content: Object.fromEntries(types.map((t) => [t, { schema: ref(op.body!) }])),
      required: op.method !== 'delete',
    };
  }
  return out;
}

function paths(build: (op: Op) => JsonSchema, v3: boolean): JsonSchema {
  const out: JsonSchema = {};
  for (const [path, ops] of Object.entries(pathTable())) {
    const item: JsonSchema = {
      parameters: pathParams(path).map((p) =>
        v3
          ? { name: p, in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }
          : { name: p, in: 'path', required: true, type: 'string', uniqueItems: true },
      ),
    };
    for (const op of ops) item[op.method] = build(op);
    out[path] = item;
  }
  return out;
}

/** Swagger 2.0, served at /openapi/v2. */
export function openApiV2(): JsonSchema {
  return {
    swagger: '2.0',
    info: { title: 'kube-inspector findings', version: FINDINGS_VERSION },
    paths: paths(v2Operation, false),
    definitions: metaSchemas((n, description) => ({
      ...(description ? { description } : {}),
      $ref: `#/definitions/${n}`,
    })),
  };
}

/** OpenAPI 3.0 of the group-version, served at /openapi/v3/apis/<group>/<version>. */
export function openApiV3(): JsonSchema {
  return {
    openapi: '3.0.0',
    info: { title: 'kube-inspector findings', version: FINDINGS_VERSION },
    paths: paths(v3Operation, true),
    components: {
      // As kube-apiserver publishes v3: a described reference is an allOf of one $ref.
      schemas: metaSchemas((n, description) =>
        description
          ? { description, allOf: [{ $ref: `#/components/schemas/${n}` }] }
          : { $ref: `#/components/schemas/${n}` },
      ),
    },
  };
}

export const OPENAPI_V3_PATH = `apis/${FINDINGS_GROUP}/${FINDINGS_VERSION}`;

/** The /openapi/v3 root: where each group-version's document is, with a content hash. */
export function openApiV3Root(v3Body: string): JsonSchema {
  const hash = createHash('sha512').update(v3Body).digest('hex').slice(0, 128).toUpperCase();
  return {
    paths: {
      [OPENAPI_V3_PATH]: { serverRelativeURL: `/openapi/v3/${OPENAPI_V3_PATH}?hash=${hash}` },
    },
  };
}
