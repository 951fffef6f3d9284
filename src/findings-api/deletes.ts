// DELETE and deletecollection. Only the controller, the garbage collector and the namespace
// controller may delete findings: kube-apiserver's admission (where the deletion policy of a CRD
// lives) does not run for an aggregated API, so the server refuses everyone else itself.
// DeleteOptions are honoured: preconditions, dryRun, propagationPolicy (accepted; a finding has
// no dependents, so every policy deletes it at once).
import { FINDINGS_API_VERSION, FINDINGS_GROUP } from '../api/v1alpha1/common.ts';
import type { DeletePreconditions, ListOptions } from '../findings-store/store.ts';
import { type RequestContext, rethrow, served } from './context.ts';
import { parseBody, readBody, writeJson } from './http-io.ts';
import { parseListQuery } from './query.ts';
import { type StatusCause, apiError } from './status.ts';
import { mayDelete } from './write-rules.ts';
import { roleOfContext } from './writes.ts';

export interface DeleteOptions {
  dryRun: boolean;
  preconditions?: DeletePreconditions;
}

const POLICIES = ['Orphan', 'Background', 'Foreground'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** DeleteOptions from the body (JSON, optional) and the query (dryRun, propagationPolicy). */
export function parseDeleteOptions(body: unknown, params: URLSearchParams): DeleteOptions {
  const b = isObject(body) ? body : {};
  const causes: StatusCause[] = [];
  const dry = [
    ...params.getAll('dryRun'),
    ...(Array.isArray(b.dryRun) ? (b.dryRun as unknown[]).map(String) : []),
  ];
  for (const d of dry)
    if (d !== 'All')
      causes.push({
        reason: 'FieldValueNotSupported',
        field: 'dryRun',
        message: `Unsupported value: "${d}": supported values: "All"`,
      });
  const raw = params.get('propagationPolicy') ?? b.propagationPolicy;
  const policy =
    typeof raw === 'string'
      ? raw
      : raw === undefined || raw === null
        ? undefined
        : JSON.stringify(raw);
  if (policy !== undefined && !POLICIES.includes(policy)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'propagationPolicy',
      message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
    });
  }
  if (b.orphanDependents !== undefined && policy !== undefined) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'propagationPolicy',
      message: 'Invalid value: orphanDependents and deletionPropagation cannot be both set',
    });
  }
  if (causes.length > 0) {
    const list = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    throw apiError(
      'Invalid',
      `DeleteOptions.meta.k8s.io "" is invalid: ${list}`,
      { kind: 'DeleteOptions', name: '' },
      causes,
    );
  }
  const out: DeleteOptions = { dryRun: dry.length > 0 };
  const pre = isObject(b.preconditions) ? b.preconditions : undefined;
  if (pre && (pre.uid !== undefined || pre.resourceVersion !== undefined)) {
    out.preconditions = {
      ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
      ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
    };
  }
  return out;
}

function refuse(ctx: RequestContext, name: string | undefined): never {
  const what =
    name === undefined ? `findings.${FINDINGS_GROUP}` : `findings.${FINDINGS_GROUP} "${name}"`;
  throw apiError(
    'Forbidden',
    `${what} is forbidden: User "${ctx.user.name}" cannot delete findings: a finding leaves with its AssessmentRun, by retention once it is CLOSED, or with its namespace; a SuppressionRule hides it`,
    name === undefined ? {} : { name },
  );
}

async function options(ctx: RequestContext): Promise<DeleteOptions> {
  const body = parseBody(await readBody(ctx.req, ctx.config.maxBodyBytes), false);
  return parseDeleteOptions(body, ctx.url.searchParams);
}

export async function handleDelete(ctx: RequestContext): Promise<void> {
  const { namespace, name } = ctx.route;
  if (!mayDelete(roleOfContext(ctx))) refuse(ctx, name);
  const opts = await options(ctx);
  try {
    const deleted = await ctx.config.store.delete(namespace!, name!, {
      dryRun: opts.dryRun,
      ...(opts.preconditions ? { preconditions: opts.preconditions } : {}),
    });
    writeJson(ctx.res, 200, served(deleted));
  } catch (err) {
    rethrow(err, name!, true);
  }
}

export async function handleDeleteCollection(ctx: RequestContext): Promise<void> {
  if (!mayDelete(roleOfContext(ctx))) refuse(ctx, undefined);
  const q = parseListQuery(ctx.url.searchParams, false);
  const opts = await options(ctx);
  const list: ListOptions = {};
  if (ctx.route.namespace !== undefined) list.namespace = ctx.route.namespace;
  if (q.labelSelector) list.labelSelector = q.labelSelector;
  if (q.fieldSelector) list.fieldSelector = q.fieldSelector;
  try {
    const deleted = await ctx.config.store.deleteCollection(list, { dryRun: opts.dryRun });
    writeJson(ctx.res, 200, {
      kind: 'FindingList',
      apiVersion: FINDINGS_API_VERSION,
      metadata: { resourceVersion: ctx.config.store.currentResourceVersion() },
      items: deleted.map(served),
    });
  } catch (err) {
    rethrow(err, '', true);
  }
}
