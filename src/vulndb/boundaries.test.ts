import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { VulnDatabase } from './database.ts';
import { loadDirectory } from './loader.ts';
import { matchPackage } from './match.ts';
import { parseOsvRecord } from './osv.ts';

/**
 * Boundary cases generated from every fixture record: a package is affected at each
 * `introduced` and `last_affected` version and not affected (by that record) at each `fixed`
 * version of its ranges.
 */
const fixtures = join(import.meta.dirname, 'testdata', 'osv');

type Boundary = [string, string, string, string, boolean];

function boundaries(): Boundary[] {
  const out: Boundary[] = [];
  for (const e of readdirSync(fixtures, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.json')) continue;
    const parsed = JSON.parse(readFileSync(join(e.parentPath, e.name), 'utf8')) as unknown;
    const r = parseOsvRecord(parsed);
    if (!r.ok || r.advisory.withdrawn !== undefined) continue;
    for (const a of r.advisory.affected) {
      for (const range of a.ranges) {
        for (const ev of range.events) {
          if (ev.kind === 'introduced' && ev.version !== '0')
            out.push([r.advisory.id, a.ecosystem, a.name, ev.version, true]);
          if (ev.kind === 'last_affected')
            out.push([r.advisory.id, a.ecosystem, a.name, ev.version, true]);
          if (ev.kind === 'fixed')
            out.push([r.advisory.id, a.ecosystem, a.name, ev.version, false]);
        }
      }
      for (const v of a.versions) out.push([r.advisory.id, a.ecosystem, a.name, v, true]);
    }
  }
  return out;
}

let db: VulnDatabase;
beforeAll(async () => {
  db = await loadDirectory(fixtures);
});

const cases = boundaries();

describe('fixture boundaries', () => {
  it('cover every fixture record that has a range', () => {
    expect(cases.length).toBeGreaterThan(50);
  });

  it.each(cases)('%s: %s %s at %s is affected: %s', (id, ecosystem, name, version, affected) => {
    const findings = matchPackage(db, { ecosystem, name, version });
    const records = findings.flatMap((f) => f.records);
    expect(records.includes(id)).toBe(affected);
  });
});
