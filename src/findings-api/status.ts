// metav1.Status: the body of every error the findings API returns, built the way
// k8s.io/apimachinery's errors package builds it (reason, code, details, message).
import { FINDINGS_GROUP } from '../api/v1alpha1/common.ts';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: StatusReason;
  code: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
}

/** An error the HTTP layer answers with its Status. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  Invalid: 422,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  UnsupportedMediaType: 415,
  RequestEntityTooLarge: 413,
  TooManyRequests: 429,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
};

export interface Target {
  name?: string;
  /** Defaults to the findings resource. */
  kind?: string;
}

/** A Failure Status; details name the findings resource when a target is given. */
export function failure(
  reason: StatusReason,
  message: string,
  target?: Target,
  causes?: StatusCause[],
): Status {
  const status: Status = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code: CODES[reason],
  };
  if (target || causes) {
    status.details = {
      ...(target?.name !== undefined ? { name: target.name } : {}),
      ...(target ? { group: FINDINGS_GROUP, kind: target.kind ?? 'findings' } : {}),
      ...(causes ? { causes } : {}),
    };
  }
  return status;
}

export function apiError(
  reason: StatusReason,
  message: string,
  target?: Target,
  causes?: StatusCause[],
): ApiError {
  return new ApiError(failure(reason, message, target, causes));
}

/** `findings.findings.kubeinspector.io "x" not found`, as kube-apiserver words it. */
export function notFound(name: string): ApiError {
  return apiError('NotFound', `findings.${FINDINGS_GROUP} "${name}" not found`, { name });
}

/** 422 with one cause a field: the message lists them like kube-apiserver's field errors. */
export function invalid(name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
  return apiError(
    'Invalid',
    `Finding.${FINDINGS_GROUP} "${name}" is invalid: ${list}`,
    {
      name,
      kind: 'Finding',
    },
    causes,
  );
}

export function badRequest(message: string): ApiError {
  return apiError('BadRequest', message);
}

/** The Success Status a DELETE of a collection or a dry run may answer. */
export function success(name?: string): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    message: '',
    code: 200,
    ...(name ? { details: { name, group: FINDINGS_GROUP, kind: 'findings' } } : {}),
  };
}
