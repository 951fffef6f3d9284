import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FINDINGS_API_VERSION } from '../api/v1alpha1/common.ts';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import type { StoredFinding } from '../findings-store/store.ts';
import { InputError } from './errors.ts';
import { runFindingsStore } from './findings-store-copy.ts';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'findings-copy-'));
  dirs.push(dir);
  return dir;
}

function finding(name: string): StoredFinding {
  return {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata: { namespace: 'kube-inspector-system', name },
    spec: { attributes: { team: 'payments' } },
    status: { severity: 'HIGH', status: 'SUPPRESSED', title: name },
  };
}

describe('kube-inspector findings-store copy', () => {
  it('copies a store into an empty one and says what it copied', async () => {
    const dir = temp();
    const source = new SqliteFindingStore({ path: join(dir, 'from.db') });
    await source.batch([
      { op: 'create', finding: finding('a') },
      { op: 'create', finding: finding('b') },
    ]);
    await source.close();
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const code = await runFindingsStore(
      ['copy', `sqlite:${join(dir, 'from.db')}`, `sqlite:${join(dir, 'to.db')}`],
      'kube-inspector',
    );
    expect(code).toBe(0);
    expect(out).toHaveBeenCalledWith(
      "copied 2 findings, 0 covered resources' last evaluations and 0 markers",
    );
    const target = new SqliteFindingStore({ path: join(dir, 'to.db') });
    const b = await target.get('kube-inspector-system', 'b');
    await target.close();
    expect(b?.spec).toEqual({ attributes: { team: 'payments' } });
    expect((b?.status as { status?: string }).status).toBe('SUPPRESSED');
  });

  it('names what is wrong with its arguments', async () => {
    const dir = temp();
    const run = (args: string[]) =>
      runFindingsStore(args, 'kube-inspector').then(
        () => undefined,
        (err: unknown) => err,
      );
    const missing = await run(['copy', `sqlite:${join(dir, 'none.db')}`, 'sqlite:x.db']);
    expect(missing).toBeInstanceOf(InputError);
    expect((missing as Error).message).toMatch(/FROM .*none\.db: no such file/);
    const scheme = await run(['copy', 'mysql://db', 'sqlite:x.db']);
    expect((scheme as Error).message).toMatch(
      /FROM "mysql:\/\/db" must be sqlite:PATH or postgres-url-file:FILE/,
    );
    expect(((await run(['move', 'a', 'b'])) as Error).message).toMatch(
      /expected: findings-store copy FROM TO/,
    );
    const noUrl = await run([
      'copy',
      'postgres-url-file:' + join(dir, 'absent'),
      `sqlite:${join(dir, 'to.db')}`,
    ]);
    expect(noUrl).toBeInstanceOf(InputError);
    expect((noUrl as Error).message).toMatch(/FROM --findings-postgres-url-file .*absent: ENOENT/);
  });
});
