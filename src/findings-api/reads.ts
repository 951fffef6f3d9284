// GET, LIST and WATCH of findings: plain objects, Table rows or PartialObjectMetadata as the
// Accept header asks, lists streamed item by item as the store pages them, watches streamed
// frame by frame with bookmarks, WatchList's initial-events-end bookmark, and 410 as an ERROR
// event.
import type { ServerResponse } from 'node:http';
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';
import {
  StoreError,
  type FindingWatch,
  type ListOptions,
  type ListResult,
  type StoredFinding,
  type WatchEvent,
} from '../findings-store/store.ts';
import { isConnectionError } from '../findings-store/postgres.ts';
import { type RequestContext, fromStoreError, rethrow, served } from './context.ts';
import { writeChunk, writeJson } from './http-io.ts';
import { type Output, negotiate } from './negotiate.ts';
import { type ListQuery, parseListQuery } from './query.ts';
import { ApiError, type Status, apiError, failure, notFound } from './status.ts';
import { storeUnavailable } from './store-holder.ts';
import {
  type IncludeObject,
  parseIncludeObject,
  partialMetadata,
  tableHead,
  tableRow,
} from './table.ts';

export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

function outputOf(ctx: RequestContext, endpoint: 'object' | 'list' | 'watch'): Output {
  const out = negotiate(ctx.req.headers.accept, endpoint);
  if (!out) {
    throw apiError(
      'NotAcceptable',
      `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata${endpoint === 'list' ? 'List' : ''};v=v1;g=meta.k8s.io`,
    );
  }
  return out;
}

function includeOf(ctx: RequestContext): IncludeObject {
  const include = parseIncludeObject(ctx.url.searchParams.get('includeObject'));
  if (!include)
    throw apiError(
      'BadRequest',
      `unrecognized includeObject value: "${ctx.url.searchParams.get('includeObject')}"`,
    );
  return include;
}

/** One object in the asked-for form. */
function render(
  obj: StoredFinding,
  out: Output,
  include: IncludeObject,
  now: Date,
  withHeaders: boolean,
): unknown {
  if (out.kind === 'object') return served(obj);
  if (out.kind === 'metadata') return partialMetadata(obj, out.version);
  return {
    ...tableHead(out.version, withHeaders),
    rows: [tableRow(served(obj), include, out.version, now)],
    metadata: { resourceVersion: obj.metadata.resourceVersion ?? '' },
  };
}

export async function handleGet(ctx: RequestContext): Promise<void> {
  const { namespace, name } = ctx.route;
  const out = outputOf(ctx, 'object');
  const include = includeOf(ctx);
  let obj: StoredFinding | undefined;
  try {
    obj = await ctx.config.store.get(namespace!, name!);
  } catch (err) {
    rethrow(err, name!, false);
  }
  if (!obj) throw notFound(name!);
  writeJson(ctx.res, 200, render(obj, out, include, ctx.config.now(), true));
}

/** Opening and closing of a streamed list, by output. */
function listFrame(out: Output): {
  open: string;
  close: (meta: Record<string, unknown>) => string;
} {
  const close = (meta: Record<string, unknown>) => `],"metadata":${JSON.stringify(meta)}}`;
  if (out.kind === 'object')
    return {
      open: `{"kind":"FindingList","apiVersion":"${FINDINGS_API_VERSION}","items":[`,
      close,
    };
  if (out.kind === 'metadata')
    return {
      open: `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/${out.version}","items":[`,
      close,
    };
  const head = JSON.stringify(tableHead(out.version, true));
  return { open: `${head.slice(0, -1)},"rows":[`, close };
}

function listItem(obj: StoredFinding, out: Output, include: IncludeObject, now: Date): string {
  if (out.kind === 'object') return JSON.stringify(served(obj));
  if (out.kind === 'metadata') return JSON.stringify(partialMetadata(obj, out.version));
  return JSON.stringify(tableRow(served(obj), include, out.version, now));
}

function listOptions(ctx: RequestContext, q: ListQuery): ListOptions {
  const o: ListOptions = {};
  if (ctx.route.namespace !== undefined) o.namespace = ctx.route.namespace;
  if (q.labelSelector) o.labelSelector = q.labelSelector;
  if (q.fieldSelector) o.fieldSelector = q.fieldSelector;
  if (q.resourceVersion !== undefined) o.resourceVersion = q.resourceVersion;
  if (q.resourceVersionMatch) o.resourceVersionMatch = q.resourceVersionMatch;
  if (q.continue) o.continue = q.continue;
  return o;
}

/** Writes the items of pages as they come; false when the client went away. */
async function writeItems(
  ctx: RequestContext,
  pages: AsyncIterable<StoredFinding[]>,
  render: (obj: StoredFinding) => string,
): Promise<boolean> {
  let first = true;
  for await (const items of pages) {
    if (items.length === 0) continue;
    const text = items.map(render).join(',');
    if (!(await writeChunk(ctx.res, (first ? '' : ',') + text))) return false;
    first = false;
  }
  return true;
}

async function* onePage(page: ListResult): AsyncIterable<StoredFinding[]> {
  await Promise.resolve();
  yield page.items;
}

/** One page when the client gave a limit, else every match from one snapshot. */
async function query(
  ctx: RequestContext,
  q: ListQuery,
): Promise<{ pages: AsyncIterable<StoredFinding[]>; meta: Record<string, unknown> }> {
  const base = listOptions(ctx, q);
  try {
    if (q.limit === undefined) {
      const all = await ctx.config.store.listPages(base);
      return { pages: all.pages, meta: { resourceVersion: all.resourceVersion } };
    }
    const page = await ctx.config.store.list({ ...base, limit: q.limit });
    const meta: Record<string, unknown> = { resourceVersion: page.resourceVersion };
    if (page.continue) {
      meta.continue = page.continue;
      if (page.remainingItemCount !== undefined) meta.remainingItemCount = page.remainingItemCount;
    }
    return { pages: onePage(page), meta };
  } catch (err) {
    rethrow(err, '', false);
  }
}

/**
 * A list streamed: items are written as the store pages them (a list of 650,000 findings is
 * never one string); list metadata comes last, which JSON allows.
 */
export async function handleList(ctx: RequestContext): Promise<void> {
  const q = parseListQuery(ctx.url.searchParams, false);
  const out = outputOf(ctx, 'list');
  const include = includeOf(ctx);
  const { pages, meta } = await query(ctx, q);
  const frame = listFrame(out);
  ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
  const now = ctx.config.now();
  if (!(await writeChunk(ctx.res, frame.open))) return;
  try {
    if (!(await writeItems(ctx, pages, (i) => listItem(i, out, include, now)))) return;
  } catch (err) {
    // Headers are gone: a truncated body is how the client learns the list failed.
    ctx.res.destroy(err as Error);
    return;
  }
  ctx.res.end(frame.close(meta));
}

// ---------------------------------------------------------------- watch

function isInitialEventsEnd(ev: WatchEvent): boolean {
  return ev.type === 'BOOKMARK' && ev.object.metadata.annotations?.[INITIAL_EVENTS_END] === 'true';
}

export function errorFrame(status: Status): string {
  return JSON.stringify({ type: 'ERROR', object: status }) + '\n';
}

function statusOf(err: unknown): Status {
  // The database connection lost mid-stream: 503, which clients retry (a list or watch again).
  if (isConnectionError(err))
    return storeUnavailable(
      `the findings database connection was lost: ${(err as Error).message}; try again shortly`,
    ).status;
  const mapped = fromStoreError(err, '', false);
  if (mapped instanceof ApiError) return mapped.status;
  return failure(
    'InternalError',
    `Internal error occurred: ${(err as Error).message ?? String(err)}`,
  );
}

/** Encodes events for one watch; Table column definitions only on the first. */
function encoder(out: Output, include: IncludeObject, now: () => Date): (ev: WatchEvent) => string {
  let headers = true;
  return (ev) => {
    const obj =
      ev.type === 'BOOKMARK' && out.kind === 'object'
        ? { ...ev.object, apiVersion: FINDINGS_API_VERSION, kind: 'Finding' }
        : render(ev.object, out, ev.type === 'BOOKMARK' ? 'Metadata' : include, now(), headers);
    if (out.kind === 'table') headers = false;
    return JSON.stringify({ type: ev.type, object: obj }) + '\n';
  };
}

function startWatchHead(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
}

async function openWatch(ctx: RequestContext, q: ListQuery): Promise<FindingWatch> {
  return ctx.config.store.watch({
    ...(ctx.route.namespace !== undefined ? { namespace: ctx.route.namespace } : {}),
    ...(q.labelSelector ? { labelSelector: q.labelSelector } : {}),
    ...(q.fieldSelector ? { fieldSelector: q.fieldSelector } : {}),
    ...(q.resourceVersion !== undefined ? { resourceVersion: q.resourceVersion } : {}),
    ...(q.sendInitialEvents !== undefined ? { sendInitialEvents: q.sendInitialEvents } : {}),
    allowWatchBookmarks: q.allowWatchBookmarks,
    bookmarkIntervalMs: ctx.config.bookmarkIntervalMs,
  });
}

export async function handleWatch(ctx: RequestContext): Promise<void> {
  const q = parseListQuery(ctx.url.searchParams, true, ctx.route.name);
  const out = outputOf(ctx, 'watch');
  const include = includeOf(ctx);
  let watch: FindingWatch;
  try {
    watch = await openWatch(ctx, q);
  } catch (err) {
    if (!(err instanceof StoreError) || err.reason !== 'Expired') rethrow(err, '', false);
    startWatchHead(ctx.res);
    ctx.res.end(errorFrame(statusOf(err)));
    return;
  }
  await streamWatch(ctx, q, watch, encoder(out, include, ctx.config.now));
}

async function streamWatch(
  ctx: RequestContext,
  q: ListQuery,
  watch: FindingWatch,
  encode: (ev: WatchEvent) => string,
): Promise<void> {
  startWatchHead(ctx.res);
  const stop = () => watch.close();
  const timer = setTimeout(stop, (q.timeoutSeconds ?? ctx.config.watchTimeoutSeconds()) * 1000);
  ctx.res.on('close', stop);
  ctx.signal.addEventListener('abort', stop);
  // The client went away while the watch was being opened: no event will come to close it.
  if (ctx.signal.aborted || ctx.res.destroyed) stop();
  const passEnd = q.sendInitialEvents === true && q.allowWatchBookmarks;
  try {
    for await (const ev of watch) {
      if (isInitialEventsEnd(ev) ? !passEnd : ev.type === 'BOOKMARK' && !q.allowWatchBookmarks)
        continue;
      if (!(await writeChunk(ctx.res, encode(ev)))) break;
    }
  } catch (err) {
    await writeChunk(ctx.res, errorFrame(statusOf(err)));
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', stop);
    watch.close();
    if (!ctx.res.writableEnded) ctx.res.end();
  }
}
