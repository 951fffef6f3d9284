/**
 * The OSV record format (https://ossf.github.io/osv-schema/) as a lenient zod model, and the
 * compact form the database keeps in memory.
 *
 * Lenient means: unknown fields are allowed and dropped, unknown enum values (a new range type,
 * a new severity type) are kept as strings, and only what matching needs is required — an id, a
 * modified time, and well-formed `affected` entries. A record that fails is skipped and counted
 * by the loader, never fatal.
 */
import { z } from 'zod';
import { goImportPlatforms, type GoImportPlatform } from './platform.ts';

const eventSchema = z
  .looseObject({
    introduced: z.string().min(1).optional(),
    fixed: z.string().min(1).optional(),
    last_affected: z.string().min(1).optional(),
    limit: z.string().min(1).optional(),
  })
  .refine(
    (e) =>
      [e.introduced, e.fixed, e.last_affected, e.limit].filter((x) => x !== undefined).length === 1,
    { message: 'an event has exactly one of introduced, fixed, last_affected, limit' },
  );

const rangeSchema = z.looseObject({
  type: z.string().min(1),
  repo: z.string().optional(),
  events: z.array(eventSchema).min(1),
});

const severitySchema = z.looseObject({
  type: z.string().min(1),
  score: z.string().min(1),
});

const packageSchema = z.looseObject({
  ecosystem: z.string().min(1),
  name: z.string().min(1),
  purl: z.string().optional(),
});

const specificSchema = z.record(z.string(), z.unknown()).optional();

const affectedSchema = z.looseObject({
  package: packageSchema.optional(),
  severity: z.array(severitySchema).optional(),
  ranges: z.array(rangeSchema).optional(),
  versions: z.array(z.string()).optional(),
  ecosystem_specific: specificSchema,
  database_specific: specificSchema,
});

const referenceSchema = z.looseObject({ type: z.string().optional(), url: z.string() });

export const osvRecordSchema = z.looseObject({
  schema_version: z.string().optional(),
  id: z.string().min(1).max(256),
  modified: z.string().min(1),
  published: z.string().optional(),
  withdrawn: z.string().optional(),
  aliases: z.array(z.string()).nullish(),
  related: z.array(z.string()).nullish(),
  upstream: z.array(z.string()).nullish(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(severitySchema).nullish(),
  affected: z.array(affectedSchema).nullish(),
  references: z.array(referenceSchema).nullish(),
  database_specific: specificSchema,
});

export type OsvRecord = z.infer<typeof osvRecordSchema>;

export type RangeEvent =
  | { kind: 'introduced'; version: string }
  | { kind: 'fixed'; version: string }
  | { kind: 'last_affected'; version: string }
  | { kind: 'limit'; version: string };

export interface Severity {
  /** `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, or a type a newer schema adds. */
  type: string;
  score: string;
}

export interface AffectedRange {
  /** `ECOSYSTEM`, `SEMVER`, `GIT`, or a type a newer schema adds. */
  type: string;
  events: RangeEvent[];
}

export interface AffectedPackage {
  /** As the record spells it: `Debian:12`, `Alpine:v3.20`, `PyPI`, ... */
  ecosystem: string;
  name: string;
  purl: string | undefined;
  ranges: AffectedRange[];
  versions: string[];
  severity: Severity[];
  /** A severity word from `ecosystem_specific` / `database_specific` (`HIGH`, `moderate`, ...). */
  databaseSeverity: string | undefined;
  /** Go records: the platform limits of the affected imports, when any import is limited. */
  goImports?: GoImportPlatform[] | undefined;
}

/** One OSV record as the database keeps it: what matching, scoring and reports need. */
export interface Advisory {
  id: string;
  aliases: string[];
  /** Ids this record was derived from (`DEBIAN-CVE-2024-6387` → `CVE-2024-6387`). */
  upstream: string[];
  modified: string;
  published: string | undefined;
  withdrawn: string | undefined;
  summary: string;
  details: string;
  severity: Severity[];
  databaseSeverity: string | undefined;
  references: string[];
  affected: AffectedPackage[];
}

/** One shared, frozen empty list: most records have no aliases, versions or package severities. */
const none = Object.freeze([]) as unknown as never[];
const orNone = <T>(xs: T[]): T[] => (xs.length === 0 ? none : xs);

/** Long free text is cut: findings carry a description, not a whole advisory. */
const maxDetails = 2000;
const maxReferences = 20;

function severityWord(...specifics: (Record<string, unknown> | undefined)[]): string | undefined {
  for (const s of specifics) {
    const v = s?.['severity'] ?? s?.['urgency'];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

function toEvent(e: z.infer<typeof eventSchema>): RangeEvent {
  if (e.introduced !== undefined) return { kind: 'introduced', version: e.introduced };
  if (e.fixed !== undefined) return { kind: 'fixed', version: e.fixed };
  if (e.last_affected !== undefined) return { kind: 'last_affected', version: e.last_affected };
  return { kind: 'limit', version: e.limit! };
}

export type ParseResult = { ok: true; advisory: Advisory } | { ok: false; error: string };

/** Validates one record and turns it into an {@link Advisory}; the error names the field. */
export function parseOsvRecord(input: unknown): ParseResult {
  const parsed = osvRecordSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const id =
      typeof input === 'object' &&
      input !== null &&
      typeof (input as { id?: unknown }).id === 'string'
        ? `${(input as { id: string }).id}: `
        : '';
    const where = issue === undefined || issue.path.length === 0 ? '' : `${issue.path.join('.')}: `;
    return { ok: false, error: `${id}${where}${issue?.message ?? 'invalid record'}` };
  }
  const r = parsed.data;
  const affected: AffectedPackage[] = [];
  for (const a of r.affected ?? []) {
    if (a.package === undefined) continue;
    affected.push({
      ecosystem: a.package.ecosystem,
      name: a.package.name,
      purl: a.package.purl,
      ranges: (a.ranges ?? []).map((range) => ({
        type: range.type,
        events: range.events.map(toEvent),
      })),
      versions: orNone(a.versions ?? none),
      severity: orNone((a.severity ?? none).map((s) => ({ type: s.type, score: s.score }))),
      databaseSeverity: severityWord(a.ecosystem_specific, a.database_specific),
      goImports: goImportPlatforms(a.ecosystem_specific),
    });
  }
  return {
    ok: true,
    advisory: {
      id: r.id,
      aliases: orNone([...new Set((r.aliases ?? none).filter((x) => x !== r.id))]),
      upstream: orNone([...new Set((r.upstream ?? none).filter((x) => x !== r.id))]),
      modified: r.modified,
      published: r.published,
      withdrawn: r.withdrawn,
      summary: r.summary ?? '',
      details: (r.details ?? '').slice(0, maxDetails),
      severity: orNone((r.severity ?? none).map((s) => ({ type: s.type, score: s.score }))),
      databaseSeverity: severityWord(r.database_specific),
      references: (r.references ?? []).slice(0, maxReferences).map((x) => x.url),
      affected,
    },
  };
}
