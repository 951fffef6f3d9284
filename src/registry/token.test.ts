// The bearer token flow against an in-process registry front on loopback: the 401 challenge,
// the token endpoint with basic credentials, retries of the token endpoint through the
// transport's loop, and refusals.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from './client.ts';
import { parseDockerConfig } from './credentials.ts';
import { RegistryError } from './errors.ts';
import { parseReference } from './reference.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('the bearer token flow', () => {
  let server: Server;
  let host = '';
  const seen: string[] = [];
  let tokenFailures = 0;

  function answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${host}`);
    seen.push(`${req.method} ${url.pathname} ${req.headers.authorization ?? '-'}`);
    if (url.pathname === '/token') {
      if (tokenFailures > 0) {
        tokenFailures--;
        res.writeHead(503, { 'retry-after': '0' }).end();
        return;
      }
      const good = `Basic ${Buffer.from('reader:secret').toString('base64')}`;
      if (req.headers.authorization !== good) {
        res.writeHead(401).end();
        return;
      }
      expect(url.searchParams.get('scope')).toBe('repository:team/app:pull');
      expect(url.searchParams.get('service')).toBe('test-registry');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'issued', expires_in: 300 }));
      return;
    }
    if (req.headers.authorization !== 'Bearer issued') {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:team/app:pull"`,
      });
      res.end();
      return;
    }
    res.writeHead(200, { 'docker-content-digest': DIGEST }).end();
  }

  function client(password: string): RegistryClient {
    const config = JSON.stringify({
      auths: { [host]: { auth: Buffer.from(`reader:${password}`).toString('base64') } },
    });
    return new RegistryClient({
      insecureRegistries: [host],
      credentials: [parseDockerConfig(config)],
      backoffBaseMs: 1,
      retries: 2,
    });
  }

  beforeAll(async () => {
    server = createServer(answer);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers the challenge with a token fetched with the credentials, then reuses it', async () => {
    seen.length = 0;
    const c = client('secret');
    try {
      const ref = parseReference(`${host}/team/app:v1`);
      expect(await c.currentDigest(ref)).toBe(DIGEST);
      expect(await c.currentDigest(ref)).toBe(DIGEST);
    } finally {
      await c.close();
    }
    const basic = `Basic ${Buffer.from('reader:secret').toString('base64')}`;
    expect(seen).toEqual([
      'HEAD /v2/team/app/manifests/v1 -',
      `GET /token ${basic}`,
      'HEAD /v2/team/app/manifests/v1 Bearer issued',
      'HEAD /v2/team/app/manifests/v1 Bearer issued',
    ]);
  });

  it('retries a token endpoint answering 503, as every other request', async () => {
    seen.length = 0;
    tokenFailures = 2;
    const c = client('secret');
    try {
      expect(await c.currentDigest(parseReference(`${host}/team/app:v1`))).toBe(DIGEST);
    } finally {
      await c.close();
    }
    expect(seen.filter((s) => s.startsWith('GET /token'))).toHaveLength(3);
  });

  it('gives up on a token endpoint that stays unavailable, naming it', async () => {
    tokenFailures = 10;
    const c = client('secret');
    try {
      const err = await failure(c.currentDigest(parseReference(`${host}/team/app:v1`)));
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).code).toBe('UNAVAILABLE');
      expect((err as RegistryError).message).toBe(
        `token endpoint http://${host}: HTTP 503 after 3 attempts`,
      );
    } finally {
      tokenFailures = 0;
      await c.close();
    }
  });

  it('is ACCESS_DENIED when the token endpoint refuses the credentials', async () => {
    const c = client('wrong');
    try {
      const err = await failure(c.currentDigest(parseReference(`${host}/team/app:v1`)));
      expect((err as RegistryError).code).toBe('ACCESS_DENIED');
      expect((err as RegistryError).message).toBe(
        `token endpoint http://${host} refused the credentials`,
      );
    } finally {
      await c.close();
    }
  });
});
