// The vulnerability database on a cluster object: the controller writes the default
// ScanConfiguration's status.vulnerabilityDatabase (sources, records per ecosystem, the error of
// a source it cannot read) under its own field manager, next to the coverage controller's
// fields, and again after a refresh that changes it.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VulnerabilityDatabaseStatus } from '../../src/api/v1alpha1/scan-configuration.ts';
import { AdvisoryStore } from '../../src/vulndb/store.ts';
import { root } from './agent-support.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

describe('the vulnerability database status on the ScanConfiguration', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let database: AdvisoryStore;
  const scratch = mkdtempSync(join(tmpdir(), 'ki-vulndb-status-'));
  const advisories = join(scratch, 'osv');
  // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
  const unreachable = 'http://127.0.0.1:9/osv/npm/all.zip';

  beforeAll(async () => {
    env = await startProductEnvironment();
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    cpSync(join(root, 'src', 'vulndb', 'testdata', 'osv'), advisories, { recursive: true });
    database = new AdvisoryStore({
      dir: join(scratch, 'index'),
      sources: [advisories, unreachable],
      timeoutMs: 5_000,
    });
    expect(await database.refresh()).toBe('updated');
    controller = await startController(env, { database });
  }, 900_000);

  afterAll(async () => {
    await controller?.stop();
    database?.close();
    await env?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const status = async (): Promise<{
    db: VulnerabilityDatabaseStatus | undefined;
    managers: string[];
    conditions: unknown[];
  }> => {
    const sc = JSON.parse(
      await env.kubectl(
        'get',
        'scanconfiguration',
        'default',
        '-o',
        'json',
        '--show-managed-fields',
      ),
    ) as {
      status?: { vulnerabilityDatabase?: VulnerabilityDatabaseStatus; conditions?: unknown[] };
      metadata: { managedFields?: { manager: string; subresource?: string }[] };
    };
    return {
      db: sc.status?.vulnerabilityDatabase,
      managers: (sc.metadata.managedFields ?? [])
        .filter((m) => m.subresource === 'status')
        .map((m) => m.manager)
        .sort(),
      conditions: sc.status?.conditions ?? [],
    };
  };

  it('shows the sources, records per ecosystem and why a source cannot be read', async () => {
    const seen = await eventually(
      'status.vulnerabilityDatabase and the coverage conditions',
      async () => {
        const s = await status();
        return s.db?.loaded === true && s.conditions.length > 0 ? s : undefined;
      },
    );
    expect(seen.db).toMatchObject({ loaded: true, records: 31, malformedRecords: 2 });
    expect(seen.db!.indexBytes).toBeGreaterThan(0);
    expect(seen.db!.ecosystems).toContainEqual({ ecosystem: 'Debian:12', records: 6 });
    expect(seen.db!.sources).toHaveLength(2);
    expect(seen.db!.sources![0]).toMatchObject({
      source: advisories,
      records: 31,
      consecutiveFailures: 0,
    });
    expect(seen.db!.sources![0]!.lastError).toBeUndefined();
    expect(seen.db!.sources![1]).toMatchObject({ source: unreachable, consecutiveFailures: 1 });
    expect(seen.db!.sources![1]!.lastError).toMatch(/ECONNREFUSED|fetch failed/);
    // Two managers of the status: coverage (conditions, statistics) and the database's own.
    expect(seen.managers).toEqual(['kube-inspector', 'kube-inspector-vulndb']);
  });

  it('follows a refresh that changes the database', async () => {
    const lodash = JSON.parse(
      readFileSync(join(advisories, 'npm', 'GHSA-35jh-r3h4-6jhm.json'), 'utf8'),
    ) as { id: string };
    writeFileSync(
      join(advisories, 'npm', 'extra.json'),
      JSON.stringify({ ...lodash, id: 'GHSA-test-extra-0001' }),
    );
    expect(await database.refresh()).toBe('updated');
    const after = await eventually('32 records in the status', async () => {
      const s = await status();
      return s.db?.records === 32 ? s : undefined;
    });
    expect(after.db!.ecosystems).toContainEqual({ ecosystem: 'npm', records: 5 });
    expect(after.db!.sources![1]!.consecutiveFailures).toBe(2);
  });
});
