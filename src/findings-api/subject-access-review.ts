// Authorisation of findings API requests by SubjectAccessReview, as
// k8s.io/apiserver's delegating authoriser does it: every request becomes an
// authorization.k8s.io/v1 SubjectAccessReview that kube-apiserver answers with
// its own authorisers (RBAC), so ordinary Roles on findings.kubeinspector.io
// work per verb and namespace. Answers are cached (allowed 10 s, denied 10 s,
// a bounded number of entries); identical questions asked at the same time
// share one review. Failure closes: an answer that cannot be had is an
// AuthorizationUnavailableError (503, retried by clients), never an allow.
import { ApiError as KubeApiError, type KubeClient } from '../kube/client.ts';
import type { AuthorizationDecision, Authorizer, RequestAttributes } from './auth-types.ts';
import { ApiError, failure } from './status.ts';

/** The spec of an authorization.k8s.io/v1 SubjectAccessReview. */
export interface SubjectAccessReviewSpec {
  user: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
  resourceAttributes?: {
    verb: string;
    group: string;
    version: string;
    resource: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  nonResourceAttributes?: { verb: string; path: string };
}

interface SubjectAccessReviewStatus {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/** The review kube-apiserver is asked for a request (pure). */
export function subjectAccessReviewSpec(attributes: RequestAttributes): SubjectAccessReviewSpec {
  const { user } = attributes;
  const spec: SubjectAccessReviewSpec = { user: user.name, groups: [...user.groups] };
  if (user.uid !== undefined && user.uid !== '') spec.uid = user.uid;
  if (Object.keys(user.extra).length > 0) spec.extra = user.extra;
  if (attributes.kind === 'resource') {
    const r: NonNullable<SubjectAccessReviewSpec['resourceAttributes']> = {
      verb: attributes.verb,
      group: attributes.group,
      version: attributes.version,
      resource: attributes.resource,
    };
    if (attributes.subresource) r.subresource = attributes.subresource;
    if (attributes.namespace) r.namespace = attributes.namespace;
    if (attributes.name) r.name = attributes.name;
    spec.resourceAttributes = r;
  } else {
    spec.nonResourceAttributes = { verb: attributes.verb, path: attributes.path };
  }
  return spec;
}

/** A cache key that is the same for the same question whatever order the object's keys came in. */
export function reviewKey(spec: SubjectAccessReviewSpec): string {
  const sortedExtra =
    spec.extra === undefined
      ? undefined
      : Object.fromEntries(
          Object.keys(spec.extra)
            .sort()
            .map((k) => [k, spec.extra?.[k]]),
        );
  return JSON.stringify([
    spec.user,
    spec.uid ?? '',
    spec.groups,
    sortedExtra ?? {},
    spec.resourceAttributes
      ? [
          spec.resourceAttributes.verb,
          spec.resourceAttributes.group,
          spec.resourceAttributes.version,
          spec.resourceAttributes.resource,
          spec.resourceAttributes.subresource ?? '',
          spec.resourceAttributes.namespace ?? '',
          spec.resourceAttributes.name ?? '',
        ]
      : null,
    spec.nonResourceAttributes
      ? [spec.nonResourceAttributes.verb, spec.nonResourceAttributes.path]
      : null,
  ]);
}

/** A least-recently-used map whose entries also expire (pure; the clock is passed in). */
export class ExpiringLruCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    if (maxEntries < 1) throw new Error('the cache needs room for at least one entry');
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= now) return undefined;
    this.entries.set(key, entry); // most recently used goes last
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number, now: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

/**
 * No answer could be had from kube-apiserver: the request is refused with this Status
 * (503 ServiceUnavailable, retry after 1 s, when kube-apiserver is unreachable, times out or
 * answers 5xx/429; 500 InternalError when it refuses the review itself, e.g. the server lacks
 * system:auth-delegator). An ApiError, so the HTTP layer answers it as it is. Never cached.
 */
export class AuthorizationUnavailableError extends ApiError {
  constructor(message: string, code: 500 | 503, cause: unknown) {
    const status = failure(code === 503 ? 'ServiceUnavailable' : 'InternalError', message);
    if (code === 503) status.details = { retryAfterSeconds: 1 };
    super(status);
    this.name = 'AuthorizationUnavailableError';
    this.cause = cause;
  }
}

export interface SubjectAccessReviewAuthorizerOptions {
  /** How long an allowed answer is reused. Default 10 s. */
  allowTtlMs?: number;
  /** How long a denied answer is reused. Default 10 s. */
  denyTtlMs?: number;
  /** Most answers kept. Default 8192 (k8s.io/apiserver's webhook authoriser). */
  maxEntries?: number;
  /**
   * Groups allowed without a review. Default `system:masters`, as k8s.io/apiserver's delegating
   * authoriser: kube-apiserver's own availability probe (user system:kube-aggregator) and
   * cluster administrators never cost a review.
   */
  alwaysAllowGroups?: string[];
  /** Non-resource paths allowed without a review. Default /healthz, /readyz, /livez. */
  alwaysAllowPaths?: string[];
  /** Extra attempts after a failure that may pass (network, 5xx, 429). Default 2. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one. Default 200 ms. */
  retryDelayMs?: number;
  /** Timeout of one review request. Default 10 s (k8s.io/apiserver's ClientTimeout). */
  timeoutMs?: number;
  /** Milliseconds clock; default Date.now. */
  now?: () => number;
  /** Called with every review sent to kube-apiserver (logs, metrics, tests). */
  onReview?: (spec: SubjectAccessReviewSpec) => void;
}

function retryable(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status >= 500 || err.status === 429;
  return true; // network errors, timeouts
}

export class SubjectAccessReviewAuthorizer implements Authorizer {
  private readonly client: KubeClient;
  private readonly cache: ExpiringLruCache<SubjectAccessReviewStatus>;
  private readonly inFlight = new Map<string, Promise<SubjectAccessReviewStatus>>();
  private readonly o: Required<
    Omit<SubjectAccessReviewAuthorizerOptions, 'maxEntries' | 'onReview'>
  >;
  private readonly onReview: ((spec: SubjectAccessReviewSpec) => void) | undefined;
  /** Reviews sent to kube-apiserver, answers from the cache, questions folded into one in flight. */
  readonly stats = { reviews: 0, cacheHits: 0, folded: 0, errors: 0 };

  constructor(client: KubeClient, options: SubjectAccessReviewAuthorizerOptions = {}) {
    this.client = client;
    this.cache = new ExpiringLruCache(options.maxEntries ?? 8192);
    this.onReview = options.onReview;
    this.o = {
      allowTtlMs: options.allowTtlMs ?? 10_000,
      denyTtlMs: options.denyTtlMs ?? 10_000,
      alwaysAllowGroups: options.alwaysAllowGroups ?? ['system:masters'],
      alwaysAllowPaths: options.alwaysAllowPaths ?? ['/healthz', '/readyz', '/livez'],
      retries: options.retries ?? 2,
      retryDelayMs: options.retryDelayMs ?? 200,
      timeoutMs: options.timeoutMs ?? 10_000,
      now: options.now ?? Date.now,
    };
  }

  /** Answers held in the cache. */
  get cachedAnswers(): number {
    return this.cache.size;
  }

  async authorize(attributes: RequestAttributes): Promise<AuthorizationDecision> {
    if (attributes.user.groups.some((g) => this.o.alwaysAllowGroups.includes(g))) {
      return { allowed: true, reason: 'member of an always-allowed group' };
    }
    if (attributes.kind === 'nonResource' && this.o.alwaysAllowPaths.includes(attributes.path)) {
      return { allowed: true, reason: 'always-allowed path' };
    }
    const spec = subjectAccessReviewSpec(attributes);
    const key = reviewKey(spec);
    let status = this.cache.get(key, this.o.now());
    if (status !== undefined) {
      this.stats.cacheHits++;
    } else {
      let pending = this.inFlight.get(key);
      if (pending !== undefined) {
        this.stats.folded++;
      } else {
        pending = this.review(spec).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
      }
      status = await pending;
    }
    return decision(status);
  }

  private async review(spec: SubjectAccessReviewSpec): Promise<SubjectAccessReviewStatus> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.stats.reviews++;
        this.onReview?.(spec);
        const review = await this.client.request<{ status?: SubjectAccessReviewStatus }>(
          'POST',
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          {
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SubjectAccessReview',
              spec,
            },
            timeoutMs: this.o.timeoutMs,
          },
        );
        const status: SubjectAccessReviewStatus = review.status ?? { allowed: false };
        this.cache.set(
          reviewKey(spec),
          status,
          status.allowed && status.denied !== true ? this.o.allowTtlMs : this.o.denyTtlMs,
          this.o.now(),
        );
        return status;
      } catch (err) {
        if (retryable(err) && attempt < this.o.retries) {
          await new Promise((r) => setTimeout(r, this.o.retryDelayMs * 2 ** attempt));
          continue;
        }
        this.stats.errors++;
        const unreachable = retryable(err);
        throw new AuthorizationUnavailableError(
          unreachable
            ? `authorization is unavailable: kube-apiserver did not answer the SubjectAccessReview (${(err as Error).message})`
            : `authorization failed: kube-apiserver refused the SubjectAccessReview (${(err as Error).message}); the server needs the system:auth-delegator ClusterRole`,
          unreachable ? 503 : 500,
          err,
        );
      }
    }
  }
}

/** The decision for a review's status: allowed only when allowed and not denied. */
export function decision(status: SubjectAccessReviewStatus): AuthorizationDecision {
  if (status.allowed && status.denied !== true) {
    return status.reason ? { allowed: true, reason: status.reason } : { allowed: true };
  }
  const parts = [status.reason, status.evaluationError].filter(
    (p): p is string => p !== undefined && p !== '',
  );
  return parts.length > 0 ? { allowed: false, reason: parts.join('; ') } : { allowed: false };
}
