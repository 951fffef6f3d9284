import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { zipSync } from 'fflate';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { INDEX_FORMAT, type IndexReader } from './advisory-index.ts';
import { loadDirectory } from './loader.ts';
import { matchPackages } from './match.ts';
import { AdvisoryStore, INDEX_FILE, type StoreOptions } from './store.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'osv');
const lodash = readFileSync(join(fixtures, 'npm', 'GHSA-35jh-r3h4-6jhm.json'));
const log4j = readFileSync(join(fixtures, 'maven', 'GHSA-jfh8-c2jp-5v3q.json'));
const scratch = mkdtempSync(join(tmpdir(), 'vulndb-store-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dirs = 0;
const stores: AdvisoryStore[] = [];
function store(options: Omit<StoreOptions, 'dir'> & { dir?: string }): AdvisoryStore {
  const s = new AdvisoryStore({ dir: join(scratch, `index-${++dirs}`), ...options });
  stores.push(s);
  return s;
}

interface Reply {
  status: number;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Declares this many more bytes than the body has, then closes the connection. */
  cutShort?: number;
}

/**
 * A real HTTP server on 127.0.0.1: `/osv/all.zip` answers from a queue; other paths from
 * `files` (404 when absent). Records every request.
 */
async function serve(
  replies: Reply[],
  files: Map<string, Reply> = new Map(),
): Promise<{
  url: string;
  requests: IncomingMessage[];
  server: Server;
  files: Map<string, Reply>;
}> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    const path = req.url ?? '';
    const reply =
      path === '/osv/all.zip'
        ? (replies.shift() ?? { status: 500, body: 'no more replies' })
        : (files.get(path) ?? { status: 404, body: 'not found' });
    const send = (): void => {
      if (reply.cutShort !== undefined) {
        const body = Buffer.from(reply.body ?? '');
        res.writeHead(reply.status, { 'content-length': String(body.length + reply.cutShort) });
        res.write(body);
        setTimeout(() => res.socket?.destroy(), 50).unref();
        return;
      }
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    };
    if (reply.delayMs === undefined) send();
    else setTimeout(send, reply.delayMs).unref();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/osv/all.zip`, requests, server, files };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const s of stores.splice(0)) s.close();
});

const paths = (requests: IncomingMessage[]): string[] => requests.map((r) => r.url ?? '');

describe('an index fed over HTTP', () => {
  it('loads a zip, then sends the ETag and Last-Modified back and keeps the index on 304', async () => {
    const lastModified = 'Wed, 01 May 2024 00:00:00 GMT';
    const { url, requests } = await serve([
      {
        status: 200,
        body: zipSync({ 'a.json': lodash }),
        headers: { etag: '"v1"', 'last-modified': lastModified },
      },
      { status: 304 },
    ]);
    const remote = store({ sources: [url] });
    expect(await remote.refresh()).toBe('updated');
    const first = remote.current;
    expect(first?.get('GHSA-35jh-r3h4-6jhm')).toBeDefined();
    expect(await remote.refresh()).toBe('not-modified');
    expect(remote.current).toBe(first);
    const zips = requests.filter((r) => r.url === '/osv/all.zip');
    expect(zips[0]!.headers['if-none-match']).toBeUndefined();
    expect(zips[1]!.headers['if-none-match']).toBe('"v1"');
    expect(zips[1]!.headers['if-modified-since']).toBe(lastModified);
  });

  it('swaps in a new index whole when the content changes; a reader of the old one keeps reading it', async () => {
    const { url } = await serve([
      { status: 200, body: zipSync({ 'a.json': lodash }), headers: { etag: '"v1"' } },
      {
        status: 200,
        body: zipSync({ 'a.json': lodash, 'b.json': log4j }),
        headers: { etag: '"v2"' },
      },
    ]);
    const remote = store({ sources: [url] });
    await remote.refresh();
    const first = remote.current!;
    expect(await remote.refresh()).toBe('updated');
    expect(remote.current).not.toBe(first);
    expect(remote.current!.size).toBe(2);
    expect(first.size).toBe(1);
    // The old file was replaced by a rename; its reader still answers from it.
    expect(first.lookup('npm', 'lodash')).toHaveLength(1);
    expect(first.lookup('Maven', 'org.apache.logging.log4j:log4j-core')).toHaveLength(0);
    expect(remote.current!.lookup('Maven', 'org.apache.logging.log4j:log4j-core')).toHaveLength(1);
    expect((remote.current as IndexReader).sources[0]!.validators.etag).toBe('"v2"');
  });

  it('keeps the last good index when a refresh fails, and says why', async () => {
    const { url } = await serve([
      { status: 200, body: lodash, headers: { 'content-type': 'application/json' } },
      { status: 503, body: 'busy' },
      { status: 200, body: 'PK\u0003\u0004garbage' },
      { status: 200, body: JSON.stringify([{ id: 'NO-MODIFIED' }]) },
      { status: 200, body: zipSync({ 'a.json': lodash, 'b.json': log4j }), cutShort: 5_000 },
    ]);
    const remote = store({ sources: [url] });
    await remote.refresh();
    const good = remote.current;
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/HTTP 503/);
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/not a readable zip/);
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/no valid record among 1 malformed/);
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/truncated|interrupted/);
    expect(remote.status.consecutiveFailures).toBe(4);
    expect(remote.status.sources[0]!.consecutiveFailures).toBe(4);
    expect(remote.current).toBe(good);
    expect(remote.current!.size).toBe(1);
    // Nothing of the failed downloads or builds is left next to the index.
    expect(readdirSync(remote.dir).sort()).toEqual([INDEX_FILE, 'status.json']);
  });

  it('fails a request that takes longer than its timeout', async () => {
    const { url } = await serve([{ status: 200, body: lodash, delayMs: 2_000 }]);
    const remote = store({ sources: [url], timeoutMs: 100 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/timeout|aborted/i);
    expect(remote.current).toBeUndefined();
  });

  it('refuses a payload larger than the limit', async () => {
    const { url } = await serve([
      { status: 200, body: zipSync({ 'a.json': lodash, 'b.json': log4j }) },
    ]);
    const remote = store({ sources: [url], maxDownloadBytes: 100 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/larger than the limit/);
  });

  it('fails when the server cannot be reached', async () => {
    const { url, server } = await serve([]);
    server.close();
    await once(server, 'close');
    const remote = store({ sources: [url], timeoutMs: 2_000 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it('refreshes on its interval until stopped', async () => {
    const { url, requests } = await serve([
      { status: 200, body: lodash, headers: { etag: '"v1"' } },
      { status: 304 },
      { status: 304 },
      { status: 304 },
      { status: 304 },
    ]);
    const outcomes: string[] = [];
    const remote = store({ sources: [url], intervalMs: 50, onRefresh: (o) => outcomes.push(o) });
    expect(await remote.start()).toBe('updated');
    const deadline = Date.now() + 5_000;
    while (outcomes.length < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    remote.stop();
    await new Promise((r) => setTimeout(r, 100));
    const seen = requests.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(outcomes.slice(0, 3)).toEqual(['updated', 'not-modified', 'not-modified']);
    expect(requests.length).toBe(seen);
  });

  it('refuses a URL that is not HTTP(S)', () => {
    expect(() => store({ sources: ['ftp://127.0.0.1/all.zip'] })).toThrow(/unsupported URL scheme/);
  });
});

/** OSV's change list: `<modified>,<id>` lines, newest first. */
const csv = (rows: [string, string][]): string => rows.map(([m, id]) => `${m},${id}\n`).join('');

function record(id: string, modified: string, name: string, fixed: string): string {
  return JSON.stringify({
    id,
    modified,
    summary: `${id} in ${name}`,
    affected: [
      {
        package: { ecosystem: 'npm', name },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }],
      },
    ],
  });
}

describe('an index fed by an export with a change list', () => {
  it('fetches only the changed records, drops the removed ones, and asks nothing when the list is unchanged', async () => {
    const a1 = record('GHSA-aaaa-0001', '2024-01-01T00:00:00Z', 'left-pad', '1.1.0');
    const b = record('GHSA-bbbb-0002', '2024-01-02T00:00:00Z', 'right-pad', '2.0.0');
    const a2 = record('GHSA-aaaa-0001', '2024-03-01T00:00:00Z', 'left-pad', '1.2.0');
    const c = record('GHSA-cccc-0003', '2024-03-02T00:00:00Z', 'mid-pad', '3.0.0');
    const files = new Map<string, Reply>([
      [
        '/osv/modified_id.csv',
        {
          status: 200,
          body: csv([
            ['2024-01-02T00:00:00Z', 'GHSA-bbbb-0002'],
            ['2024-01-01T00:00:00Z', 'GHSA-aaaa-0001'],
          ]),
          headers: { etag: '"list-1"' },
        },
      ],
    ]);
    const { url, requests } = await serve(
      [{ status: 200, body: zipSync({ 'a.json': Buffer.from(a1), 'b.json': Buffer.from(b) }) }],
      files,
    );
    const s = store({ sources: [url] });
    expect(await s.refresh()).toBe('updated');
    expect(s.current!.size).toBe(2);

    // A changed, C new, B unchanged.
    files.set('/osv/modified_id.csv', {
      status: 200,
      body: csv([
        ['2024-03-02T00:00:00Z', 'GHSA-cccc-0003'],
        ['2024-03-01T00:00:00Z', 'GHSA-aaaa-0001'],
        ['2024-01-02T00:00:00Z', 'GHSA-bbbb-0002'],
      ]),
      headers: { etag: '"list-2"' },
    });
    files.set('/osv/GHSA-aaaa-0001.json', { status: 200, body: a2 });
    files.set('/osv/GHSA-cccc-0003.json', { status: 200, body: c });
    const before = requests.length;
    expect(await s.refresh()).toBe('updated');
    expect(paths(requests.slice(before)).sort()).toEqual([
      '/osv/GHSA-aaaa-0001.json',
      '/osv/GHSA-cccc-0003.json',
      '/osv/modified_id.csv',
    ]);
    const db = s.current!;
    expect(db.size).toBe(3);
    const pad = matchPackages(db, [{ ecosystem: 'npm', name: 'left-pad', version: '1.1.5' }]);
    expect(pad.findings.map((f) => [f.id, f.fixedVersion])).toEqual([['GHSA-aaaa-0001', '1.2.0']]);
    expect((db as IndexReader).sources[0]!.stats.mode).toBe('incremental');

    // The list is unchanged (304 on its ETag): nothing else is asked.
    files.set('/osv/modified_id.csv', { status: 304 });
    const quiet = requests.length;
    expect(await s.refresh()).toBe('not-modified');
    expect(paths(requests.slice(quiet))).toEqual(['/osv/modified_id.csv']);
    expect(requests.at(-1)!.headers['if-none-match']).toBe('"list-2"');

    // B leaves the list: it leaves the index.
    files.set('/osv/modified_id.csv', {
      status: 200,
      body: csv([
        ['2024-03-02T00:00:00Z', 'GHSA-cccc-0003'],
        ['2024-03-01T00:00:00Z', 'GHSA-aaaa-0001'],
      ]),
      headers: { etag: '"list-3"' },
    });
    expect(await s.refresh()).toBe('updated');
    expect(s.current!.size).toBe(2);
    expect(s.current!.get('GHSA-bbbb-0002')).toBeUndefined();
    expect(s.current!.lookup('npm', 'right-pad')).toHaveLength(0);
  });

  it('downloads the whole export when the change list is not there', async () => {
    const { url, requests } = await serve([
      { status: 200, body: zipSync({ 'a.json': lodash }), headers: { etag: '"v1"' } },
      {
        status: 200,
        body: zipSync({ 'a.json': lodash, 'b.json': log4j }),
        headers: { etag: '"v2"' },
      },
    ]);
    const s = store({ sources: [url] });
    await s.refresh();
    expect(await s.refresh()).toBe('updated');
    expect(paths(requests)).toEqual(['/osv/all.zip', '/osv/modified_id.csv', '/osv/all.zip']);
    expect(s.current!.size).toBe(2);
  });
});

describe('an index of several sources', () => {
  it('keeps the last good records of a source that fails and loads the others', async () => {
    const dir = join(scratch, 'two-sources');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), lodash);
    const zip = join(scratch, 'two-sources.zip');
    writeFileSync(zip, zipSync({ 'b.json': log4j }));
    const s = store({ sources: [dir, zip] });
    expect(await s.refresh()).toBe('updated');
    expect(s.current!.size).toBe(2);

    // The zip is corrupted, the directory gains a record.
    writeFileSync(zip, Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(64, 7)]));
    utimesSync(zip, new Date(), new Date(Date.now() + 5_000));
    const pypi = readFileSync(join(fixtures, 'pypi', 'PYSEC-2023-74.json'));
    writeFileSync(join(dir, 'c.json'), pypi);
    expect(await s.refresh()).toBe('updated');
    const db = s.current!;
    expect(db.size).toBe(3);
    expect(db.lookup('Maven', 'org.apache.logging.log4j:log4j-core')).toHaveLength(1);
    expect(s.status.sources[0]!.lastError).toBeUndefined();
    expect(s.status.sources[1]!.lastError).toMatch(/not a readable zip/);
    expect(s.status.sources[1]!.consecutiveFailures).toBe(1);
    expect(s.status.lastError).toBeUndefined();

    // A new store on the same directory serves the index at once and knows the last error.
    const again = new AdvisoryStore({ dir: s.dir, sources: [dir, zip] });
    stores.push(again);
    expect(await again.open()).toBe(true);
    expect(again.current!.size).toBe(3);
    expect(again.status.sources[1]!.lastError).toMatch(/not a readable zip/);
  });

  it('matches the same findings as the in-memory database built from the same records', async () => {
    const s = store({ sources: [fixtures] });
    await s.refresh();
    const memory = await loadDirectory(fixtures);
    const packages = [
      { ecosystem: 'npm', name: 'lodash', version: '4.17.15' },
      { ecosystem: 'Debian:12', name: 'libc6', version: '2.36-9+deb12u1', source: 'glibc' },
      { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1' },
      { ecosystem: 'PyPI', name: 'requests', version: '2.30.0' },
      { ecosystem: 'Go', name: 'golang.org/x/net', version: 'v0.7.0' },
      { ecosystem: 'Alpine:v3.20', name: 'openssl', version: '3.3.0-r0' },
    ];
    const onDisk = matchPackages(s.current!, packages);
    const inMemory = matchPackages(memory, packages);
    expect(onDisk.findings.length).toBeGreaterThan(3);
    expect(onDisk).toEqual(inMemory);
    expect(s.current!.stats.byEcosystem).toEqual(memory.stats.byEcosystem);
    expect(s.current!.stats.malformed).toBe(memory.stats.malformed);
    expect(s.current!.stats.withdrawn).toBe(memory.stats.withdrawn);
  });

  it('matches the same findings with caches far smaller than the lookups, and gives whole advisories by id', async () => {
    const s = store({ sources: [fixtures], reader: { cacheEntries: 1, cacheAdvisories: 1 } });
    await s.refresh();
    const memory = await loadDirectory(fixtures);
    const packages = [
      { ecosystem: 'npm', name: 'lodash', version: '4.17.15' },
      { ecosystem: 'Debian:12', name: 'libc6', version: '2.36-9+deb12u1', source: 'glibc' },
      { ecosystem: 'Debian:12', name: 'openssh-server', version: '1:9.2p1-2', source: 'openssh' },
      { ecosystem: 'Go', name: 'golang.org/x/net', version: 'v0.7.0' },
      { ecosystem: 'npm', name: 'lodash', version: '4.17.20' },
    ];
    const inMemory = matchPackages(memory, packages);
    expect(inMemory.findings.length).toBeGreaterThan(3);
    for (let run = 0; run < 2; run++) expect(matchPackages(s.current!, packages)).toEqual(inMemory);
    const id = 'GHSA-35jh-r3h4-6jhm';
    const whole = s.current!.get(id)!;
    const expected = memory.get(id)!;
    expect(whole.affected).toEqual(expected.affected);
    expect(whole.references).toEqual(expected.references);
    expect(whole.summary).toBe(expected.summary);
    expect(s.current!.get('GHSA-none-none-none')).toBeUndefined();
  });
});

describe('an index of an older format', () => {
  it('is not served, and the next refresh rebuilds it in the current format', async () => {
    const dir = join(scratch, 'old-format');
    const first = store({ dir, sources: [fixtures] });
    expect(await first.refresh()).toBe('updated');
    first.close();
    // What a release writing the previous format left on the volume.
    const db = new DatabaseSync(join(dir, INDEX_FILE));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'format'").run(String(INDEX_FORMAT - 1));
    db.close();

    const s = store({ dir, sources: [fixtures] });
    expect(await s.open()).toBe(false);
    expect(s.status.lastError).toMatch(
      new RegExp(`index format ${INDEX_FORMAT - 1}, expected ${INDEX_FORMAT}`),
    );
    expect(await s.refresh()).toBe('updated');
    expect(s.current!.lookup('npm', 'lodash')).toHaveLength(2);
    const again = new DatabaseSync(join(dir, INDEX_FILE), { readOnly: true });
    const format = again.prepare("SELECT value FROM meta WHERE key = 'format'").get() as {
      value: string;
    };
    again.close();
    expect(format.value).toBe(String(INDEX_FORMAT));
  });
});

describe('versions lists in the index', () => {
  it('match as in memory: equal versions spelled differently, bounds, and versions the order cannot read', async () => {
    const dir = join(scratch, 'versions-lists');
    mkdirSync(dir);
    const record = (id: string, ecosystem: string, name: string, versions: string[]): string =>
      JSON.stringify({
        id,
        modified: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem, name }, versions }],
      });
    writeFileSync(join(dir, 'a.json'), record('PYSEC-1', 'PyPI', 'spam', ['1.0', '2.0.0', '1.5']));
    writeFileSync(join(dir, 'b.json'), record('GHSA-1', 'npm', 'eggs', ['1.0.0', 'latest']));
    writeFileSync(join(dir, 'c.json'), record('RUSTSEC-1', 'crates.io', 'ham', ['0.2.0', '0.1.0']));
    const s = store({ sources: [dir] });
    await s.refresh();
    const memory = await loadDirectory(dir);
    const packages = [
      // equal to 2.0.0 in PEP 440 order, the list's highest version
      { ecosystem: 'PyPI', name: 'spam', version: '2.0' },
      { ecosystem: 'PyPI', name: 'spam', version: '1.0.0' },
      { ecosystem: 'PyPI', name: 'spam', version: '1.2' },
      { ecosystem: 'PyPI', name: 'spam', version: '0.9' },
      { ecosystem: 'PyPI', name: 'spam', version: '2.0.1' },
      // the list holds a version SemVer cannot read: it is compared as a string
      { ecosystem: 'npm', name: 'eggs', version: 'latest' },
      { ecosystem: 'npm', name: 'eggs', version: '1.0.0' },
      { ecosystem: 'npm', name: 'eggs', version: '2.0.0' },
      { ecosystem: 'crates.io', name: 'ham', version: '0.1.0' },
      { ecosystem: 'crates.io', name: 'ham', version: '0.3.0' },
    ];
    const inMemory = matchPackages(memory, packages);
    const matched = (r: typeof inMemory): string[] =>
      r.findings.map((f) => `${f.id} ${f.package.name} ${f.installedVersion}`).sort();
    expect(matched(inMemory)).toEqual([
      'GHSA-1 eggs 1.0.0',
      'GHSA-1 eggs latest',
      'PYSEC-1 spam 1.0.0',
      'PYSEC-1 spam 2.0',
      'RUSTSEC-1 ham 0.1.0',
    ]);
    expect(matchPackages(s.current!, packages)).toEqual(inMemory);
    expect(s.current!.get('PYSEC-1')!.affected[0]!.versions).toEqual(['1.0', '2.0.0', '1.5']);
  });
});

describe('an index that cannot be written', () => {
  it('keeps serving the last good index when the new one does not fit, and says why', async () => {
    const dir = join(scratch, 'growing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), lodash);
    const s = store({ sources: [dir], maxIndexBytes: 256 * 1024 });
    expect(await s.refresh()).toBe('updated');
    const good = s.current!;
    // Enough distinct records that the next index needs more than 256 KiB.
    const big = JSON.parse(log4j.toString()) as { id: string; details: string };
    for (let i = 0; i < 400; i++) {
      big.id = `GHSA-fill-${i}`;
      big.details = `${i} `.repeat(300);
      writeFileSync(
        join(dir, `fill-${i}.json`),
        JSON.stringify({ ...big, summary: `${i}`.repeat(200) }),
      );
    }
    expect(await s.refresh()).toBe('failed');
    expect(s.status.lastError).toMatch(/could not be written.*full/);
    expect(s.current).toBe(good);
    expect(good.lookup('npm', 'lodash')).toHaveLength(1);
    expect(readdirSync(s.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(s.dir, INDEX_FILE))).toBe(true);
  });
});
