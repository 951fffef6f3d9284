// The PostgreSQL store's writes, in a few statements for any number of findings
// (docs/adr/0934). A write transaction first decides every change in memory (the rows it
// touches are read with its begin, in one round trip), then writes them with:
//
//   1. one statement for the shared parts (advisories, contexts) the changes refer to (the new
//      ones inserted, every one's id found by its hash), the change log's rows, the deleted, the
//      rewritten and the new findings (arrays unnested into multi-row INSERT, UPDATE ... FROM
//      and DELETE ... = ANY, as data-modifying CTEs);
//   2. the labels that are not well-known columns, when there are: one or two more.
//
// Every statement has a fixed text whatever the number of rows (one array parameter a column),
// so each is prepared once per connection and its plan reused. Two writes of one finding in a
// batch are split into segments by the caller: a segment writes each finding at most once.
import type pg from 'pg';
import { eventBody, splitFinding, type SharedPart, type SplitFinding } from './row.ts';
import type { SqlValue } from './sql-filter.ts';
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

const EVENT_TYPES = ['bigint', 'text', 'text', 'bigint', 'text', 'text', 'text'];
const EVENT_NAMES = ['rv', 'type', 'namespace', 'advisory_id', 'advisory', 'object', 'prev'];
// A row as sent: its columns, then its shared parts by hash (hex) and its body.
const ROW_TYPES = [...ROW_NAMES.map(columnType), 'text', 'text', 'text'];
const ROW_SENT = [...ROW_NAMES, 'advisory', 'context', 'body'];
const EVENTS_FROM = 5;
const DELETED_AT = EVENTS_FROM + EVENT_TYPES.length;
const UPDATE_FROM = DELETED_AT + 1;
const INSERT_FROM = UPDATE_FROM + 1 + ROW_TYPES.length;

/** A sent row's shared parts' ids, from the parts CTE `p` (joined as pa and pc). */
const PART_JOINS = (row: string) =>
  `LEFT JOIN p pa ON pa.kind = 'a' AND pa.hash = ${row}.advisory LEFT JOIN p pc ON pc.kind = 'c' AND pc.hash = ${row}.context`;

// One statement for every change of a segment. $1–$3: the shared parts the changes refer to
// (kind, hash in hex, body): the new ones are inserted and `p` has every one's id. $4: the
// change time. Then the log's rows (a deleted finding's event names its advisory by id, the
// others by hash), the deleted ids, the rewritten rows (id first) and the new rows. The
// data-modifying CTEs all run, on distinct rows; the reference-count triggers fire at the end
// of the statement, when the parts inserted here exist.
const WRITE_SQL = `WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS i(kind, hash, body)),
  am AS (INSERT INTO advisories (hash, body) SELECT decode(i.hash, 'hex'), i.body FROM i
    WHERE i.kind = 'a' AND NOT EXISTS (SELECT 1 FROM advisories x WHERE x.hash = decode(i.hash, 'hex'))
    RETURNING id, hash),
  cm AS (INSERT INTO contexts (hash, body) SELECT decode(i.hash, 'hex'), i.body FROM i
    WHERE i.kind = 'c' AND NOT EXISTS (SELECT 1 FROM contexts x WHERE x.hash = decode(i.hash, 'hex'))
    RETURNING id, hash),
  p AS (SELECT 'a' AS kind, encode(hash, 'hex') AS hash, id FROM am
    UNION ALL SELECT 'a', i.hash, x.id FROM i JOIN advisories x ON i.kind = 'a' AND x.hash = decode(i.hash, 'hex')
    UNION ALL SELECT 'c', encode(hash, 'hex'), id FROM cm
    UNION ALL SELECT 'c', i.hash, x.id FROM i JOIN contexts x ON i.kind = 'c' AND x.hash = decode(i.hash, 'hex')),
  e AS (INSERT INTO events (rv, type, ts, namespace, advisory_id, object, prev)
    SELECT x.rv, x.type, $4::bigint, x.namespace, coalesce(x.advisory_id, pa.id), x.object, x.prev
    FROM unnest(${arrays(EVENT_TYPES, EVENTS_FROM)}) AS x(${EVENT_NAMES.join(', ')})
    LEFT JOIN p pa ON pa.kind = 'a' AND pa.hash = x.advisory),
  d AS (DELETE FROM findings WHERE id = ANY($${DELETED_AT}::bigint[])),
  u AS (UPDATE findings f SET ${ROW_NAMES.map((c) => `${c} = u.${c}`).join(', ')},
      advisory_id = u.advisory_id, context_id = u.context_id, body = u.body
    FROM (SELECT u.*, pa.id AS advisory_id, pc.id AS context_id
      FROM unnest(${arrays(['bigint', ...ROW_TYPES], UPDATE_FROM)}) AS u(id, ${ROW_SENT.join(', ')})
      ${PART_JOINS('u')}) AS u
    WHERE f.id = u.id)
INSERT INTO findings (${ROW_NAMES.join(', ')}, advisory_id, context_id, body)
  SELECT ${ROW_NAMES.map((c) => `n.${c}`).join(', ')}, pa.id, pc.id, n.body
  FROM unnest(${arrays(ROW_TYPES, INSERT_FROM)}) AS n(${ROW_SENT.join(', ')})
  ${PART_JOINS('n')}
  RETURNING id, namespace, name`;

const LABELS_DELETE_SQL = 'DELETE FROM finding_labels WHERE finding_id = ANY($1::bigint[])';
const LABELS_INSERT_SQL =
  'INSERT INTO finding_labels (finding_id, key, value) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])';

/** Prepared (named) statements: parsed and planned once per connection. */
function prepared(name: string, text: string, values: unknown[]): pg.QueryConfig {
  return { name: `ki_${name}`, text, values };
}

const hex = (part: SharedPart | undefined): string | null => part?.hash.toString('hex') ?? null;

/** The shared parts the writes refer to, each once: kinds, hashes and bodies. */
function partsOf(writes: PendingWrite[]): SqlValue[][] {
  const wanted = new Map<string, [string, string, string]>();
  for (const w of writes) {
    if (w.kind === 'delete') continue;
    const { advisory, context } = w.split;
    if (advisory) wanted.set(`a${hex(advisory)}`, ['a', hex(advisory)!, advisory.body]);
    if (context) wanted.set(`c${hex(context)}`, ['c', hex(context)!, context.body]);
  }
  return columnsOf([...wanted.values()], 3);
}

/** Column-wise arrays: one array a column, rows in order. */
function columnsOf(rows: SqlValue[][], width: number): SqlValue[][] {
  const out: SqlValue[][] = Array.from({ length: width }, () => []);
  for (const r of rows) for (let i = 0; i < width; i++) out[i]!.push(r[i] ?? null);
  return out;
}

function eventRow(w: PendingWrite): SqlValue[] {
  const c = w.change;
  const prev = c.prev === undefined ? null : JSON.stringify({ ...c.prev, object: c.prevObject });
  const advisoryId = w.kind === 'delete' ? w.advisoryId : null;
  const advisory = w.kind === 'delete' ? null : hex(w.split.advisory);
  return [c.rv, c.type, c.namespace, advisoryId, advisory, eventBody(c.object), prev];
}

/** Writes the pending changes of one segment (each finding at most once): 1–3 statements. */
export async function writePending(
  client: pg.ClientBase,
  writes: PendingWrite[],
  now: number,
): Promise<void> {
  if (writes.length === 0) return;
  const events: SqlValue[][] = [];
  const deleted: number[] = [];
  const updated: SqlValue[][] = [];
  const inserted: SqlValue[][] = [];
  for (const w of writes) {
    events.push(eventRow(w));
    if (w.kind === 'delete') {
      deleted.push(w.id);
      continue;
    }
    const row: SqlValue[] = [
      ...ROW_NAMES.map((c) => w.split.columns[c] ?? null),
      hex(w.split.advisory),
      hex(w.split.context),
      w.split.body,
    ];
    if (w.kind === 'update') updated.push([w.id, ...row]);
    else inserted.push(row);
  }
  const { rows: made } = await client.query<{ id: number; namespace: string; name: string }>(
    prepared('write', WRITE_SQL, [
      ...partsOf(writes),
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
