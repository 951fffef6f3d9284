/**
 * The label that marks the replica serving findings from the SQLite store (docs/adr/0710): the
 * findings API Service selects it, so kube-apiserver's aggregation layer reaches only the replica
 * that has the database open, while every replica is Ready.
 *
 * The replica labels its own pod (POD_NAMESPACE/POD_NAME from the downward API) with a JSON
 * merge patch of metadata.labels under its field manager. Without POD_NAME (tests, a process
 * outside a cluster) nothing is labelled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ApiError, type KubeClient, isConflict, isNotFound } from '../kube/client.ts';

export const FINDINGS_API_LABEL = 'kubeinspector.io/findings-api';
export const FINDINGS_API_LABEL_VALUE = 'serving';
const FIELD_MANAGER = 'kube-inspector-findings-api';
/** Each request's limit: a label change at shutdown must fit in the pod's grace period. */
const REQUEST_TIMEOUT_MS = 5000;

export interface PodLabelOptions {
  client: KubeClient;
  /** The pod's namespace and name; undefined name: labelling is skipped. */
  namespace: string | undefined;
  name: string | undefined;
  log: Logger;
  /** Attempts per change (default 6), waiting 250 ms doubling up to 4 s between them. */
  attempts?: number;
}

/** Labels and unlabels this replica's own pod; never throws. */
export class FindingsPodLabel {
  private readonly o: PodLabelOptions;
  private staleCleared = false;

  constructor(o: PodLabelOptions) {
    this.o = o;
  }

  /** True once a label left by an earlier container of this pod has been removed (or none). */
  get ready(): boolean {
    return this.staleCleared;
  }

  /**
   * At start, before this replica may be Ready: removes the label an earlier container of this
   * pod left (a container restart keeps the pod's labels). Tries until done or `signal` aborts.
   */
  async clearStale(signal?: AbortSignal): Promise<void> {
    const { client, namespace, name, log } = this.o;
    for (let attempt = 1; !this.staleCleared && signal?.aborted !== true; attempt++) {
      if (!this.managed()) {
        this.staleCleared = true;
        return;
      }
      try {
        const pod = await client.get<{ metadata?: { labels?: Record<string, string> } }>(
          this.path(),
          { timeoutMs: REQUEST_TIMEOUT_MS, ...(signal ? { signal } : {}) },
        );
        if (pod.metadata?.labels?.[FINDINGS_API_LABEL] === undefined) this.staleCleared = true;
        else this.staleCleared = await this.change(null, 'removed a stale serving label', signal);
      } catch (err) {
        if (isNotFound(err)) {
          log.warn({ err, pod: `${namespace}/${name}` }, 'own pod not found; no label to clear');
          this.staleCleared = true;
          return;
        }
        log.warn({ err, attempt }, 'could not read own pod to clear a stale label; trying again');
      }
      if (!this.staleCleared)
        await sleep(Math.min(500 * 2 ** (attempt - 1), 8000), undefined, { signal }).catch(
          () => undefined,
        );
    }
  }

  /** Marks this pod as the one serving findings. Resolves true once the label is set. */
  set(signal?: AbortSignal): Promise<boolean> {
    return this.change(FINDINGS_API_LABEL_VALUE, 'labelled this pod as serving findings', signal);
  }

  /** Removes the mark before the store closes. Resolves true once the label is gone. */
  remove(signal?: AbortSignal): Promise<boolean> {
    return this.change(null, 'removed the serving label from this pod', signal);
  }

  /** Whether this process knows its pod; logs at debug level when it does not. */
  private managed(): boolean {
    const { namespace, name } = this.o;
    if (name !== undefined && name !== '' && namespace !== undefined && namespace !== '')
      return true;
    this.o.log.debug(
      { label: FINDINGS_API_LABEL },
      'POD_NAME or POD_NAMESPACE not set: the findings API pod label is not managed',
    );
    return false;
  }

  private path(): string {
    const { namespace = '', name = '' } = this.o;
    return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
  }

  private async change(value: string | null, done: string, signal?: AbortSignal): Promise<boolean> {
    const { client, namespace, name, log } = this.o;
    if (!this.managed()) return true;
    const path = this.path();
    const attempts = this.o.attempts ?? 6;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await client.request('PATCH', path, {
          body: { metadata: { labels: { [FINDINGS_API_LABEL]: value } } },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: FIELD_MANAGER },
          timeoutMs: REQUEST_TIMEOUT_MS,
          ...(signal ? { signal } : {}),
        });
        log.info({ pod: `${namespace}/${name}`, label: FINDINGS_API_LABEL, value }, done);
        return true;
      } catch (err) {
        if (isNotFound(err)) {
          // The pod is gone (deleted while we run): nothing left to label or unlabel.
          log.warn({ err, pod: `${namespace}/${name}` }, 'own pod not found; label not changed');
          return value === null;
        }
        const last = attempt === attempts || signal?.aborted === true;
        const forbidden = err instanceof ApiError && err.status === 403;
        log[last ? 'error' : 'warn'](
          { err, attempt, pod: `${namespace}/${name}`, label: FINDINGS_API_LABEL, value },
          forbidden
            ? 'not allowed to patch own pod (the controller needs get and patch on pods in its namespace)'
            : isConflict(err)
              ? 'conflict patching own pod label; trying again'
              : last
                ? 'could not change own pod label'
                : 'could not change own pod label; trying again',
        );
        if (last) return false;
        await sleep(Math.min(250 * 2 ** (attempt - 1), 4000), undefined, { signal }).catch(
          () => undefined,
        );
      }
    }
    return false;
  }
}
