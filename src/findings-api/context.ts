// What a resource handler gets: the request, the authenticated user, the route, the server's
// configuration. And the mapping of store errors to Status answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FINDINGS_API_VERSION, FINDINGS_GROUP } from '../api/v1alpha1/common.ts';
import { StoreError, type FindingStore, type StoredFinding } from '../findings-store/store.ts';
import type { UserInfo } from './auth-types.ts';
import type { ResourceRoute } from './routes.ts';
import { ApiError, apiError, notFound } from './status.ts';
import type { WritePolicy } from './write-rules.ts';

export interface ServerConfig {
  store: FindingStore;
  now: () => Date;
  policy: WritePolicy;
  /** Seconds a watch without timeoutSeconds stays open. */
  watchTimeoutSeconds: () => number;
  bookmarkIntervalMs: number;
  maxBodyBytes: number;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  user: UserInfo;
  route: ResourceRoute;
  config: ServerConfig;
  /** Aborted when the server shuts down: streams end. */
  signal: AbortSignal;
}

/** An object as served: apiVersion and kind first. */
export function served(obj: StoredFinding): StoredFinding {
  return { ...obj, apiVersion: FINDINGS_API_VERSION, kind: 'Finding' };
}

const resource = `findings.${FINDINGS_GROUP}`;

/** A store error as the Status kube-apiserver would answer; other errors pass through. */
export function fromStoreError(err: unknown, name: string, write: boolean): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.reason) {
    case 'NotFound':
      return notFound(name);
    case 'AlreadyExists':
      return apiError('AlreadyExists', `${resource} "${name}" already exists`, { name });
    case 'Conflict':
      return apiError(
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": ${err.message}`,
        { name },
      );
    case 'Expired':
      return apiError('Expired', err.message);
    case 'Invalid':
      return write
        ? apiError('Invalid', err.message, { name, kind: 'Finding' })
        : apiError('BadRequest', err.message);
  }
}

export function rethrow(err: unknown, name: string, write: boolean): never {
  const mapped = fromStoreError(err, name, write);
  throw mapped instanceof ApiError ? mapped : err;
}
