/**
 * managedFields of the findings the controllers write in-process, as the findings API records
 * them for any writer (findings-api/managed-fields.ts): the controller (field manager
 * `kube-inspector`) owns the labels it sets and, on the status subresource, the status fields;
 * template attributes of run findings are owned by `kube-inspector-templates`. So `kubectl get
 * -o yaml --show-managed-fields` and server-side apply by people see the same ownership as when
 * these writes were server-side applies. Pure; the clock is passed in.
 */
import { FIELD_MANAGERS } from '../../api/v1alpha1/resources.ts';
import { type Obj, recordUpdate } from '../../findings-api/managed-fields.ts';
import type { StoredFinding } from '../../findings-store/store.ts';

function withEntries(o: Obj, entries: unknown): Obj {
  return { ...o, metadata: { ...(o.metadata as Obj), managedFields: entries } };
}

/** `after` with managedFields recording the controller's (and the template's) changes. */
export function recordControllerWrite(
  before: StoredFinding | undefined,
  after: StoredFinding,
  now: Date,
  specManager: string = FIELD_MANAGERS.coverage,
): StoredFinding {
  const start: Obj = (before as unknown as Obj | undefined) ?? { metadata: {} };
  const { spec: _spec, status: _status, ...rest } = after as unknown as Obj;
  const startMeta = start.metadata as Obj;
  // 1. metadata (labels, owner references) under the controller's manager
  let prev: Obj = start;
  let next: Obj = {
    ...rest,
    metadata: { ...(after.metadata as unknown as Obj), managedFields: startMeta.managedFields },
    ...(start.spec !== undefined ? { spec: start.spec } : {}),
    ...(start.status !== undefined ? { status: start.status } : {}),
  };
  next = withEntries(
    next,
    recordUpdate(
      before === undefined ? undefined : prev,
      next,
      { name: FIELD_MANAGERS.coverage, operation: 'Apply' },
      now,
    ),
  );
  // 2. spec (template attributes of run findings)
  prev = next;
  next = { ...prev };
  if (after.spec !== undefined) next.spec = after.spec;
  else delete next.spec;
  next = withEntries(
    next,
    recordUpdate(prev, next, { name: specManager, operation: 'Apply' }, now),
  );
  // 3. status, on the status subresource
  prev = next;
  next = { ...prev };
  if (after.status !== undefined) next.status = after.status;
  next = withEntries(
    next,
    recordUpdate(
      prev,
      next,
      { name: FIELD_MANAGERS.coverage, operation: 'Apply', subresource: 'status' },
      now,
    ),
  );
  return next as unknown as StoredFinding;
}
