import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLockedError, acquireRunLock } from './lock.ts';

describe('the end-to-end run lock', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'e2e-lock-'));
    path = join(dir, 'e2e.lock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is taken once; a second taker is refused with a message naming the holder', async () => {
    const release = await acquireRunLock(path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    const second = acquireRunLock(path);
    await expect(second).rejects.toBeInstanceOf(RunLockedError);
    await expect(acquireRunLock(path)).rejects.toThrow(
      new RegExp(`another end-to-end run holds ${path}: pid ${process.pid}, started .* in `),
    );
    await release();
    expect(existsSync(path)).toBe(false);
    const again = await acquireRunLock(path);
    await again();
  });

  it('takes over the lock of a process that is gone, and an unreadable lock file', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    writeFileSync(path, JSON.stringify({ pid, started: 'then', cwd: '/elsewhere' }));
    const logged: string[] = [];
    const release = await acquireRunLock(path, (l) => logged.push(l));
    expect(logged).toEqual([`removing the stale lock of pid ${pid} (started then), which is gone`]);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    await release();

    writeFileSync(path, 'not json');
    const release2 = await acquireRunLock(path, (l) => logged.push(l));
    expect(logged.at(-1)).toBe(`removing the unreadable lock file ${path}`);
    await release2();
  });

  it('a release by a run that no longer holds the lock leaves the new holder’s lock alone', async () => {
    const release = await acquireRunLock(path);
    writeFileSync(path, JSON.stringify({ pid: 1, started: 'now', cwd: '/' }));
    await release();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: 1 });
  });
});
