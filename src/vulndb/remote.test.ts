import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteDatabase } from './remote.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'osv');
const lodash = readFileSync(join(fixtures, 'npm', 'GHSA-35jh-r3h4-6jhm.json'));
const log4j = readFileSync(join(fixtures, 'maven', 'GHSA-jfh8-c2jp-5v3q.json'));

interface Reply {
  status: number;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** A real HTTP server on 127.0.0.1 that answers from a queue and records the requests. */
async function serve(
  replies: Reply[],
): Promise<{ url: string; requests: IncomingMessage[]; server: Server }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    const reply = replies.shift() ?? { status: 500, body: 'no more replies' };
    const send = (): void => {
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
  return { url: `http://127.0.0.1:${port}/osv/all.zip`, requests, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('a database fetched over HTTP', () => {
  it('loads a zip, then sends the ETag and Last-Modified back and keeps the database on 304', async () => {
    const lastModified = 'Wed, 01 May 2024 00:00:00 GMT';
    const { url, requests } = await serve([
      {
        status: 200,
        body: zipSync({ 'a.json': lodash }),
        headers: { etag: '"v1"', 'last-modified': lastModified },
      },
      { status: 304 },
    ]);
    const remote = new RemoteDatabase({ url });
    expect(await remote.refresh()).toBe('updated');
    const first = remote.current;
    expect(first?.get('GHSA-35jh-r3h4-6jhm')).toBeDefined();
    expect(await remote.refresh()).toBe('not-modified');
    expect(remote.current).toBe(first);
    expect(requests[0]!.headers['if-none-match']).toBeUndefined();
    expect(requests[1]!.headers['if-none-match']).toBe('"v1"');
    expect(requests[1]!.headers['if-modified-since']).toBe(lastModified);
  });

  it('swaps in a new database whole when the content changes', async () => {
    const { url } = await serve([
      { status: 200, body: zipSync({ 'a.json': lodash }), headers: { etag: '"v1"' } },
      {
        status: 200,
        body: zipSync({ 'a.json': lodash, 'b.json': log4j }),
        headers: { etag: '"v2"' },
      },
    ]);
    const remote = new RemoteDatabase({ url });
    await remote.refresh();
    const first = remote.current!;
    expect(await remote.refresh()).toBe('updated');
    expect(remote.current).not.toBe(first);
    expect(remote.current!.size).toBe(2);
    expect(first.size).toBe(1);
    expect(remote.status.etag).toBe('"v2"');
  });

  it('keeps the last good database when a refresh fails, and says why', async () => {
    const { url } = await serve([
      { status: 200, body: lodash, headers: { 'content-type': 'application/json' } },
      { status: 503, body: 'busy' },
      { status: 200, body: 'PK\u0003\u0004garbage' },
      { status: 200, body: JSON.stringify([{ id: 'NO-MODIFIED' }]) },
    ]);
    const remote = new RemoteDatabase({ url });
    await remote.refresh();
    const good = remote.current;
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/HTTP 503/);
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/not a readable zip/);
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/no valid record among 1 malformed/);
    expect(remote.status.consecutiveFailures).toBe(3);
    expect(remote.current).toBe(good);
  });

  it('fails a request that takes longer than its timeout', async () => {
    const { url } = await serve([{ status: 200, body: lodash, delayMs: 2_000 }]);
    const remote = new RemoteDatabase({ url, timeoutMs: 100 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/timeout|aborted/i);
    expect(remote.current).toBeUndefined();
  });

  it('refuses a payload larger than the limit', async () => {
    const { url } = await serve([
      { status: 200, body: zipSync({ 'a.json': lodash, 'b.json': log4j }) },
    ]);
    const remote = new RemoteDatabase({ url, maxBytes: 100 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toMatch(/larger than the limit/);
  });

  it('fails when the server cannot be reached', async () => {
    const { url, server } = await serve([]);
    server.close();
    await once(server, 'close');
    const remote = new RemoteDatabase({ url, timeoutMs: 2_000 });
    expect(await remote.refresh()).toBe('failed');
    expect(remote.status.lastError).toBeDefined();
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
    const remote = new RemoteDatabase({ url, intervalMs: 50, onRefresh: (o) => outcomes.push(o) });
    expect(await remote.start()).toBe('updated');
    const deadline = Date.now() + 5_000;
    while (outcomes.length < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    remote.stop();
    const seen = requests.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(outcomes.slice(0, 3)).toEqual(['updated', 'not-modified', 'not-modified']);
    expect(requests.length).toBe(seen);
  });

  it('refuses a URL that is not HTTP(S)', () => {
    expect(() => new RemoteDatabase({ url: 'ftp://127.0.0.1/all.zip' })).toThrow(
      /unsupported URL scheme/,
    );
  });
});
