/**
 * The exposure-adjusted score of a vulnerability finding, as Inspector adjusts its score to the
 * environment: a vulnerability exploitable over the network (CVSS attack vector `AV:N`) in an
 * image that no workload exposes outside the cluster can only be reached by someone already in
 * the cluster network, which CVSS calls the adjacent attack vector (`AV:A`). The vector is
 * rewritten, scored again with the same calculator as base scores, and the change and its
 * reason are written in `inspectorScoreDetails`. An exposed image, or one whose exposure is not
 * known (no workload runs it), keeps its base score.
 */
import type { FindingStatus } from '../api/v1alpha1/finding.ts';
import { scoreCvss } from '../vulndb/scoring.ts';

export type Cvss = NonNullable<FindingStatus['cvss']>[number];
export type ScoreDetails = NonNullable<FindingStatus['inspectorScoreDetails']>;

/** What the cluster knows about who can reach the resource. */
export interface ExposureFacts {
  /** The workloads running it, each with the ways in from outside that reach it (empty: none). */
  workloads: readonly { id: string; exposures: readonly string[] }[];
}

export interface AdjustedScore {
  inspectorScore: number;
  inspectorScoreDetails: ScoreDetails;
}

const MAX_NAMED = 3;

const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

function named(items: readonly string[]): string {
  const shown = items.slice(0, MAX_NAMED).join(', ');
  return items.length > MAX_NAMED ? `${shown} and ${items.length - MAX_NAMED} more` : shown;
}

/**
 * The score the finding is ranked by: the one its inspectorScore already is, else the highest
 * base score, preferring CVSS 3.x.
 */
function chosen(cvss: readonly Cvss[], current: number | undefined): Cvss | undefined {
  const same = cvss.find((c) => c.baseScore === current);
  if (same !== undefined) return same;
  const v3 = cvss.filter((c) => c.version === '3.1' || c.version === '3.0');
  const pool = v3.length > 0 ? v3 : cvss;
  return [...pool].sort((a, b) => b.baseScore - a.baseScore)[0];
}

/**
 * The adjusted score of a finding with these CVSS scores, or undefined when it has none. With
 * no exposure facts (or no workload running the resource) the base score stands, unadjusted.
 */
export function adjustScore(
  cvss: readonly Cvss[] | undefined,
  exposure: ExposureFacts | undefined,
  current?: number,
): AdjustedScore | undefined {
  const base = chosen(cvss ?? [], current);
  if (base === undefined) return undefined;
  const unchanged = (): AdjustedScore => ({
    inspectorScore: base.baseScore,
    inspectorScoreDetails: {
      adjustedCvss: {
        scoreSource: base.source,
        version: base.version,
        score: base.baseScore,
        scoringVector: base.scoringVector,
        adjustments: [],
      },
    },
  });
  if (exposure === undefined || exposure.workloads.length === 0) return unchanged();
  if (!/(^|\/)\(?AV:N(\/|\)?$)/.test(base.scoringVector)) return unchanged();
  if (exposure.workloads.some((w) => w.exposures.length > 0)) return unchanged();
  const vector = base.scoringVector.replace(/(^|\/)(\(?)AV:N(?=\/|\)?$)/, '$1$2AV:A');
  const scored = scoreCvss(vector);
  if (!scored.ok) return unchanged();
  const ids = exposure.workloads.map((w) => w.id);
  return {
    inspectorScore: scored.score.baseScore,
    inspectorScoreDetails: {
      adjustedCvss: {
        scoreSource: base.source,
        version: base.version,
        score: scored.score.baseScore,
        scoringVector: vector,
        adjustments: [
          {
            metric: 'AV',
            reason: cut(
              `exploitable over the network, but no workload running it is reachable from outside the cluster (${named(ids)}): an attacker needs a foothold in the cluster network, so the attack vector is Adjacent`,
              512,
            ),
          },
        ],
      },
    },
  };
}
