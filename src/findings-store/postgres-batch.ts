// The PostgreSQL store's writes, in a few statements for any number of findings
// (docs/adr/0934). A write transaction first decides every change in memory (the rows it
// touches are read in one statement), then writes them with:
//
//   1. the shared parts (advisories, contexts) the changes refer to: the ids of the known ones
//      and the new ones inserted, in one statement;
//   2. the change log's rows, the deleted, the rewritten and the new findings, in one statement
//      (arrays unnested into multi-row INSERT, UPDATE ... FROM and DELETE ... = ANY);
//   3. the labels that are not well-known columns, when there are: in one or two.
//
// Every statement has a fixed text whatever the number of rows (one array parameter a column),
// so each is prepared once per connection and its plan reused. Two writes of one finding in a
// batch are split into segments by the caller: a segment writes each finding at most once.
import type pg from 'pg';
import type { SharedPart, SplitFinding } from './row.ts';
import { splitFinding } from './row.ts';
import type { SqlValue } from './sql-filter.ts';
import { eventBody } from './row.ts';
import type { ChangeEvent } from './watch.ts';

/** A change decided in memory, waiting to be written. */
export type PendingWrite =
  | { kind: 'insert'; change: ChangeEvent; split: SplitFinding }
  | { kind: 'update'; change: ChangeEvent; split: SplitFinding; id: number; clearLabels: boolean }
  | { kind: 'delete'; change: ChangeEvent; id: number; advisoryId: number | null };

/** A pending insert or update of a finding (its row as stored). */
export function rowWrite(
  change: ChangeEvent,
  row?: { id: number; hadExtraLabels: boolean },
): PendingWrite {
  const split = splitFinding(change.object);
  return row === undefined
    ? { kind: 'insert', change, split }
    : { kind: 'update', change, split, id: row.id, clearLabels: row.hadExtraLabels };
}

/** The row's columns besides id, advisory_id, context_id and body, in splitFinding's order. */
export const ROW_NAMES: readonly string[] = Object.keys(
  splitFinding({ metadata: { namespace: '', name: '', resourceVersion: '0' } }).columns,
);

const columnType = (c: string): string => (c === 'rv' ? 'bigint' : 'text');

/** `$n::type[]` for each column, numbered from `from`. */
function arrays(types: readonly string[], from: number): string {
  return types.map((t, i) => `$${from + i}::${t}[]`).join(', ');
}

const PART_IDS_SQL = `WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS i(kind, hash, body)),
  am AS (INSERT INTO advisories (hash, body) SELECT decode(i.hash, 'hex'), i.body FROM i
    WHERE i.kind = 'a' AND NOT EXISTS (SELECT 1 FROM advisories x WHERE x.hash = decode(i.hash, 'hex'))
    RETURNING id, hash),
  cm AS (INSERT INTO contexts (hash, body) SELECT decode(i.hash, 'hex'), i.body FROM i
    WHERE i.kind = 'c' AND NOT EXISTS (SELECT 1 FROM contexts x WHERE x.hash = decode(i.hash, 'hex'))
    RETURNING id, hash)
SELECT 'a' AS kind, encode(hash, 'hex') AS hash, id FROM am
UNION ALL SELECT 'a', i.hash, x.id FROM i JOIN advisories x ON i.kind = 'a' AND x.hash = decode(i.hash, 'hex')
UNION ALL SELECT 'c', encode(hash, 'hex'), id FROM cm
UNION ALL SELECT 'c', i.hash, x.id FROM i JOIN contexts x ON i.kind = 'c' AND x.hash = decode(i.hash, 'hex')`;

const EVENT_TYPES = ['bigint', 'text', 'text', 'bigint', 'text', 'text'];
const ROW_TYPES = [...ROW_NAMES.map(columnType), 'bigint', 'bigint', 'text'];
const ROW_ALL = [...ROW_NAMES, 'advisory_id', 'context_id', 'body'];
const UPDATE_FROM = 2 + EVENT_TYPES.length + 1;
const INSERT_FROM = UPDATE_FROM + 1 + ROW_TYPES.length;

// $1: the change time; $2..: the log's columns; then the deleted ids; the rewritten rows (id
// first); the new rows. Data-modifying CTEs all run, on distinct rows.
const ROWS_SQL = `WITH e AS (INSERT INTO events (rv, type, ts, namespace, advisory_id, object, prev)
    SELECT x.rv, x.type, $1::bigint, x.namespace, x.advisory_id, x.object, x.prev
    FROM unnest(${arrays(EVENT_TYPES, 2)}) AS x(rv, type, namespace, advisory_id, object, prev)),
  d AS (DELETE FROM findings WHERE id = ANY($${2 + EVENT_TYPES.length}::bigint[])),
  u AS (UPDATE findings f SET ${ROW_ALL.map((c) => `${c} = u.${c}`).join(', ')}
    FROM unnest(${arrays(['bigint', ...ROW_TYPES], UPDATE_FROM)}) AS u(id, ${ROW_ALL.join(', ')})
    WHERE f.id = u.id)
INSERT INTO findings (${ROW_ALL.join(', ')})
  SELECT * FROM unnest(${arrays(ROW_TYPES, INSERT_FROM)})
  RETURNING id, namespace, name`;

const LABELS_DELETE_SQL = 'DELETE FROM finding_labels WHERE finding_id = ANY($1::bigint[])';
const LABELS_INSERT_SQL =
  'INSERT INTO finding_labels (finding_id, key, value) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])';

/** Prepared (named) statements: parsed and planned once per connection. */
function prepared(name: string, text: string, values: unknown[]): pg.QueryConfig {
  return { name: `ki_${name}`, text, values };
}

const partKey = (kind: 'a' | 'c', part: SharedPart): string =>
  `${kind}${part.hash.toString('hex')}`;

/** The ids of the shared parts the writes refer to, inserting the new ones. */
async function partIds(
  client: pg.ClientBase,
  writes: PendingWrite[],
): Promise<Map<string, number>> {
  const wanted = new Map<string, [string, string, string]>();
  for (const w of writes) {
    if (w.kind === 'delete') continue;
    const { advisory, context } = w.split;
    if (advisory)
      wanted.set(partKey('a', advisory), ['a', advisory.hash.toString('hex'), advisory.body]);
    if (context)
      wanted.set(partKey('c', context), ['c', context.hash.toString('hex'), context.body]);
  }
  const ids = new Map<string, number>();
  if (wanted.size === 0) return ids;
  const parts = [...wanted.values()];
  const { rows } = await client.query<{ kind: string; hash: string; id: number }>(
    prepared('part_ids', PART_IDS_SQL, [
      parts.map((p) => p[0]),
      parts.map((p) => p[1]),
      parts.map((p) => p[2]),
    ]),
  );
  for (const r of rows) ids.set(`${r.kind}${r.hash}`, Number(r.id));
  return ids;
}

/** Column-wise arrays: one array a column, rows in order. */
function columnsOf(rows: SqlValue[][], width: number): SqlValue[][] {
  const out: SqlValue[][] = Array.from({ length: width }, () => []);
  for (const r of rows) for (let i = 0; i < width; i++) out[i]!.push(r[i] ?? null);
  return out;
}

function eventRow(w: PendingWrite, advisoryId: number | null): SqlValue[] {
  const c = w.change;
  const prev = c.prev === undefined ? null : JSON.stringify({ ...c.prev, object: c.prevObject });
  return [c.rv, c.type, c.namespace, advisoryId, eventBody(c.object), prev];
}

/** Writes the pending changes of one segment (each finding at most once), in 2–4 statements. */
export async function writePending(
  client: pg.ClientBase,
  writes: PendingWrite[],
  now: number,
): Promise<void> {
  if (writes.length === 0) return;
  const ids = await partIds(client, writes);
  const idOf = (kind: 'a' | 'c', part: SharedPart | undefined): number | null => {
    if (part === undefined) return null;
    const id = ids.get(partKey(kind, part));
    if (id === undefined) throw new Error(`shared part ${partKey(kind, part)} has no id`);
    return id;
  };
  const events: SqlValue[][] = [];
  const deleted: number[] = [];
  const updated: SqlValue[][] = [];
  const inserted: SqlValue[][] = [];
  for (const w of writes) {
    if (w.kind === 'delete') {
      events.push(eventRow(w, w.advisoryId));
      deleted.push(w.id);
      continue;
    }
    const advisoryId = idOf('a', w.split.advisory);
    events.push(eventRow(w, advisoryId));
    const row: SqlValue[] = [
      ...ROW_NAMES.map((c) => w.split.columns[c] ?? null),
      advisoryId,
      idOf('c', w.split.context),
      w.split.body,
    ];
    if (w.kind === 'update') updated.push([w.id, ...row]);
    else inserted.push(row);
  }
  const { rows: made } = await client.query<{ id: number; namespace: string; name: string }>(
    prepared('write_rows', ROWS_SQL, [
      now,
      ...columnsOf(events, EVENT_TYPES.length),
      deleted,
      ...columnsOf(updated, 1 + ROW_TYPES.length),
      ...columnsOf(inserted, ROW_TYPES.length),
    ]),
  );
  await writeLabels(client, writes, made);
}

/** The labels kept in finding_labels: the rewritten rows' old ones dropped, the new ones added. */
async function writeLabels(
  client: pg.ClientBase,
  writes: PendingWrite[],
  made: { id: number; namespace: string; name: string }[],
): Promise<void> {
  const clear = writes.flatMap((w) => (w.kind === 'update' && w.clearLabels ? [w.id] : []));
  if (clear.length > 0) await client.query(prepared('labels_delete', LABELS_DELETE_SQL, [clear]));
  const newIds = new Map(made.map((r) => [`${r.namespace}/${r.name}`, Number(r.id)]));
  const labels: SqlValue[][] = [];
  for (const w of writes) {
    if (w.kind === 'delete' || w.split.extraLabels.length === 0) continue;
    const id =
      w.kind === 'update'
        ? w.id
        : newIds.get(`${w.change.namespace}/${w.change.object.metadata.name}`);
    if (id === undefined) throw new Error(`no row id for ${w.change.object.metadata.name}`);
    for (const [k, v] of w.split.extraLabels) labels.push([id, k, v]);
  }
  if (labels.length > 0)
    await client.query(prepared('labels_insert', LABELS_INSERT_SQL, columnsOf(labels, 3)));
}

/**
 * Splits a batch into segments in which no finding is written twice (each segment's rows are
 * read, decided and written before the next: a later write of a finding sees the earlier one).
 */
export function segments<W>(writes: readonly W[], key: (w: W) => string | undefined): W[][] {
  const out: W[][] = [];
  let current: W[] = [];
  let seen = new Set<string>();
  for (const w of writes) {
    const k = key(w);
    if (k !== undefined && seen.has(k)) {
      out.push(current);
      current = [];
      seen = new Set();
    }
    if (k !== undefined) seen.add(k);
    current.push(w);
  }
  if (current.length > 0) out.push(current);
  return out;
}
