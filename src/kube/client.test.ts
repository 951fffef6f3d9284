import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, isConflict, isGone, isNotFound, KubeClient } from './client.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

function configFor(server: string, token?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', ...(token ? { token } : {}) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

/** A loopback HTTP server answering with the handler's [status, headers, body]. */
async function serve(
  handler: (n: number, path: string) => [number, Record<string, string>, unknown],
): Promise<{ client: KubeClient; times: number[]; registry: Registry }> {
  const times: number[] = [];
  server = createServer((req, res) => {
    times.push(performance.now());
    const [status, headers, body] = handler(times.length, req.url ?? '');
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const kc = configFor(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    'secret-token',
  );
  const registry = new Registry();
  return { client: await KubeClient.create(kc, { registry, qps: 0 }), times, registry };
}

describe('the Kubernetes HTTP client', () => {
  it('waits for Retry-After when the API server answers 429, then succeeds', async () => {
    const { client, times } = await serve((n) =>
      n === 1
        ? [429, { 'retry-after': '1' }, { kind: 'Status', reason: 'TooManyRequests' }]
        : [200, {}, { ok: true }],
    );
    expect(await client.get<{ ok: boolean }>('/api/v1/namespaces')).toEqual({ ok: true });
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(990);
    await client.close();
  });

  it('gives up after the configured number of 429 retries with an ApiError carrying Retry-After', async () => {
    const { client } = await serve(() => [
      429,
      { 'retry-after': '0' },
      { reason: 'TooManyRequests', message: 'slow down' },
    ]);
    const limited = await KubeClient.create(configFor(client.server), {
      maxRetriesOn429: 0,
      qps: 0,
    });
    const err = await limited.get('/api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(429);
    expect((err as ApiError).retryAfterSeconds).toBe(0);
    expect((err as ApiError).message).toContain('slow down');
    await limited.close();
    await client.close();
  });

  it('turns error statuses into typed errors named by the Status reason', async () => {
    const codes = [404, 409, 410];
    const { client } = await serve((n) => [
      codes[n - 1]!,
      {},
      { kind: 'Status', reason: `R${codes[n - 1]}` },
    ]);
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await client.get('/x').catch((e: unknown) => e));
    expect(isNotFound(errors[0])).toBe(true);
    expect(isConflict(errors[1])).toBe(true);
    expect(isGone(errors[2])).toBe(true);
    expect((errors[2] as ApiError).reason).toBe('R410');
    await client.close();
  });

  it('sends the kubeconfig token and counts requests by code in rest_client_requests_total', async () => {
    let auth = '';
    const { client, registry } = await serve(() => [200, {}, {}]);
    server!.removeAllListeners('request');
    server!.on('request', (req, res) => {
      auth = req.headers.authorization ?? '';
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await client.get('/api');
    expect(auth).toBe('Bearer secret-token');
    expect(await registry.metrics()).toMatch(
      /rest_client_requests_total\{code="200",method="GET",host="127\.0\.0\.1:\d+"\} 1/,
    );
    await client.close();
  });

  it('spaces requests out by the client-side QPS once the burst is spent', async () => {
    const { client: unlimited, times } = await serve(() => [200, {}, {}]);
    const client = await KubeClient.create(configFor(unlimited.server), { qps: 10, burst: 2 });
    const started = performance.now();
    for (let i = 0; i < 5; i++) await client.get('/api');
    // Two go at once; the next three wait 100 ms each for a token (timers may fire 1 ms early).
    expect(times[4]! - started).toBeGreaterThanOrEqual(297);
    await client.close();
    await unlimited.close();
  });
});
