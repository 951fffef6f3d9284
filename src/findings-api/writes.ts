// Writes of findings: create (the controller), update (PUT), patch (merge, JSON and apply),
// the /status subresource, delete and deletecollection. Each write is validated against the
// schema, checked against what the caller's role may change, records field ownership, and is
// stored with a resourceVersion precondition (kept from the client, or the one read, retried
// when the client gave none).
import { randomBytes } from 'node:crypto';
import { FINDINGS_API_VERSION, FINDINGS_GROUP } from '../api/v1alpha1/common.ts';
import { StoreError, type StoredFinding } from '../findings-store/store.ts';
import { conflictMessage, serverSideApply } from './apply.ts';
import { type RequestContext, rethrow, served } from './context.ts';
import { parseBody, readBody, writeJson } from './http-io.ts';
import { type Manager, type Obj, recordUpdate } from './managed-fields.ts';
import { contentType } from './negotiate.ts';
import { type Json, PatchError, applyJsonPatch, decodeJsonPatch, mergePatch } from './patch.ts';
import { type WriteQuery, defaultManager, parseWriteQuery } from './query.ts';
import { apiError, badRequest, invalid } from './status.ts';
import { checkFinding, strictMessage, unknownFieldWarning } from './validate.ts';
import {
  type Role,
  applyAllowed,
  forbiddenChanges,
  mergeForUpdate,
  roleOf,
} from './write-rules.ts';

const RESOURCE = `findings.${FINDINGS_GROUP}`;

export function roleOfContext(ctx: RequestContext): Role {
  return roleOf(ctx.user.name, ctx.config.policy);
}

function forbidden(ctx: RequestContext, name: string, why: string) {
  return apiError(
    'Forbidden',
    `${RESOURCE} "${name}" is forbidden: User "${ctx.user.name}" ${why}`,
    { name },
  );
}

/** Validates a candidate object: schema errors → 422, unknown fields → Strict 422 or warnings. */
function validated(ctx: RequestContext, body: unknown, q: WriteQuery, name: string): Obj {
  const checked = checkFinding(body);
  if (checked.causes.length > 0) throw invalid(name, checked.causes);
  if (checked.unknown.length > 0 && q.fieldValidation === 'Strict') {
    throw badRequest(strictMessage(checked.unknown));
  }
  if (checked.unknown.length > 0 && q.fieldValidation === 'Warn') {
    ctx.res.setHeader('Warning', checked.unknown.map(unknownFieldWarning));
  }
  return checked.object;
}

function checkIdentity(ctx: RequestContext, obj: Obj): void {
  const meta = (obj.metadata ?? {}) as Obj;
  const { name, namespace } = ctx.route;
  if (meta.name !== undefined && name !== undefined && meta.name !== name) {
    throw badRequest(
      `the name of the object (${typeof meta.name === 'string' ? meta.name : ''}) does not match the name on the URL (${name})`,
    );
  }
  if (meta.namespace !== undefined && meta.namespace !== namespace) {
    throw badRequest(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
  meta.namespace = namespace;
  if (name !== undefined) meta.name = name;
  obj.metadata = meta;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
function generatedName(prefix: string): string {
  const bytes = randomBytes(5);
  return prefix + [...bytes].map((b) => NAME_CHARS[b % NAME_CHARS.length]).join('');
}

const OBJECT_TYPES = ['application/json', 'application/yaml'];

/** The object of a POST or PUT: JSON or YAML, as kube-apiserver accepts them; 415 otherwise. */
async function objectBody(ctx: RequestContext): Promise<unknown> {
  const type = contentType(ctx.req.headers['content-type']) || 'application/json';
  if (!OBJECT_TYPES.includes(type)) {
    throw apiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${OBJECT_TYPES.join(', ')}`,
    );
  }
  return parseBody(await readBody(ctx.req, ctx.config.maxBodyBytes), type === 'application/yaml');
}

async function store<T>(ctx: RequestContext, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rethrow(err, name, true);
  }
}

/** Creates `obj` (already validated and identified); controller only. */
async function createObject(
  ctx: RequestContext,
  obj: Obj,
  q: WriteQuery,
  manager: Manager,
): Promise<void> {
  const meta = obj.metadata as Obj;
  if (roleOfContext(ctx) !== 'controller')
    throw forbidden(
      ctx,
      typeof meta.name === 'string' ? meta.name : '',
      'cannot create findings: the controller creates them',
    );
  if (meta.resourceVersion !== undefined)
    throw badRequest('resourceVersion should not be set on objects to be created');
  if (meta.name === undefined) {
    if (typeof meta.generateName !== 'string' || meta.generateName === '') {
      throw invalid('', [
        {
          reason: 'FieldValueRequired',
          field: 'metadata.name',
          message: 'Required value: name or generateName is required',
        },
      ]);
    }
    meta.name = generatedName(meta.generateName);
  }
  for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp']) delete meta[k];
  if (manager.operation === 'Update')
    meta.managedFields = recordUpdate(undefined, obj, manager, ctx.config.now());
  const created = await store(ctx, String(meta.name), () =>
    ctx.config.store.create(obj as StoredFinding, { dryRun: q.dryRun }),
  );
  writeJson(ctx.res, 201, served(created));
}

export async function handleCreate(ctx: RequestContext): Promise<void> {
  const q = parseWriteQuery(ctx.url.searchParams);
  const body = await objectBody(ctx);
  const obj = validated(ctx, body, q, '');
  checkIdentity(ctx, obj);
  const manager: Manager = {
    name: q.fieldManager ?? defaultManager(ctx.req.headers['user-agent']),
    operation: 'Update',
  };
  await createObject(ctx, obj, q, manager);
}

/** Stores `candidate` as an update of `stored` after the policy check; returns the result. */
async function commit(
  ctx: RequestContext,
  stored: Obj,
  candidate: Obj,
  q: WriteQuery,
  manager: Manager | undefined,
): Promise<StoredFinding> {
  const name = ctx.route.name!;
  const causes = forbiddenChanges(stored, candidate, roleOfContext(ctx));
  if (causes.length > 0) throw invalid(name, causes);
  if (manager)
    (candidate.metadata as Obj).managedFields = recordUpdate(
      stored,
      candidate,
      manager,
      ctx.config.now(),
    );
  return ctx.config.store.update(candidate as StoredFinding, { dryRun: q.dryRun });
}

async function current(ctx: RequestContext): Promise<StoredFinding | undefined> {
  const { namespace, name } = ctx.route;
  return store(ctx, name!, () => ctx.config.store.get(namespace!, name!));
}

export async function handleUpdate(ctx: RequestContext): Promise<void> {
  const q = parseWriteQuery(ctx.url.searchParams);
  const body = await objectBody(ctx);
  const name = ctx.route.name!;
  const obj = validated(ctx, body, q, name);
  checkIdentity(ctx, obj);
  const stored = await current(ctx);
  if (!stored) throw apiError('NotFound', `${RESOURCE} "${name}" not found`, { name });
  const candidate = mergeForUpdate(stored, obj, ctx.route.subresource);
  const manager: Manager = {
    name: q.fieldManager ?? defaultManager(ctx.req.headers['user-agent']),
    operation: 'Update',
    ...(ctx.route.subresource ? { subresource: ctx.route.subresource } : {}),
  };
  const result = await store(ctx, name, () => commit(ctx, stored, candidate, q, manager));
  writeJson(ctx.res, 200, served(result));
}

// ---------------------------------------------------------------- patch

const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
];

type Patcher = (stored: Obj) => Obj;

interface PreparedPatch {
  patch: Patcher;
  /** The patch names metadata.resourceVersion: a precondition, never retried. */
  precondition: boolean;
  apply: boolean;
}

function preparePatch(
  ctx: RequestContext,
  type: string,
  body: unknown,
  q: WriteQuery,
): PreparedPatch {
  if (type === 'application/merge-patch+json') {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('a merge patch must be a JSON object');
    const precondition = ((body as Obj).metadata as Obj | undefined)?.resourceVersion !== undefined;
    return { patch: (s) => mergePatch(s as Json, body as Json) as Obj, precondition, apply: false };
  }
  if (type === 'application/json-patch+json') {
    const ops = wrapPatchError(() => decodeJsonPatch(body));
    const precondition = ops.some((o) => o.path === '/metadata/resourceVersion' && o.op !== 'test');
    return {
      patch: (s) => wrapPatchError(() => applyJsonPatch(s as Json, ops)) as Obj,
      precondition,
      apply: false,
    };
  }
  if (!q.fieldManager) {
    throw invalid('', [
      {
        reason: 'FieldValueRequired',
        field: 'fieldManager',
        message: 'Required value: is required for apply patch',
      },
    ]);
  }
  checkApplyConfiguration(ctx, body);
  const precondition = ((body as Obj).metadata as Obj | undefined)?.resourceVersion !== undefined;
  return { patch: (s) => s, precondition, apply: true };
}

/** An apply configuration names the object it applies to: this kind, this name. */
function checkApplyConfiguration(ctx: RequestContext, body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('an apply configuration must be an object');
  }
  const config = body as Obj;
  if (config.apiVersion !== FINDINGS_API_VERSION || config.kind !== 'Finding') {
    throw badRequest(
      `the apply configuration must have apiVersion ${FINDINGS_API_VERSION} and kind Finding`,
    );
  }
  const name = (config.metadata as Obj | undefined)?.name;
  if (name !== undefined && name !== ctx.route.name) {
    throw badRequest(
      `the name of the object (${typeof name === 'string' ? name : ''}) does not match the name on the URL (${ctx.route.name ?? ''})`,
    );
  }
}

function wrapPatchError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof PatchError)) throw err;
    throw err.kind === 'decode' ? badRequest(err.message) : apiError('Invalid', err.message); // kubectl: "The request is invalid: <message>"
  }
}

function applyConfig(ctx: RequestContext, stored: Obj, config: Obj, q: WriteQuery): Obj {
  const manager: Manager = {
    name: q.fieldManager!,
    operation: 'Apply',
    ...(ctx.route.subresource ? { subresource: ctx.route.subresource } : {}),
  };
  const result = serverSideApply(stored, config, manager, {
    force: q.force === true,
    now: ctx.config.now(),
    allowed: applyAllowed(ctx.route.subresource),
  });
  if (!result.ok) {
    const causes = result.conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${FINDINGS_API_VERSION}`,
      field: c.field,
    }));
    throw apiError(
      'Conflict',
      conflictMessage(result.conflicts, FINDINGS_API_VERSION),
      { name: ctx.route.name!, kind: 'Finding' },
      causes,
    );
  }
  const rv = (config.metadata as Obj | undefined)?.resourceVersion;
  if (rv !== undefined) (result.object.metadata as Obj).resourceVersion = rv;
  return result.object;
}

export async function handlePatch(ctx: RequestContext): Promise<void> {
  const q = parseWriteQuery(ctx.url.searchParams);
  const type = contentType(ctx.req.headers['content-type']);
  if (!PATCH_TYPES.includes(type)) {
    throw apiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`,
    );
  }
  if (q.force !== undefined && type !== 'application/apply-patch+yaml') {
    throw invalid('', [
      {
        reason: 'FieldValueForbidden',
        field: 'force',
        message: 'Forbidden: may not be specified for non-apply patch',
      },
    ]);
  }
  const body = parseBody(
    await readBody(ctx.req, ctx.config.maxBodyBytes),
    type === 'application/apply-patch+yaml',
  );
  if (body === undefined) throw badRequest('the body of a patch must not be empty');
  const prepared = preparePatch(ctx, type, body, q);
  for (let attempt = 0; ; attempt++) {
    try {
      await patchOnce(ctx, prepared, body as Obj, q);
      return;
    } catch (err) {
      const retry =
        err instanceof StoreError &&
        err.reason === 'Conflict' &&
        !prepared.precondition &&
        attempt < 5;
      if (!retry) rethrow(err, ctx.route.name!, true);
    }
  }
}

async function patchOnce(
  ctx: RequestContext,
  prepared: PreparedPatch,
  body: Obj,
  q: WriteQuery,
): Promise<void> {
  const { namespace, name } = ctx.route;
  const stored = await ctx.config.store.get(namespace!, name!);
  if (!stored) {
    if (!prepared.apply || ctx.route.subresource)
      throw apiError('NotFound', `${RESOURCE} "${name}" not found`, { name: name! });
    const shell: Obj = {
      apiVersion: FINDINGS_API_VERSION,
      kind: 'Finding',
      metadata: { name, namespace },
    };
    const obj = validated(ctx, applyConfig(ctx, shell, body, q), q, name!);
    checkIdentity(ctx, obj);
    return createObject(ctx, obj, q, { name: q.fieldManager!, operation: 'Apply' });
  }
  const patched = prepared.apply ? applyConfig(ctx, stored, body, q) : prepared.patch(stored);
  const obj = validated(ctx, patched, q, name!);
  checkIdentity(ctx, obj);
  const candidate = mergeForUpdate(stored, obj, ctx.route.subresource);
  if (!prepared.precondition)
    (candidate.metadata as Obj).resourceVersion = stored.metadata.resourceVersion;
  const manager: Manager | undefined = prepared.apply
    ? undefined
    : {
        name: q.fieldManager ?? defaultManager(ctx.req.headers['user-agent']),
        operation: 'Update',
        ...(ctx.route.subresource ? { subresource: ctx.route.subresource } : {}),
      };
  if (prepared.apply)
    (candidate.metadata as Obj).managedFields = (patched.metadata as Obj).managedFields;
  const result = await commit(ctx, stored, candidate, q, manager);
  writeJson(ctx.res, 200, served(result));
}
