// The SQLite schema of the findings store (docs/adr/0900-findings-store-schema-and-watch.md).
import type { DatabaseSync } from 'node:sqlite';
import { LABELS } from '../api/v1alpha1/common.ts';
import { LABEL_COLUMNS, ROW_COLUMNS, STATUS_COLUMNS } from './row.ts';
import { labelInt } from './sql-filter.ts';

/** Bumped when the schema changes incompatibly; a newer file is refused. */
export const SCHEMA_VERSION = 1;

const labelColumns = Object.values(LABEL_COLUMNS);

/** The findings columns finding_counts is keyed by (the columns of COUNT_COLUMNS). */
export const COUNT_KEYS = [
  'namespace',
  STATUS_COLUMNS.severity,
  STATUS_COLUMNS.type,
  STATUS_COLUMNS.status,
  LABEL_COLUMNS[LABELS.coveredResource]!,
  LABEL_COLUMNS[LABELS.run]!,
] as const;

/** Statements that add `delta` to the count of the row `ref` (NEW or OLD) belongs to. */
function countChange(ref: 'NEW' | 'OLD', delta: 1 | -1): string {
  const values = COUNT_KEYS.map((c) => `IFNULL(${ref}.${c}, '')`);
  const match = COUNT_KEYS.map((c, i) => `${c} = ${values[i]}`).join(' AND ');
  if (delta === 1)
    return `INSERT INTO finding_counts (${COUNT_KEYS.join(', ')}, n) VALUES (${values.join(', ')}, 1) ON CONFLICT DO UPDATE SET n = n + 1;`;
  return `UPDATE finding_counts SET n = n - 1 WHERE ${match}; DELETE FROM finding_counts WHERE ${match} AND n <= 0;`;
}

/** Fills finding_counts from the findings (a file written before it existed), once. */
function countExisting(db: DatabaseSync): void {
  const done = db.prepare(`SELECT value FROM meta WHERE key = 'counts'`).get();
  if (done !== undefined) return;
  const keys = COUNT_KEYS.join(', ');
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(
      `DELETE FROM finding_counts; INSERT INTO finding_counts (${keys}, n) SELECT ${COUNT_KEYS.map((c) => `IFNULL(${c}, '')`).join(', ')}, count(*) FROM findings GROUP BY ${COUNT_KEYS.map((_c, i) => i + 1).join(', ')}; INSERT INTO meta (key, value) VALUES ('counts', 1)`,
    );
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

-- Advisory text and scores, once per distinct content; refs counts findings and events.
CREATE TABLE IF NOT EXISTS advisories (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  body TEXT NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
);

-- status.resource and the managedFields shape, once per resource; refs counts findings.
CREATE TABLE IF NOT EXISTS contexts (
  id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  body TEXT NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS findings (
  id INTEGER PRIMARY KEY,
  ${ROW_COLUMNS.map((c) => `${c} ${c === 'rv' ? 'INTEGER NOT NULL' : 'TEXT'}`).join(',\n  ')},
  advisory_id INTEGER,
  context_id INTEGER,
  body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS findings_key ON findings (namespace, name);
CREATE INDEX IF NOT EXISTS findings_namespace ON findings (namespace);
-- The ids alone: counting the matches after an id (remainingItemCount of a list's page, up to
-- 10,000) walks this small index instead of 10,000 whole rows.
CREATE INDEX IF NOT EXISTS findings_ids ON findings (id);
CREATE INDEX IF NOT EXISTS findings_vulnerability_id ON findings (vulnerability_id);
CREATE INDEX IF NOT EXISTS findings_resource_id ON findings (resource_id);
${labelColumns.map((c) => `CREATE INDEX IF NOT EXISTS findings_${c} ON findings (${c});`).join('\n')}

-- Labels other than the well-known ones (also kept in the row's body).
CREATE TABLE IF NOT EXISTS finding_labels (
  finding_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (finding_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS finding_labels_key_value ON finding_labels (key, value);

-- The event log: one row per resourceVersion, kept for a window; object is the JSON of the
-- object without its advisory part (advisory_id).
CREATE TABLE IF NOT EXISTS events (
  rv INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  ts INTEGER NOT NULL,
  namespace TEXT NOT NULL,
  advisory_id INTEGER,
  object TEXT NOT NULL,
  prev TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);

-- When the controller last evaluated each covered resource (milliseconds): the lastObservedAt
-- of its open findings is derived from it when they are served, so an evaluation that changes
-- nothing writes one row here instead of one per finding.
CREATE TABLE IF NOT EXISTS evaluations (
  covered_resource TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) WITHOUT ROWID;

-- How many findings each combination of the columns countBy groups on has (NULL stored as ''),
-- kept by the triggers below: counts without selectors (the findings gauge at every scrape, the
-- resources with findings at start) read this small table instead of every finding.
CREATE TABLE IF NOT EXISTS finding_counts (
  ${COUNT_KEYS.map((c) => `${c} TEXT NOT NULL`).join(',\n  ')},
  n INTEGER NOT NULL,
  PRIMARY KEY (${COUNT_KEYS.join(', ')})
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS findings_count_insert AFTER INSERT ON findings BEGIN
  ${countChange('NEW', 1)}
END;
CREATE TRIGGER IF NOT EXISTS findings_count_delete AFTER DELETE ON findings BEGIN
  ${countChange('OLD', -1)}
END;
CREATE TRIGGER IF NOT EXISTS findings_count_update AFTER UPDATE OF ${COUNT_KEYS.join(', ')} ON findings
WHEN ${COUNT_KEYS.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ')} BEGIN
  ${countChange('OLD', -1)}
  ${countChange('NEW', 1)}
END;

CREATE TRIGGER IF NOT EXISTS findings_delete_labels AFTER DELETE ON findings BEGIN
  DELETE FROM finding_labels WHERE finding_id = OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS findings_ref_insert AFTER INSERT ON findings
WHEN NEW.advisory_id IS NOT NULL BEGIN
  UPDATE advisories SET refs = refs + 1 WHERE id = NEW.advisory_id;
END;
CREATE TRIGGER IF NOT EXISTS findings_ref_delete AFTER DELETE ON findings
WHEN OLD.advisory_id IS NOT NULL BEGIN
  UPDATE advisories SET refs = refs - 1 WHERE id = OLD.advisory_id;
END;
CREATE TRIGGER IF NOT EXISTS findings_ref_update AFTER UPDATE OF advisory_id ON findings
WHEN OLD.advisory_id IS NOT NEW.advisory_id BEGIN
  UPDATE advisories SET refs = refs + 1 WHERE id = NEW.advisory_id;
  UPDATE advisories SET refs = refs - 1 WHERE id = OLD.advisory_id;
END;
CREATE TRIGGER IF NOT EXISTS findings_context_insert AFTER INSERT ON findings
WHEN NEW.context_id IS NOT NULL BEGIN
  UPDATE contexts SET refs = refs + 1 WHERE id = NEW.context_id;
END;
CREATE TRIGGER IF NOT EXISTS findings_context_delete AFTER DELETE ON findings
WHEN OLD.context_id IS NOT NULL BEGIN
  UPDATE contexts SET refs = refs - 1 WHERE id = OLD.context_id;
END;
CREATE TRIGGER IF NOT EXISTS findings_context_update AFTER UPDATE OF context_id ON findings
WHEN OLD.context_id IS NOT NEW.context_id BEGIN
  UPDATE contexts SET refs = refs + 1 WHERE id = NEW.context_id;
  UPDATE contexts SET refs = refs - 1 WHERE id = OLD.context_id;
END;
CREATE TRIGGER IF NOT EXISTS contexts_unreferenced AFTER UPDATE OF refs ON contexts
WHEN NEW.refs <= 0 BEGIN
  DELETE FROM contexts WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS events_ref_insert AFTER INSERT ON events
WHEN NEW.advisory_id IS NOT NULL BEGIN
  UPDATE advisories SET refs = refs + 1 WHERE id = NEW.advisory_id;
END;
CREATE TRIGGER IF NOT EXISTS events_ref_delete AFTER DELETE ON events
WHEN OLD.advisory_id IS NOT NULL BEGIN
  UPDATE advisories SET refs = refs - 1 WHERE id = OLD.advisory_id;
END;
CREATE TRIGGER IF NOT EXISTS advisories_unreferenced AFTER UPDATE OF refs ON advisories
WHEN NEW.refs <= 0 BEGIN
  DELETE FROM advisories WHERE id = NEW.id;
END;
`;

/** Registers the SQL functions the filters use (ki_int: a label value as an integer). */
export function registerFunctions(db: DatabaseSync): void {
  db.function('ki_int', { deterministic: true }, (v) => labelInt(v));
}

/** Creates the schema when missing and checks the file's version. */
export function migrate(db: DatabaseSync): void {
  db.exec(SCHEMA);
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as
    { value: number } | undefined;
  if (row === undefined)
    db.prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?)`).run(SCHEMA_VERSION);
  else if (row.value > SCHEMA_VERSION)
    throw new Error(
      `findings database schema ${row.value} is newer than this version understands (${SCHEMA_VERSION})`,
    );
  countExisting(db);
}
