/**
 * Optional enrichment: EPSS scores (FIRST's CSV: `cve,epss,percentile`, with a `#model_version`
 * comment line first) and a known-exploited list (CISA KEV JSON: `vulnerabilities[].cveID`).
 */

export interface Enrichment {
  /** The highest EPSS score among the ids, and whether any of them is known to be exploited. */
  lookup(ids: readonly string[]): { epss: number | undefined; knownExploited: boolean };
}

export interface EnrichmentData {
  epss: Map<string, number>;
  knownExploited: Set<string>;
}

/** Parses an EPSS CSV; rows that are not `CVE-…,<0..1>` are skipped and counted. */
export function parseEpssCsv(text: string): { scores: Map<string, number>; skipped: number } {
  const scores = new Map<string, number>();
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || /^cve,/i.test(line)) continue;
    const [cve, score] = line.split(',');
    const n = Number(score);
    if (
      cve === undefined ||
      !/^CVE-\d{4}-\d+$/.test(cve) ||
      !Number.isFinite(n) ||
      n < 0 ||
      n > 1
    ) {
      skipped++;
      continue;
    }
    scores.set(cve, n);
  }
  return { scores, skipped };
}

/** Parses a KEV catalogue; throws when it is not one. */
export function parseKevJson(text: string): Set<string> {
  const doc = JSON.parse(text) as { vulnerabilities?: unknown };
  if (!Array.isArray(doc.vulnerabilities))
    throw new Error('not a KEV catalogue: no "vulnerabilities" array');
  const out = new Set<string>();
  for (const v of doc.vulnerabilities as unknown[]) {
    const id = (v as { cveID?: unknown } | null)?.cveID;
    if (typeof id === 'string') out.add(id);
  }
  return out;
}

export function makeEnrichment(data: Partial<EnrichmentData>): Enrichment {
  const epss = data.epss ?? new Map<string, number>();
  const kev = data.knownExploited ?? new Set<string>();
  return {
    lookup(ids) {
      let best: number | undefined;
      let known = false;
      for (const id of ids) {
        const s = epss.get(id);
        if (s !== undefined && (best === undefined || s > best)) best = s;
        if (kev.has(id)) known = true;
      }
      return { epss: best, knownExploited: known };
    },
  };
}
