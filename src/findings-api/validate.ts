// Validation of a Finding a client sends: the schema (zod, the same source as the OpenAPI
// documents), unknown fields (pruned; reported as warnings or, with fieldValidation=Strict,
// refused), and the object's identity against the URL. Pure.
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';
import { FindingSpecSchema, FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import { ObjectMetaSchema } from '../api/v1alpha1/common.ts';
import type { z } from 'zod';
import { labelValueErrors, qualifiedNameErrors } from '../util/label-value.ts';
import type { StatusCause } from './status.ts';

type Obj = { [key: string]: unknown };

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Paths of keys present in `input` and dropped by the schema's parse (`parsed`). */
export function unknownFields(input: unknown, parsed: unknown, path: string): string[] {
  if (Array.isArray(input) && Array.isArray(parsed)) {
    return input.flatMap((v, i) => unknownFields(v, parsed[i], `${path}[${i}]`));
  }
  if (!isObject(input) || !isObject(parsed)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(input)) {
    if (!(k in parsed)) out.push(`${path}.${k}`);
    else out.push(...unknownFields(v, parsed[k], `${path}.${k}`));
  }
  return out;
}

/** A field path as kube-apiserver writes it: `status.cvss[0].baseScore`. */
export function fieldPath(root: string, segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (path, s) => (typeof s === 'number' ? `${path}[${s}]` : `${path}.${String(s)}`),
    root,
  );
}

function zodCauses(error: z.ZodError, root: string): StatusCause[] {
  return error.issues.map((i) => ({
    reason: 'FieldValueInvalid',
    field: fieldPath(root, i.path),
    message: `Invalid value: ${i.message}`,
  }));
}

/** kube-apiserver's limit on the total size of an object's annotations, in bytes. */
export const TOTAL_ANNOTATION_BYTES = 256 * 1024;

const invalidValue = (field: string, value: string, message: string): StatusCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Invalid value: ${JSON.stringify(value)}: ${message}`,
});

/**
 * Label keys and values, annotation keys and the annotations' total size, checked as
 * kube-apiserver checks every object's metadata (ValidateObjectMeta).
 */
export function metadataCauses(meta: unknown): StatusCause[] {
  if (!isObject(meta)) return [];
  const out: StatusCause[] = [];
  if (isObject(meta.labels)) {
    for (const [key, value] of Object.entries(meta.labels)) {
      for (const m of qualifiedNameErrors(key)) out.push(invalidValue('metadata.labels', key, m));
      if (typeof value === 'string')
        for (const m of labelValueErrors(value))
          out.push(invalidValue('metadata.labels', value, m));
    }
  }
  if (isObject(meta.annotations)) {
    let bytes = 0;
    for (const [key, value] of Object.entries(meta.annotations)) {
      for (const m of qualifiedNameErrors(key.toLowerCase()))
        out.push(invalidValue('metadata.annotations', key, m));
      bytes += Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
    }
    if (bytes > TOTAL_ANNOTATION_BYTES)
      out.push({
        reason: 'FieldValueTooLong',
        field: 'metadata.annotations',
        message: `Too long: may not be more than ${TOTAL_ANNOTATION_BYTES} bytes`,
      });
  }
  return out;
}

export interface Checked {
  /** The object with unknown fields pruned. */
  object: Obj;
  /** `.spec.foo`-style paths (without the leading dot) of unknown fields. */
  unknown: string[];
  causes: StatusCause[];
}

const ROOT_KEYS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

function checkPart(schema: z.ZodType, value: unknown, root: string, out: Checked): unknown {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) {
    out.causes.push(...zodCauses(r.error, root));
    return value;
  }
  out.unknown.push(...unknownFields(value, r.data, root));
  return r.data;
}

/** Checks a Finding's shape: kind, apiVersion, metadata, spec, status. */
export function checkFinding(body: unknown): Checked {
  const out: Checked = { object: {}, unknown: [], causes: [] };
  if (!isObject(body)) {
    out.causes.push({
      reason: 'FieldValueInvalid',
      field: '<root>',
      message: 'Invalid value: the object must be a JSON object',
    });
    return out;
  }
  if (body.kind !== 'Finding')
    out.causes.push({
      reason: 'FieldValueInvalid',
      field: 'kind',
      message: `Invalid value: ${JSON.stringify(body.kind)}: must be Finding`,
    });
  if (body.apiVersion !== FINDINGS_API_VERSION) {
    out.causes.push({
      reason: 'FieldValueInvalid',
      field: 'apiVersion',
      message: `Invalid value: ${JSON.stringify(body.apiVersion)}: must be ${FINDINGS_API_VERSION}`,
    });
  }
  for (const k of Object.keys(body)) if (!ROOT_KEYS.has(k)) out.unknown.push(k);
  const metadata = checkPart(ObjectMetaSchema, body.metadata ?? {}, 'metadata', {
    ...out,
    unknown: [],
  });
  out.causes.push(...metadataCauses(metadata));
  const object: Obj = {
    apiVersion: body.apiVersion,
    kind: body.kind,
    metadata: isObject(metadata) ? metadata : {},
  };
  const spec = checkPart(FindingSpecSchema, body.spec, 'spec', out);
  if (spec !== undefined) object.spec = spec;
  const status = checkPart(FindingStatusSchema, body.status, 'status', out);
  if (status !== undefined) object.status = status;
  out.object = object;
  return out;
}

/** kube-apiserver's Warning header value for one unknown field. */
export function unknownFieldWarning(path: string): string {
  return `299 - "unknown field \\"${path}\\""`;
}

/** The strict decoding error message of fieldValidation=Strict. */
export function strictMessage(paths: string[]): string {
  return `strict decoding error: ${paths.map((p) => `unknown field "${p}"`).join(', ')}`;
}
