/**
 * What the coverage decisions share to shape a CoveredResource's status and labels exactly
 * as the API server stores them, so comparing with the cached object is exact. Pure.
 */
import { LABELS } from '../api/v1alpha1/common.ts';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import { toApiTime } from '../util/time.ts';

/** Labels of a CoveredResource. */
export function coveredLabels(
  status: Pick<CoveredResourceStatus, 'resourceType' | 'scanStatus' | 'scanType'>,
  namespace?: string,
): Record<string, string> {
  return {
    [LABELS.resourceType]: status.resourceType,
    [LABELS.statusCode]: status.scanStatus.statusCode,
    [LABELS.reason]: status.scanStatus.reason,
    ...(status.scanType !== undefined ? { [LABELS.scanType]: status.scanType } : {}),
    ...(namespace !== undefined ? { [LABELS.resourceNamespace]: namespace } : {}),
  };
}

/** RFC 3339 in whole seconds, as the API server stores times. */
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : toApiTime(ms);
}

export function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Removes undefined values and empty objects (JSON drops the first; the API server would
 * keep the second as `{}`), so comparing with the cached object is exact.
 */
export function compact<T extends object>(obj: T): T {
  return Object.fromEntries(
    Object.entries(obj as Record<string, unknown>).filter(
      ([, v]) =>
        v !== undefined &&
        !(v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0),
    ),
  ) as T;
}

/** Resource labels as observed, within the schema's bounds (64 entries, values <= 63). */
export function trimLabels(
  labels: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  if (labels === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .slice(0, 64)) {
    if (k.length <= 316 && v.length <= 63) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Longest scanStatus.message the schema allows. */
const MESSAGE_MAX = 1024;

/** A scanStatus.message within the schema's bound. */
export function boundedMessage(message: string | undefined): string | undefined {
  if (message === undefined || message === '') return undefined;
  return message.length <= MESSAGE_MAX ? message : `${message.slice(0, MESSAGE_MAX - 1)}…`;
}
