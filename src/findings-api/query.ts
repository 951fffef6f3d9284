// Query parameters of list, watch and write requests, validated the way
// k8s.io/apimachinery validates ListOptions and the write options (400 for what cannot be
// parsed, 422 for combinations kube-apiserver forbids). Pure.
import {
  parseFieldSelector,
  parseLabelSelector,
  unsupportedFields,
  type FieldSelector,
  type LabelSelector,
} from '../findings-store/selectors.ts';
import { queryBool } from './routes.ts';
import { type StatusCause, apiError, badRequest } from './status.ts';

export interface ListQuery {
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan' | 'Exact';
  timeoutSeconds?: number;
  allowWatchBookmarks: boolean;
  sendInitialEvents?: boolean;
}

function invalidOptions(kind: string, causes: StatusCause[]) {
  const list = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return apiError(
    'Invalid',
    `${kind}.meta.k8s.io "" is invalid: ${list}`,
    { kind, name: '' },
    causes,
  );
}

function bool(params: URLSearchParams, key: string): boolean | undefined {
  return queryBool(params.get(key));
}

function integer(params: URLSearchParams, key: string): number | undefined {
  const v = params.get(key);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${key}: ${JSON.stringify(v)}`);
  return Number(v);
}

function selectors(params: URLSearchParams): Pick<ListQuery, 'labelSelector' | 'fieldSelector'> {
  const out: Pick<ListQuery, 'labelSelector' | 'fieldSelector'> = {};
  const label = params.get('labelSelector');
  const field = params.get('fieldSelector');
  try {
    if (label) out.labelSelector = parseLabelSelector(label);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  try {
    if (field) out.fieldSelector = parseFieldSelector(field);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  const unsupported = out.fieldSelector ? unsupportedFields(out.fieldSelector) : [];
  if (unsupported.length > 0) throw badRequest(`field label not supported: ${unsupported[0]}`);
  return out;
}

/** List and watch options; `nameFromPath` adds metadata.name=<name> (watch of one object). */
export function parseListQuery(
  params: URLSearchParams,
  watch: boolean,
  nameFromPath?: string,
): ListQuery {
  const q: ListQuery = {
    ...selectors(params),
    allowWatchBookmarks: bool(params, 'allowWatchBookmarks') ?? false,
  };
  if (nameFromPath !== undefined) {
    const term = { field: 'metadata.name', operator: 'Equals' as const, value: nameFromPath };
    q.fieldSelector = { requirements: [...(q.fieldSelector?.requirements ?? []), term] };
  }
  const limit = integer(params, 'limit');
  if (limit !== undefined && limit > 0) q.limit = limit;
  const cont = params.get('continue');
  if (cont) q.continue = cont;
  const rv = params.get('resourceVersion');
  if (rv !== null && rv !== '') q.resourceVersion = rv;
  const rvm = params.get('resourceVersionMatch');
  const timeout = integer(params, 'timeoutSeconds');
  if (timeout !== undefined && timeout > 0) q.timeoutSeconds = timeout;
  const sie = bool(params, 'sendInitialEvents');
  if (sie !== undefined) q.sendInitialEvents = sie;
  if (!watch && q.continue && q.resourceVersion !== undefined && q.resourceVersion !== '0') {
    // The continue token carries the version of the first page (storage's own check).
    throw badRequest('specifying resource version is not allowed when using continue');
  }
  const causes = watch ? watchCauses(q, rvm) : listCauses(q, rvm);
  if (causes.length > 0) throw invalidOptions('ListOptions', causes);
  if (rvm) q.resourceVersionMatch = rvm as 'NotOlderThan' | 'Exact';
  return q;
}

const forbidden = (field: string, message: string): StatusCause => ({
  reason: 'FieldValueForbidden',
  field,
  message: `Forbidden: ${message}`,
});
const notSupported = (field: string, value: string, supported: string[]): StatusCause => ({
  reason: 'FieldValueNotSupported',
  field,
  message: `Unsupported value: "${value}": supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
});

function listCauses(q: ListQuery, rvm: string | null): StatusCause[] {
  const causes: StatusCause[] = [];
  if (rvm) {
    if (q.resourceVersion === undefined)
      causes.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden unless resourceVersion is provided',
        ),
      );
    if (q.continue)
      causes.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden when continue is provided',
        ),
      );
    if (rvm !== 'Exact' && rvm !== 'NotOlderThan')
      causes.push(notSupported('resourceVersionMatch', rvm, ['Exact', 'NotOlderThan', '']));
    if (rvm === 'Exact' && q.resourceVersion === '0')
      causes.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        ),
      );
  }
  if (q.sendInitialEvents !== undefined)
    causes.push(forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list'));
  return causes;
}

function watchCauses(q: ListQuery, rvm: string | null): StatusCause[] {
  const causes: StatusCause[] = [];
  if (q.sendInitialEvents !== undefined && rvm !== 'NotOlderThan') {
    causes.push(
      forbidden(
        'resourceVersionMatch',
        'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
      ),
    );
  }
  if (rvm) {
    if (q.sendInitialEvents === undefined)
      causes.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
        ),
      );
    if (rvm !== 'NotOlderThan')
      causes.push(notSupported('resourceVersionMatch', rvm, ['NotOlderThan']));
    if (q.continue)
      causes.push(
        forbidden(
          'resourceVersionMatch',
          'resourceVersionMatch is forbidden when continue is provided',
        ),
      );
  }
  return causes;
}

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface WriteQuery {
  dryRun: boolean;
  fieldManager?: string;
  fieldValidation: FieldValidation;
  force?: boolean;
}

/** dryRun (only "All"), fieldManager (1-128 printable characters), fieldValidation, force. */
export function parseWriteQuery(params: URLSearchParams): WriteQuery {
  const causes: StatusCause[] = [];
  const dry = params.getAll('dryRun');
  for (const d of dry) if (d !== 'All') causes.push(notSupported('dryRun', d, ['All']));
  const fieldManager = params.get('fieldManager') ?? undefined;
  if (
    fieldManager !== undefined &&
    (fieldManager.length > 128 || !/^[\x20-\x7e]*$/.test(fieldManager))
  ) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'fieldManager',
      message: 'Invalid value: must be at most 128 printable characters',
    });
  }
  const fv = params.get('fieldValidation') ?? 'Warn';
  if (!['Ignore', 'Warn', 'Strict'].includes(fv))
    causes.push(notSupported('fieldValidation', fv, ['Ignore', 'Warn', 'Strict']));
  if (causes.length > 0) throw invalidOptions('PatchOptions', causes);
  const q: WriteQuery = { dryRun: dry.length > 0, fieldValidation: fv as FieldValidation };
  if (fieldManager) q.fieldManager = fieldManager;
  const force = bool(params, 'force');
  if (force !== undefined) q.force = force;
  return q;
}

/**
 * The manager of a non-apply write without fieldManager: the User-Agent's program name, as
 * kube-apiserver derives it ("kubectl-edit/v1.36.3 (linux/amd64) ..." → "kubectl-edit").
 */
export function defaultManager(userAgent: string | undefined): string {
  const name = (userAgent ?? '').split('/')[0]!.trim();
  return name === '' ? 'unknown' : name.slice(0, 128);
}
