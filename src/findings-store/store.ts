// The contract between the findings API server (src/findings-api) and where findings are kept.
// The API speaks only to this interface, so a second backend (PostgreSQL) can be added without
// touching the API. Implementations: sqlite.ts (the default, node:sqlite on a volume).
//
// Objects are plain Finding JSON (`findings.kubeinspector.io/v1alpha1`, kind Finding) with full
// metadata: the store assigns uid, resourceVersion, generation and creationTimestamp on create,
// a new resourceVersion on every change, and keeps managedFields as given.
//
// resourceVersions are decimal strings of one store-wide, strictly increasing sequence: every
// change (create, update, delete) takes the next number, and a list is consistent as of its
// resourceVersion. Clients must treat them as opaque; the API and the store compare them as
// integers.
import type { KubeObject } from '../kube/resources.ts';
import type { FieldSelector, LabelSelector } from './selectors.ts';

/** A Finding as stored and served (apiVersion findings.kubeinspector.io/v1alpha1). */
export type StoredFinding = KubeObject & {
  metadata: KubeObject['metadata'] & { namespace: string };
};

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  type: WatchEventType;
  /** For BOOKMARK, an object that carries only metadata.resourceVersion (and annotations). */
  object: StoredFinding;
}

export interface ListOptions {
  /** Only this namespace; undefined for all namespaces. */
  namespace?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  /** Page size; undefined or 0 for everything (the API still pages internally). */
  limit?: number;
  /** Opaque token from a previous page of the same query. */
  continue?: string;
  /**
   * Kubernetes list semantics: undefined or "" = most recent; "0" = any (served as most recent);
   * a number with resourceVersionMatch "NotOlderThan" = at least that recent; with "Exact" =
   * exactly that version (the store may answer Expired when it cannot).
   */
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan' | 'Exact';
}

export interface ListResult {
  items: StoredFinding[];
  /** Always set: the resourceVersion the list is consistent at. */
  resourceVersion: string;
  /** Set when more items follow. */
  continue?: string;
  /** How many items are left after this page, when known. */
  remainingItemCount?: number;
}

/** A full list read page by page from one consistent snapshot (never all rows at once). */
export interface ListPages {
  /** The resourceVersion the whole list is consistent at. */
  resourceVersion: string;
  /** Pages of items in list order; ending the iteration early releases the snapshot. */
  pages: AsyncIterable<StoredFinding[]>;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: LabelSelector;
  fieldSelector?: FieldSelector;
  /**
   * Start after this resourceVersion (events with a greater one are delivered; 'Expired' when
   * the event log no longer has them). Undefined, "" or "0": as kube-apiserver, "get state and
   * start at most recent": ADDED for every matching object first, then changes — unless
   * sendInitialEvents is false, which starts at the most recent version with no initial events.
   */
  resourceVersion?: string;
  /** WatchList: first ADDED for every matching object (at a snapshot no older than
   *  resourceVersion), then a BOOKMARK with annotation `k8s.io/initial-events-end: "true"` and
   *  the snapshot's resourceVersion, then the changes after it. */
  sendInitialEvents?: boolean;
  /** Send a BOOKMARK with the current resourceVersion every `bookmarkIntervalMs`. */
  allowWatchBookmarks?: boolean;
  bookmarkIntervalMs?: number;
}

/**
 * A live watch. Events arrive in resourceVersion order. The consumer pulls with the async
 * iterator; a consumer that falls too far behind is ended with an Expired error so the client
 * relists (never silently dropped events).
 */
export interface FindingWatch extends AsyncIterable<WatchEvent> {
  /** Ends the watch; the iterator finishes. */
  close(): void;
}

export interface WriteOptions {
  /** Validate and compute the result, change nothing (dryRun=All). */
  dryRun?: boolean;
}

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface FindingStore {
  /** Undefined when there is no such finding. */
  get(namespace: string, name: string): Promise<StoredFinding | undefined>;
  list(options: ListOptions): Promise<ListResult>;
  /**
   * Every match, page by page, from one consistent snapshot: what a list without limit streams
   * (options.continue resumes after a page of list()).
   */
  listPages(options: Omit<ListOptions, 'limit'>): Promise<ListPages>;
  /** Throws StoreError 'Expired' when resourceVersion is older than the event log keeps. */
  watch(options: WatchOptions): Promise<FindingWatch>;
  /** Throws 'AlreadyExists'. Assigns uid, resourceVersion, generation 1, creationTimestamp. */
  create(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding>;
  /**
   * Replaces the stored object. When finding.metadata.resourceVersion is set it must equal the
   * stored one ('Conflict' otherwise). 'NotFound' when absent. Increments generation when spec
   * changed. A write that changes nothing returns the stored object without a new version.
   */
  update(finding: StoredFinding, options?: WriteOptions): Promise<StoredFinding>;
  /** Returns the deleted object. 'NotFound', or 'Conflict' when a precondition fails. */
  delete(
    namespace: string,
    name: string,
    options?: WriteOptions & { preconditions?: DeletePreconditions },
  ): Promise<StoredFinding>;
  /** Deletes every match; returns what was deleted. */
  deleteCollection(options: ListOptions, writeOptions?: WriteOptions): Promise<StoredFinding[]>;
  /**
   * Several writes in one transaction (the controller's evaluation of one resource): all or
   * nothing, one resourceVersion each, events published after commit.
   */
  batch(writes: BatchWrite[]): Promise<StoredFinding[]>;
  /**
   * Records that the controller evaluated a covered resource at `at` (undefined: forgets it, the
   * resource is gone). Open findings labelled with that covered resource are then served with
   * `status.lastObservedAt` no earlier than `at`; nothing else changes and no event is sent
   * (lastObservedAt is derived, like a Table's age column).
   */
  recordEvaluation(coveredResource: string, at: Date | undefined): Promise<void>;
  /** When the covered resource was last evaluated, or undefined. */
  lastEvaluation(coveredResource: string): Promise<Date | undefined>;
  /** How many findings match. */
  count(options: FindingQuery): Promise<number>;
  /** How many findings match, grouped by the given keys (one entry per distinct combination). */
  countBy<K extends FindingCountKey>(
    options: FindingQuery,
    by: readonly K[],
  ): Promise<{ key: Record<K, string>; count: number }[]>;
  /** A number the store keeps for its owner (one-off migrations record themselves here). */
  marker(name: string): Promise<number | undefined>;
  setMarker(name: string, value: number): Promise<void>;
  /** The latest resourceVersion. */
  currentResourceVersion(): string;
  /** Rows, bytes on disk and the event log window, for metrics and status. */
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

/** What count and countBy select on. */
export type FindingQuery = Pick<ListOptions, 'namespace' | 'labelSelector' | 'fieldSelector'>;

/** Keys countBy groups on: status fields, and the covered-resource and run labels. */
export type FindingCountKey =
  'namespace' | 'severity' | 'type' | 'status' | 'coveredResource' | 'run';

export type BatchWrite =
  | { op: 'create'; finding: StoredFinding }
  | { op: 'update'; finding: StoredFinding }
  | { op: 'upsert'; finding: StoredFinding }
  | { op: 'delete'; namespace: string; name: string };

export interface StoreStats {
  findings: number;
  /** Distinct advisory texts kept once (normalisation). */
  advisories: number;
  bytesOnDisk: number;
  /** Oldest resourceVersion a watch can still resume from. */
  oldestResumableResourceVersion: string;
}

export type StoreErrorReason = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Expired' | 'Invalid';

/** A store error the API turns into a metav1.Status with the same reason. */
export class StoreError extends Error {
  readonly reason: StoreErrorReason;
  constructor(reason: StoreErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreError';
    this.reason = reason;
  }
}
