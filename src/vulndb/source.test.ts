import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closedAfterTest } from './testing/source.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'osv');
const lodash = readFileSync(join(fixtures, 'npm', 'GHSA-35jh-r3h4-6jhm.json'));
const log4j = readFileSync(join(fixtures, 'maven', 'GHSA-jfh8-c2jp-5v3q.json'));
const scratch = mkdtempSync(join(tmpdir(), 'vulndb-source-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('a local database source', () => {
  it('reloads a directory only when its files change, and keeps the last good one', async () => {
    const dir = join(scratch, 'db');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), lodash);
    const source = closedAfterTest(dir);
    expect(await source.refresh()).toBe('updated');
    const first = source.current!;
    expect(first.size).toBe(1);
    expect(await source.refresh()).toBe('not-modified');
    expect(source.current).toBe(first);

    writeFileSync(join(dir, 'b.json'), log4j);
    expect(await source.refresh()).toBe('updated');
    expect(source.current!.size).toBe(2);

    rmSync(dir, { recursive: true });
    expect(await source.refresh()).toBe('failed');
    expect(source.status.lastError).toMatch(/ENOENT/);
    expect(source.current!.size).toBe(2);
  });

  it('tells its update listeners about every swap, and only about swaps', async () => {
    const dir = join(scratch, 'listened');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), lodash);
    const source = closedAfterTest(dir);
    const heard: number[] = [];
    const unsubscribe = source.onUpdate((db) => heard.push(db.size));
    await source.refresh();
    await source.refresh(); // not modified
    writeFileSync(join(dir, 'b.json'), log4j);
    await source.refresh();
    expect(heard).toEqual([1, 2]);
    unsubscribe();
    writeFileSync(join(dir, 'c.json'), lodash.toString().replace('GHSA-35jh-r3h4-6jhm', 'X-1'));
    expect(await source.refresh()).toBe('updated');
    expect(heard).toEqual([1, 2]);
  });

  it('reloads a zip or JSON file when it is replaced', async () => {
    const file = join(scratch, 'one.json');
    writeFileSync(file, lodash);
    const source = closedAfterTest(file);
    expect(await source.refresh()).toBe('updated');
    writeFileSync(
      file,
      JSON.stringify([JSON.parse(lodash.toString()), JSON.parse(log4j.toString())]),
    );
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(await source.refresh()).toBe('updated');
    expect(source.current!.size).toBe(2);
  });

  it('refuses a replacement in which no record is valid', async () => {
    const file = join(scratch, 'bad.json');
    writeFileSync(file, lodash);
    const source = closedAfterTest(file);
    await source.refresh();
    writeFileSync(file, JSON.stringify([{ id: 'NO-MODIFIED' }]));
    utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    expect(await source.refresh()).toBe('failed');
    expect(source.status.lastError).toMatch(/no valid record/);
    expect(source.current!.size).toBe(1);
  });
});

describe('a URL database source', () => {
  it('is served by the HTTP refresher behind the same interface', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { etag: '"x"' });
      res.end(lodash);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/db.json`;
      const outcomes: string[] = [];
      const source = closedAfterTest(url, {
        onRefresh: (o, s) => outcomes.push(`${o} ${s.source}`),
      });
      expect(await source.refresh()).toBe('updated');
      expect(source.current!.size).toBe(1);
      expect(source.status.source).toBe(url);
      expect(outcomes).toEqual([`updated ${url}`]);
    } finally {
      server.close();
    }
  });
});
