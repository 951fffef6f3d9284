import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VulnerabilityDatabaseStatusSchema } from '../../api/v1alpha1/scan-configuration.ts';
import { AdvisoryStore } from '../../vulndb/store.ts';
import { databaseStatus } from './status.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'vulndb', 'testdata', 'osv');
const scratch = mkdtempSync(join(tmpdir(), 'vulndb-status-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the vulnerability database status of the ScanConfiguration', () => {
  it('says no database is loaded when none is configured', () => {
    expect(databaseStatus(undefined)).toEqual({ loaded: false });
  });

  it('shows the sources, records per ecosystem and the error of a source that failed, and validates', async () => {
    const dir = join(scratch, 'debian');
    mkdirSync(dir);
    for (const f of ['DSA-5514-1.json', 'DEBIAN-CVE-2024-3094.json']) {
      writeFileSync(join(dir, f), readFileSync(join(fixtures, 'debian', f)));
    }
    const missing = join(scratch, 'not-mounted');
    const now = new Date('2026-01-02T03:04:05.000Z');
    const store = new AdvisoryStore({
      dir: join(scratch, 'index'),
      sources: [dir, missing],
      now: () => now,
    });
    try {
      expect(await store.refresh()).toBe('updated');
      const status = databaseStatus(store);
      expect(VulnerabilityDatabaseStatusSchema.parse(status)).toEqual(status);
      expect(status).toMatchObject({
        loaded: true,
        records: 2,
        malformedRecords: 0,
        lastRefreshTime: '2026-01-02T03:04:05.000Z',
      });
      // Records per ecosystem, sorted, as the index counts them .
      expect(status.ecosystems).toEqual(
        Object.entries(store.current!.stats.byEcosystem)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([ecosystem, records]) => ({ ecosystem, records })),
      );
      expect(status.ecosystems!.length).toBeGreaterThan(0);
      expect(status.indexBytes).toBeGreaterThan(0);
      expect(status.lastError).toBeUndefined();
      expect(status.sources).toEqual([
        {
          source: dir,
          records: 2,
          loadedAt: '2026-01-02T03:04:05.000Z',
          lastCheckTime: '2026-01-02T03:04:05.000Z',
          lastSuccessTime: '2026-01-02T03:04:05.000Z',
          consecutiveFailures: 0,
        },
        {
          source: missing,
          lastCheckTime: '2026-01-02T03:04:05.000Z',
          lastError: expect.stringMatching(/ENOENT/) as unknown,
          consecutiveFailures: 1,
        },
      ]);
      // Unchanged state, unchanged value: the controller's apply then writes nothing.
      expect(databaseStatus(store)).toEqual(status);
    } finally {
      store.close();
    }
  });
});
