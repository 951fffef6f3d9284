/**
 * CVSS scoring and severity. Vectors are validated strictly first — each metric known, allowed
 * values only, no metric twice, every base metric present — because the scoring library is
 * lenient (a vector missing base metrics would score 0). Valid vectors are scored by
 * ae-cvss-calculator; an invalid one is reported, never scored as 0.
 */
import cvss from 'ae-cvss-calculator';
import type { Advisory, AffectedPackage, Severity } from './osv.ts';

const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = cvss;

export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';

/** Inspector's severities. */
export type SeverityLevel = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'INFORMATIONAL' | 'UNTRIAGED';

export const severityOrder: readonly SeverityLevel[] = [
  'UNTRIAGED',
  'INFORMATIONAL',
  'LOW',
  'MEDIUM',
  'HIGH',
  'CRITICAL',
];

export function severityRank(s: SeverityLevel): number {
  return severityOrder.indexOf(s);
}

type MetricTable = Record<string, readonly string[]>;

const v3Base: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'R'],
  S: ['U', 'C'],
  C: ['N', 'L', 'H'],
  I: ['N', 'L', 'H'],
  A: ['N', 'L', 'H'],
};
const v3Other: MetricTable = {
  E: ['X', 'U', 'P', 'F', 'H'],
  RL: ['X', 'O', 'T', 'W', 'U'],
  RC: ['X', 'U', 'R', 'C'],
  CR: ['X', 'L', 'M', 'H'],
  IR: ['X', 'L', 'M', 'H'],
  AR: ['X', 'L', 'M', 'H'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'R'],
  MS: ['X', 'U', 'C'],
  MC: ['X', 'N', 'L', 'H'],
  MI: ['X', 'N', 'L', 'H'],
  MA: ['X', 'N', 'L', 'H'],
};
const v2Base: MetricTable = {
  AV: ['L', 'A', 'N'],
  AC: ['H', 'M', 'L'],
  Au: ['M', 'S', 'N'],
  C: ['N', 'P', 'C'],
  I: ['N', 'P', 'C'],
  A: ['N', 'P', 'C'],
};
const v2Other: MetricTable = {
  E: ['U', 'POC', 'F', 'H', 'ND'],
  RL: ['OF', 'TF', 'W', 'U', 'ND'],
  RC: ['UC', 'UR', 'C', 'ND'],
  CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
  TD: ['N', 'L', 'M', 'H', 'ND'],
  CR: ['L', 'M', 'H', 'ND'],
  IR: ['L', 'M', 'H', 'ND'],
  AR: ['L', 'M', 'H', 'ND'],
};
const v4Base: MetricTable = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  AT: ['N', 'P'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'],
  VI: ['H', 'L', 'N'],
  VA: ['H', 'L', 'N'],
  SC: ['H', 'L', 'N'],
  SI: ['H', 'L', 'N'],
  SA: ['H', 'L', 'N'],
};
const v4Other: MetricTable = {
  E: ['X', 'A', 'P', 'U'],
  CR: ['X', 'H', 'M', 'L'],
  IR: ['X', 'H', 'M', 'L'],
  AR: ['X', 'H', 'M', 'L'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MAT: ['X', 'N', 'P'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'P', 'A'],
  MVC: ['X', 'H', 'L', 'N'],
  MVI: ['X', 'H', 'L', 'N'],
  MVA: ['X', 'H', 'L', 'N'],
  MSC: ['X', 'H', 'L', 'N'],
  MSI: ['X', 'S', 'H', 'L', 'N'],
  MSA: ['X', 'S', 'H', 'L', 'N'],
  S: ['X', 'N', 'P'],
  AU: ['X', 'N', 'Y'],
  R: ['X', 'A', 'U', 'I'],
  V: ['X', 'D', 'C'],
  RE: ['X', 'L', 'M', 'H'],
  U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
};

export type VectorCheck = { ok: true; version: CvssVersion } | { ok: false; error: string };

function checkMetrics(parts: string[], base: MetricTable, other: MetricTable): string | undefined {
  const seen = new Set<string>();
  for (const part of parts) {
    const colon = part.indexOf(':');
    if (colon <= 0) return `"${part}" is not METRIC:VALUE`;
    const metric = part.slice(0, colon);
    const value = part.slice(colon + 1);
    const allowed = base[metric] ?? other[metric];
    if (allowed === undefined) return `unknown metric ${metric}`;
    if (!allowed.includes(value)) return `${metric}:${value} is not an allowed value`;
    if (seen.has(metric)) return `metric ${metric} appears twice`;
    seen.add(metric);
  }
  const missing = Object.keys(base).filter((m) => !seen.has(m));
  return missing.length > 0 ? `missing base metrics ${missing.join(', ')}` : undefined;
}

/** Strict validation of a CVSS vector of version 2.0, 3.0, 3.1 or 4.0. */
export function validateCvssVector(vector: string): VectorCheck {
  const v = vector.trim();
  if (v === '') return { ok: false, error: 'empty vector' };
  const m = /^CVSS:(\d\.\d)\/(.*)$/.exec(v);
  let version: CvssVersion;
  let body: string;
  let error: string | undefined;
  if (m === null) {
    // CVSS v2 vectors carry no prefix; some sources wrap them in parentheses.
    version = '2.0';
    body = v.replace(/^\((.*)\)$/, '$1');
    error = checkMetrics(body.split('/'), v2Base, v2Other);
  } else {
    body = m[2]!;
    switch (m[1]) {
      case '3.0':
      case '3.1':
        version = m[1];
        error = checkMetrics(body.split('/'), v3Base, v3Other);
        break;
      case '4.0':
        version = '4.0';
        error = checkMetrics(body.split('/'), v4Base, v4Other);
        break;
      default:
        return { ok: false, error: `unsupported CVSS version ${m[1]}` };
    }
  }
  return error === undefined
    ? { ok: true, version }
    : { ok: false, error: `CVSS:${version}: ${error}` };
}

export interface CvssScore {
  version: CvssVersion;
  vector: string;
  baseScore: number;
  severity: SeverityLevel;
}

export type ScoreResult =
  { ok: true; score: CvssScore } | { ok: false; vector: string; error: string };

const scoreCache = new Map<string, ScoreResult>();

/** Validates and scores one vector (results are memoised: databases repeat vectors a lot). */
export function scoreCvss(vector: string): ScoreResult {
  const hit = scoreCache.get(vector);
  if (hit !== undefined) return hit;
  const result = scoreUncached(vector);
  if (scoreCache.size >= 20_000) scoreCache.clear();
  scoreCache.set(vector, result);
  return result;
}

function scoreUncached(vector: string): ScoreResult {
  const check = validateCvssVector(vector);
  if (!check.ok) return { ok: false, vector, error: check.error };
  const v = vector.trim().replace(/^\((.*)\)$/, '$1');
  try {
    let base: number | undefined;
    switch (check.version) {
      case '2.0':
        base = new Cvss2(v).calculateScores().base;
        break;
      case '3.0':
        base = new Cvss3P0(v).calculateScores().base;
        break;
      case '3.1':
        base = new Cvss3P1(v).calculateScores().base;
        break;
      case '4.0':
        base = new Cvss4P0(v).calculateScores().base;
        break;
    }
    if (base === undefined || !Number.isFinite(base)) {
      return { ok: false, vector, error: 'the calculator returned no base score' };
    }
    return {
      ok: true,
      score: {
        version: check.version,
        vector: v,
        baseScore: base,
        severity: severityForScore(base),
      },
    };
  } catch (err) {
    return { ok: false, vector, error: err instanceof Error ? err.message : String(err) };
  }
}

/** CVSS qualitative scale as Inspector maps it: 0 → INFORMATIONAL, then LOW/MEDIUM/HIGH/CRITICAL. */
export function severityForScore(score: number): SeverityLevel {
  if (score >= 9.0) return 'CRITICAL';
  if (score >= 7.0) return 'HIGH';
  if (score >= 4.0) return 'MEDIUM';
  if (score >= 0.1) return 'LOW';
  return 'INFORMATIONAL';
}

/**
 * A database's own severity word (GitHub `MODERATE`, Ubuntu priorities, Debian urgencies, Red
 * Hat impacts) on Inspector's scale; `undefined` for words that say nothing (`unknown`, `not yet
 * assigned`).
 */
export function severityFromWord(word: string): SeverityLevel | undefined {
  const w = word.trim().toLowerCase().replace(/\*+$/, '');
  switch (w) {
    case 'critical':
      return 'CRITICAL';
    case 'high':
    case 'important':
      return 'HIGH';
    case 'medium':
    case 'moderate':
      return 'MEDIUM';
    case 'low':
      return 'LOW';
    case 'negligible':
    case 'unimportant':
    case 'none':
    case 'informational':
      return 'INFORMATIONAL';
    default:
      return undefined;
  }
}

/** Preference among vector versions when a record has several: 3.1, 3.0, 4.0, then 2.0. */
const versionPreference: readonly CvssVersion[] = ['3.1', '3.0', '4.0', '2.0'];

export interface Assessment {
  severity: SeverityLevel;
  /** The vector the severity comes from, when it comes from one. */
  cvss: CvssScore | undefined;
  /** Every valid vector of the record, scored. */
  scores: CvssScore[];
  /** Vectors that failed validation, with the reason. */
  invalidVectors: { vector: string; error: string }[];
  /** Where the severity comes from: `cvss`, `database`, or `none` (UNTRIAGED). */
  source: 'cvss' | 'database' | 'none';
}

function cvssEntries(severity: Severity[]): Severity[] {
  return severity.filter((s) => /^CVSS_V[234]$/.test(s.type));
}

/**
 * The severity of an advisory for one affected package: the preferred valid CVSS vector
 * (package-level vectors first, then record-level); else the database's own severity (the
 * Ubuntu severity type, or a `severity` word in database/ecosystem-specific data); else
 * UNTRIAGED.
 */
export function assess(advisory: Advisory, affected: AffectedPackage | undefined): Assessment {
  const entries = [...cvssEntries(affected?.severity ?? []), ...cvssEntries(advisory.severity)];
  const scores: CvssScore[] = [];
  const invalidVectors: { vector: string; error: string }[] = [];
  for (const e of entries) {
    const r = scoreCvss(e.score);
    if (r.ok) scores.push(r.score);
    else invalidVectors.push({ vector: r.vector, error: r.error });
  }
  for (const version of versionPreference) {
    const best = scores.find((s) => s.version === version);
    if (best !== undefined) {
      return { severity: best.severity, cvss: best, scores, invalidVectors, source: 'cvss' };
    }
  }
  const words = [
    ...(affected?.severity ?? []).filter((s) => !/^CVSS_V/.test(s.type)).map((s) => s.score),
    ...advisory.severity.filter((s) => !/^CVSS_V/.test(s.type)).map((s) => s.score),
    affected?.databaseSeverity,
    advisory.databaseSeverity,
  ];
  for (const w of words) {
    const level = w === undefined ? undefined : severityFromWord(w);
    if (level !== undefined) {
      return { severity: level, cvss: undefined, scores, invalidVectors, source: 'database' };
    }
  }
  return { severity: 'UNTRIAGED', cvss: undefined, scores, invalidVectors, source: 'none' };
}
