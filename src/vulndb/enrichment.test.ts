import { describe, expect, it } from 'vitest';
import { makeEnrichment, parseEpssCsv, parseKevJson } from './enrichment.ts';

describe('EPSS files', () => {
  it('are read with their comment and header lines skipped', () => {
    const { scores, skipped } = parseEpssCsv(
      '#model_version:v2023.03.01,score_date:2024-06-01T00:00:00+0000\n' +
        'cve,epss,percentile\n' +
        'CVE-2021-44228,0.97565,0.99995\n' +
        'CVE-2023-4911,0.01234,0.85\n' +
        'garbage\n' +
        'CVE-2020-0001,1.5,0.1\n',
    );
    expect(scores.get('CVE-2021-44228')).toBe(0.97565);
    expect(scores.get('CVE-2023-4911')).toBe(0.01234);
    expect(scores.size).toBe(2);
    expect(skipped).toBe(2);
  });
});

describe('known-exploited lists', () => {
  it('are read from the catalogue format', () => {
    const kev = parseKevJson(
      JSON.stringify({
        title: 'Known Exploited Vulnerabilities Catalog',
        vulnerabilities: [
          { cveID: 'CVE-2021-44228', vendorProject: 'Apache' },
          { cveID: 'CVE-2023-4911' },
        ],
      }),
    );
    expect([...kev]).toEqual(['CVE-2021-44228', 'CVE-2023-4911']);
  });

  it('are refused when the file is something else', () => {
    expect(() => parseKevJson('{"items": []}')).toThrow(/not a KEV catalogue/);
  });
});

describe('enrichment', () => {
  it('takes the highest EPSS among the ids and flags any known-exploited one', () => {
    const e = makeEnrichment({
      epss: new Map([
        ['CVE-1', 0.1],
        ['CVE-2', 0.4],
      ]),
      knownExploited: new Set(['CVE-2']),
    });
    expect(e.lookup(['GHSA-x', 'CVE-1', 'CVE-2'])).toEqual({ epss: 0.4, knownExploited: true });
    expect(e.lookup(['GHSA-x'])).toEqual({ epss: undefined, knownExploited: false });
  });
});
