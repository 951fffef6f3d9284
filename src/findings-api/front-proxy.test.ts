import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateAuthority,
  createCa,
  issueCertificate,
  issueServingCertificate,
  type KeyPair,
  type ServingCertificate,
} from '../../hack/control-plane/pki.ts';
import {
  type CertificateCheck,
  checkClientCertificate,
  createFrontProxyServer,
  FrontProxyAuthenticator,
  parseRequestHeaderConfig,
  type RequestHeaderConfig,
  RequestHeaderConfigError,
  userFromHeaders,
  withAuthenticatedGroup,
} from './front-proxy.ts';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'ki-front-proxy-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const headerConfig = {
  usernameHeaders: ['X-Remote-User'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
  uidHeaders: ['X-Remote-Uid'],
};

function configMapData(caPem: string, allowedNames: string[]): Record<string, string> {
  return {
    'client-ca-file': caPem,
    'requestheader-client-ca-file': caPem,
    'requestheader-allowed-names': JSON.stringify(allowedNames),
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    'requestheader-uid-headers': '["X-Remote-Uid"]',
  };
}

describe('the extension-apiserver-authentication settings', () => {
  let caPem: string;
  beforeAll(async () => {
    const ca = await createCa(join(dir, 'parse'), 'ca', 'parse-ca');
    caPem = readFileSync(ca.cert, 'utf8');
  });

  it('reads the CA bundle, allowed names and header names kube-apiserver publishes', () => {
    const config = parseRequestHeaderConfig(configMapData(caPem + caPem, ['front-proxy-client']));
    expect(config.clientCas).toHaveLength(2);
    expect(config.allowedNames).toEqual(['front-proxy-client']);
    expect(config.usernameHeaders).toEqual(['X-Remote-User']);
    expect(config.groupHeaders).toEqual(['X-Remote-Group']);
    expect(config.extraHeaderPrefixes).toEqual(['X-Remote-Extra-']);
    expect(config.uidHeaders).toEqual(['X-Remote-Uid']);
  });

  it('treats absent or null lists as empty (any name the CA signed)', () => {
    const data = configMapData(caPem, []);
    data['requestheader-allowed-names'] = 'null';
    delete data['requestheader-uid-headers'];
    const config = parseRequestHeaderConfig(data);
    expect(config.allowedNames).toEqual([]);
    expect(config.uidHeaders).toEqual([]);
  });

  it.each([
    [
      'no request-header CA (aggregation not configured)',
      (d: Record<string, string>) => delete d['requestheader-client-ca-file'],
      /no requestheader-client-ca-file/,
    ],
    [
      'a CA that is not PEM',
      (d: Record<string, string>) => (d['requestheader-client-ca-file'] = 'hello'),
      /holds no certificate/,
    ],
    [
      'a list that is not JSON',
      (d: Record<string, string>) => (d['requestheader-allowed-names'] = 'front-proxy-client'),
      /requestheader-allowed-names is not a JSON list/,
    ],
    [
      'no username header',
      (d: Record<string, string>) => (d['requestheader-username-headers'] = '[]'),
      /no header would name the user/,
    ],
  ])('refuses %s with a message naming it', (_what, change, message) => {
    const data = configMapData(caPem, ['front-proxy-client']);
    change(data);
    expect(() => parseRequestHeaderConfig(data)).toThrow(RequestHeaderConfigError);
    expect(() => parseRequestHeaderConfig(data)).toThrow(message);
  });
});

describe('the user from the request headers', () => {
  it.each([
    [
      'takes the name, every group value in order and the uid',
      {
        'x-remote-user': ['alice'],
        'x-remote-group': ['dev', 'system:authenticated'],
        'x-remote-uid': ['42'],
      },
      { name: 'alice', uid: '42', groups: ['dev', 'system:authenticated'], extra: {} },
    ],
    [
      'lower-cases and percent-decodes extra keys, keeping every value',
      {
        'x-remote-user': ['bob'],
        'x-remote-extra-example.com%2fteam': ['a', 'b'],
        'x-remote-extra-scopes': ['view'],
      },
      { name: 'bob', groups: [], extra: { 'example.com/team': ['a', 'b'], scopes: ['view'] } },
    ],
    [
      'keeps a malformed escape as sent',
      { 'x-remote-user': ['bob'], 'x-remote-extra-bad%zz': ['1'] },
      { name: 'bob', groups: [], extra: { 'bad%zz': ['1'] } },
    ],
    [
      'skips empty group values',
      { 'x-remote-user': ['carol'], 'x-remote-group': ['', 'ops'] },
      { name: 'carol', groups: ['ops'], extra: {} },
    ],
  ])('%s', (_what, headers, user) => {
    expect(userFromHeaders(headers, headerConfig)).toEqual(user);
  });

  it('finds no user when no username header has a value', () => {
    expect(userFromHeaders({ 'x-remote-user': [''] }, headerConfig)).toBeUndefined();
    expect(userFromHeaders({ 'x-remote-group': ['system:masters'] }, headerConfig)).toBeUndefined();
  });

  it('uses the first username header that has a value', () => {
    const config = { ...headerConfig, usernameHeaders: ['X-Remote-User', 'X-Other-User'] };
    expect(userFromHeaders({ 'x-other-user': ['dave'] }, config)?.name).toBe('dave');
  });
});

/** The message of a refused check; fails the test when the check passed. */
function refusal(check: CertificateCheck): string {
  if (check.ok) throw new Error(`expected a refusal, got ${JSON.stringify(check)}`);
  return check.message;
}

describe('the system:authenticated group', () => {
  it.each([
    ['is added to an authenticated user', 'alice', ['dev'], ['dev', 'system:authenticated']],
    ['is added to a user named without groups', 'system:aggregator', [], ['system:authenticated']],
    ['is not repeated', 'alice', ['system:authenticated'], ['system:authenticated']],
    [
      'is not added to an unauthenticated group',
      'x',
      ['system:unauthenticated'],
      ['system:unauthenticated'],
    ],
    ['is not added to the anonymous user', 'system:anonymous', [], []],
  ])('%s', (_what, name, groups, expected) => {
    expect(withAuthenticatedGroup({ name, groups, extra: {} }).groups).toEqual(expected);
  });
});

describe('the client certificate check', () => {
  let frontProxyCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  const cert = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
  let config: Pick<RequestHeaderConfig, 'clientCas' | 'allowedNames'>;

  beforeAll(async () => {
    const d = join(dir, 'check');
    frontProxyCa = await createCa(d, 'front-proxy-ca', 'front-proxy-ca');
    otherCa = await createCa(d, 'other-ca', 'other-ca');
    config = { clientCas: [cert(frontProxyCa.cert)], allowedNames: ['front-proxy-client'] };
  });

  async function client(
    ca: CertificateAuthority,
    name: string,
    cn: string,
    usage: 'client' | 'server' = 'client',
  ) {
    return cert(
      (await issueCertificate(join(dir, 'check'), ca, name, { commonName: cn, usage })).cert,
    );
  }

  it('accepts the front-proxy client signed by the request-header CA', async () => {
    const leaf = await client(frontProxyCa, 'good', 'front-proxy-client');
    expect(checkClientCertificate([leaf], config)).toEqual({
      ok: true,
      commonName: 'front-proxy-client',
    });
  });

  it('refuses a certificate of another CA, even with the allowed name', async () => {
    const leaf = await client(otherCa, 'foreign', 'front-proxy-client');
    const check = checkClientCertificate([leaf], config);
    expect(refusal(check)).toMatch(/not signed by the request-header CA/);
  });

  it('refuses a name that is not allowed, and accepts any name when the list is empty', async () => {
    const leaf = await client(frontProxyCa, 'stranger', 'someone-else');
    expect(refusal(checkClientCertificate([leaf], config))).toMatch(
      /"someone-else" is not one of the allowed names/,
    );
    expect(checkClientCertificate([leaf], { ...config, allowedNames: [] })).toEqual({
      ok: true,
      commonName: 'someone-else',
    });
  });

  it('refuses a certificate that is not for client authentication', async () => {
    const leaf = await client(frontProxyCa, 'server-only', 'front-proxy-client', 'server');
    expect(refusal(checkClientCertificate([leaf], config))).toMatch(
      /not for client authentication/,
    );
  });

  it('refuses a certificate outside its validity period', async () => {
    const leaf = await client(frontProxyCa, 'dated', 'front-proxy-client');
    const later = new Date(leaf.validToDate.getTime() + 1000);
    expect(refusal(checkClientCertificate([leaf], config, later))).toMatch(/not valid now/);
  });

  it('refuses an empty chain', () => {
    expect(checkClientCertificate([], config)).toEqual({
      ok: false,
      message: 'no client certificate',
    });
  });
});

interface Answer {
  status: number;
  body: string;
}

function get(
  port: number,
  caPem: Buffer,
  client?: KeyPair,
  headers: Record<string, string> = {},
  agent: Agent | false = false,
): Promise<Answer & { reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: 'localhost',
        ca: caPem,
        headers,
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        agent,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the front-proxy HTTPS server', () => {
  let serving: ServingCertificate;
  let caA: CertificateAuthority;
  let caB: CertificateAuthority;
  let clientA: KeyPair;
  let clientB: KeyPair;
  const authenticator = new FrontProxyAuthenticator();
  let port: number;
  let stop: () => void;
  let reloads: () => number;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    const d = join(dir, 'server');
    serving = await issueServingCertificate(d, {
      name: 'findings',
      namespace: 'kube-inspector-system',
    });
    certFile = join(d, 'tls.crt');
    keyFile = join(d, 'tls.key');
    copyFileSync(serving.cert, certFile);
    copyFileSync(serving.key, keyFile);
    caA = await createCa(d, 'ca-a', 'front-proxy-ca-a');
    caB = await createCa(d, 'ca-b', 'front-proxy-ca-b');
    clientA = await issueCertificate(d, caA, 'client-a', {
      commonName: 'front-proxy-client',
      usage: 'client',
    });
    clientB = await issueCertificate(d, caB, 'client-b', {
      commonName: 'front-proxy-client',
      usage: 'client',
    });
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const result = authenticator.authenticate(req);
      res.writeHead(result.ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(result));
    };
    const created = createFrontProxyServer({
      authenticator,
      certFile,
      keyFile,
      handler,
      log,
      certPollMs: 50,
    });
    authenticator.update(
      parseRequestHeaderConfig(
        configMapData(readFileSync(caA.cert, 'utf8'), ['front-proxy-client']),
      ),
    );
    const fp = await created;
    stop = () => {
      fp.stop();
      fp.server.close();
    };
    reloads = () => fp.reloads;
    await new Promise<void>((r) => fp.server.listen(0, '127.0.0.1', r));
    port = (fp.server.address() as AddressInfo).port;
  });
  afterAll(() => stop());

  it('authenticates the front proxy and reads the user from its headers', async () => {
    const answer = await get(port, readFileSync(serving.caCert), clientA, {
      'X-Remote-User': 'alice',
      'X-Remote-Group': 'dev',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      ok: true,
      user: { name: 'alice', groups: ['dev', 'system:authenticated'], extra: {} },
    });
  });

  it('refuses a request without a client certificate with 401 and the reason', async () => {
    const answer = await get(port, readFileSync(serving.caCert), undefined, {
      'X-Remote-User': 'alice',
    });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatch(/no client certificate/);
  });

  it('checks a kept-alive connection again when the request-header CA changes', async () => {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      cert: readFileSync(clientA.cert),
      key: readFileSync(clientA.key),
    });
    const ask = () =>
      get(port, readFileSync(serving.caCert), clientA, { 'X-Remote-User': 'a' }, agent);
    const configA = authenticator.config!;
    try {
      expect((await ask()).status).toBe(200);
      const second = await ask();
      expect(second).toMatchObject({ status: 200, reusedSocket: true });
      authenticator.update(
        parseRequestHeaderConfig(
          configMapData(readFileSync(caB.cert, 'utf8'), ['front-proxy-client']),
        ),
      );
      const third = await ask();
      expect(third).toMatchObject({ status: 401, reusedSocket: true });
    } finally {
      authenticator.update(configA);
      agent.destroy();
    }
  });

  it('follows a CA rotation without a restart: the new CA is trusted, the old one no longer', async () => {
    expect(
      (await get(port, readFileSync(serving.caCert), clientB, { 'X-Remote-User': 'a' })).status,
    ).toBe(401);
    const before = reloads();
    authenticator.update(
      parseRequestHeaderConfig(
        configMapData(readFileSync(caB.cert, 'utf8'), ['front-proxy-client']),
      ),
    );
    expect(reloads()).toBe(before + 1);
    expect(
      (await get(port, readFileSync(serving.caCert), clientB, { 'X-Remote-User': 'a' })).status,
    ).toBe(200);
    const old = await get(port, readFileSync(serving.caCert), clientA, { 'X-Remote-User': 'a' });
    expect(old.status).toBe(401);
    expect(old.body).toMatch(/not signed by the request-header CA/);
  });

  it('serves a renewed certificate once its files change', async () => {
    const renewed = await issueServingCertificate(join(dir, 'renewed'), {
      name: 'findings',
      namespace: 'kube-inspector-system',
    });
    // The old serving CA does not trust the renewed certificate (it has a CA of its own).
    copyFileSync(renewed.key, keyFile);
    copyFileSync(renewed.cert, certFile);
    const deadline = Date.now() + 10_000;
    let answer: Answer | Error = new Error('not tried');
    while (Date.now() < deadline) {
      answer = await get(port, readFileSync(renewed.caCert), clientB, {
        'X-Remote-User': 'a',
      }).catch((e: Error) => e);
      if (!(answer instanceof Error)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(answer).toMatchObject({ status: 200 });
    await expect(
      get(port, readFileSync(serving.caCert), clientB, { 'X-Remote-User': 'a' }),
    ).rejects.toThrow();
  });
});
