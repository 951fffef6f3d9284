// The PostgreSQL schema of the findings store: the same normalised rows as the SQLite one
// (docs/adr/0900), as forward-only migrations run on start (docs/adr/0933).
//
// Every replica runs migrate() when it opens the store. The migrations run in one transaction
// holding a transaction-level advisory lock, so replicas starting together apply each one once
// and the others find it recorded in schema_migrations. A migration is never edited or removed
// once released; a change is a new one with the next version. A database migrated by a newer
// version (a migration this one does not know) is refused rather than written with the old
// shape.
import type pg from 'pg';
import { LABEL_COLUMNS, ROW_COLUMNS } from './row.ts';

/** The advisory lock key migrations hold ("kifindng" as 8 bytes). */
export const MIGRATION_LOCK = '7739830037622582887';

/** How long one migration may run before its connection is given up (one hour). */
const MIGRATION_ANSWER_MS = 3_600_000;

/** The channel every write notifies with its last resourceVersion. */
export const CHANGES_CHANNEL = 'kube_inspector_findings';

const labelColumns = Object.values(LABEL_COLUMNS);

const TABLES = `
CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta (key, value) VALUES ('rv', 0);

-- Advisory text and scores, once per distinct content; refs counts findings and events.
CREATE TABLE advisories (
  id bigserial PRIMARY KEY,
  hash bytea NOT NULL UNIQUE,
  body text NOT NULL,
  refs integer NOT NULL DEFAULT 0
);

-- status.resource and the managedFields shape, once per resource; refs counts findings.
CREATE TABLE contexts (
  id bigserial PRIMARY KEY,
  hash bytea NOT NULL UNIQUE,
  body text NOT NULL,
  refs integer NOT NULL DEFAULT 0
);
-- What DELETE_UNREFERENCED looks for, without reading the tables.
CREATE INDEX advisories_unreferenced ON advisories (id) WHERE refs <= 0;
CREATE INDEX contexts_unreferenced ON contexts (id) WHERE refs <= 0;

CREATE TABLE findings (
  id bigserial PRIMARY KEY,
  ${ROW_COLUMNS.map((c) => `${c} ${c === 'rv' ? 'bigint NOT NULL' : c === 'namespace' || c === 'name' ? 'text NOT NULL' : 'text'}`).join(',\n  ')},
  advisory_id bigint,
  context_id bigint,
  body text NOT NULL
);
CREATE UNIQUE INDEX findings_key ON findings (namespace, name);
CREATE INDEX findings_namespace ON findings (namespace, id);
CREATE INDEX findings_vulnerability_id ON findings (vulnerability_id);
CREATE INDEX findings_resource_id ON findings (resource_id);
${labelColumns.map((c) => `CREATE INDEX findings_${c} ON findings (${c}, id);`).join('\n')}

-- Labels other than the well-known ones (also kept in the row's body).
CREATE TABLE finding_labels (
  finding_id bigint NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (finding_id, key)
);
CREATE INDEX finding_labels_key_value ON finding_labels (key, value);

-- The change feed: one row per resourceVersion, in commit order, kept for a window; object is
-- the JSON of the object without its advisory part (advisory_id).
CREATE TABLE events (
  rv bigint PRIMARY KEY,
  type text NOT NULL,
  ts bigint NOT NULL,
  namespace text NOT NULL,
  advisory_id bigint,
  object text NOT NULL,
  prev text
);
CREATE INDEX events_ts ON events (ts);

-- When the controller last evaluated each covered resource (milliseconds).
CREATE TABLE evaluations (
  covered_resource text PRIMARY KEY,
  at bigint NOT NULL
);
`;

const FUNCTIONS = `
-- A label value as Kubernetes reads it for gt/lt (strconv.ParseInt, 64 bits), else NULL.
-- PL/pgSQL so the planner never folds the cast of a non-number into an error.
CREATE FUNCTION ki_int(v text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE n numeric;
BEGIN
  IF v !~ '^[+-]?[0-9]+$' THEN RETURN NULL; END IF;
  n := v::numeric;
  IF n < -9223372036854775808 OR n >= 9223372036854775808 THEN RETURN NULL; END IF;
  RETURN n;
END $$;

-- Reference counts of the shared parts. A part nobody refers to is deleted by the writer at the
-- end of its transaction (DELETE_UNREFERENCED), not here: the triggers of one statement fire in
-- no promised order, and a count passing through 0 must not drop a part still wanted.
CREATE FUNCTION ki_ref(part_table text, part bigint, delta integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF part IS NULL THEN RETURN; END IF;
  IF part_table = 'advisories' THEN
    UPDATE advisories SET refs = refs + delta WHERE id = part;
  ELSE
    UPDATE contexts SET refs = refs + delta WHERE id = part;
  END IF;
END $$;

CREATE FUNCTION ki_findings_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' THEN
    PERFORM ki_ref('advisories', NEW.advisory_id, 1);
    PERFORM ki_ref('contexts', NEW.context_id, 1);
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM ki_ref('advisories', OLD.advisory_id, -1);
    PERFORM ki_ref('contexts', OLD.context_id, -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER findings_refs AFTER INSERT OR DELETE OR UPDATE OF advisory_id, context_id
ON findings FOR EACH ROW EXECUTE FUNCTION ki_findings_refs();

CREATE FUNCTION ki_events_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN PERFORM ki_ref('advisories', NEW.advisory_id, 1);
  ELSE PERFORM ki_ref('advisories', OLD.advisory_id, -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER events_refs AFTER INSERT OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION ki_events_refs();
`;

/** Run by every write transaction before it commits: drops the parts nobody refers to. */
export const DELETE_UNREFERENCED =
  'WITH a AS (DELETE FROM advisories WHERE refs <= 0) DELETE FROM contexts WHERE refs <= 0';

/** The migrations, in order. Released ones never change. */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: 'findings, shared parts, labels, change feed, evaluations', sql: TABLES },
  { version: 2, name: 'selector and reference-count functions', sql: FUNCTIONS },
];

/** Applies the migrations this database lacks, once, under an advisory lock. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    const done = new Set(rows.map((r) => Number(r.version)));
    const known = new Set(MIGRATIONS.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length > 0)
      throw new Error(
        `findings database has migration ${Math.max(...unknown)}, newer than this version knows (${Math.max(...known)}); run a version at least as new`,
      );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      // A migration may rewrite a large table: it may take longer than the store's statements.
      // (node-pg reads query_timeout from the query config; its types leave it out.)
      await client.query({ text: m.sql, query_timeout: MIGRATION_ANSWER_MS } as pg.QueryConfig);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
