/**
 * The answer to a registry's 401: an Authorization header value from its challenge. Basic auth
 * when that is all it asks for; for a bearer challenge, a registry token from the credentials or
 * one fetched from the challenge's realm (the distribution token flow: GET with basic auth, or
 * the OAuth2 refresh-token POST when the credentials carry an identity token). The token
 * endpoint goes through the transport's retry loop like every other request.
 */
import { type Challenge, parseChallenges } from './auth.ts';
import type { RegistryCredential } from './credentials.ts';
import { RegistryError } from './errors.ts';
import { type HttpResponse, readCapped, timeoutSignal, type Transport } from './transport.ts';

export interface Authorization {
  value: string;
  /** When the value must be fetched again (ms since the epoch). */
  expiresAt: number;
}

export interface AuthorizeInput {
  registry: string;
  repository: string;
  /** The WWW-Authenticate header of the 401. */
  challenge: string | undefined;
  credential: RegistryCredential | undefined;
  /** True when the registry is reached over plain HTTP, so an HTTP realm is accepted too. */
  insecure: boolean;
  signal: AbortSignal | undefined;
}

const NEVER = Number.POSITIVE_INFINITY;

function basicValue(cred: RegistryCredential | undefined): string | undefined {
  return cred?.username !== undefined && cred.password !== undefined
    ? `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
    : undefined;
}

/** Works out an Authorization header value; undefined when we have nothing to offer. */
export async function authorize(
  transport: Transport,
  input: AuthorizeInput,
): Promise<Authorization | undefined> {
  const challenges = parseChallenges(input.challenge ?? '');
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  const basic = basicValue(input.credential);
  if (bearer === undefined) {
    const basicAsked = challenges.some((c) => c.scheme === 'basic');
    return basicAsked && basic !== undefined ? { value: basic, expiresAt: NEVER } : undefined;
  }
  if (input.credential?.registryToken !== undefined) {
    return { value: `Bearer ${input.credential.registryToken}`, expiresAt: NEVER };
  }
  const realm = realmOf(bearer, input);
  const started = Date.now();
  const what = `token endpoint ${realm.origin}`;
  const res = await transport.attempts(what, input.signal, () =>
    tokenRequest(transport, realm, bearer, input, basic),
  );
  if (res.status === 401 || res.status === 403) {
    await res.body.dump();
    throw new RegistryError('ACCESS_DENIED', `${what} refused the credentials`, {
      status: res.status,
    });
  }
  if (res.status !== 200) {
    await res.body.dump();
    throw new RegistryError('PROTOCOL', `${what}: HTTP ${res.status}`, { status: res.status });
  }
  const token = tokenOf(await readCapped(res, 1024 * 1024, 'token response'), what);
  // Renew a little early so a token never expires mid-request.
  return {
    value: `Bearer ${token.token}`,
    expiresAt: started + Math.max(1, token.expiresIn - 10) * 1000,
  };
}

/** The realm of a bearer challenge, which must be HTTPS unless the registry itself is not. */
function realmOf(bearer: Challenge, input: AuthorizeInput): URL {
  const realm = bearer.params.realm;
  if (realm === undefined) {
    throw new RegistryError('PROTOCOL', `${input.registry}: bearer challenge without a realm`);
  }
  let url: URL;
  try {
    url = new URL(realm);
  } catch (err) {
    throw new RegistryError('PROTOCOL', `${input.registry}: bearer realm "${realm}" is not a URL`, {
      cause: err,
    });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && input.insecure)) {
    throw new RegistryError(
      'PROTOCOL',
      `${input.registry}: token realm ${url.origin} is not HTTPS`,
    );
  }
  return url;
}

async function tokenRequest(
  transport: Transport,
  realm: URL,
  bearer: Challenge,
  input: AuthorizeInput,
  basic: string | undefined,
): Promise<HttpResponse> {
  const { userAgent, requestTimeoutMs } = transport.options;
  const scope = `repository:${input.repository}:pull`;
  const service = bearer.params.service;
  const signal = timeoutSignal(input.signal, requestTimeoutMs);
  const identityToken = input.credential?.identityToken;
  let res;
  if (identityToken !== undefined) {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: identityToken,
      client_id: userAgent,
      scope,
    });
    if (service !== undefined) form.set('service', service);
    res = await transport.request(realm, {
      signal,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
      body: form.toString(),
    });
  } else {
    const url = new URL(realm);
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': userAgent };
    if (basic !== undefined) headers.authorization = basic;
    res = await transport.request(url, { signal, method: 'GET', headers });
  }
  return res;
}

function tokenOf(bytes: Buffer, what: string): { token: string; expiresIn: number } {
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(bytes.toString('utf8')) as typeof body;
  } catch (err) {
    throw new RegistryError('PROTOCOL', `${what}: response is not JSON`, { cause: err });
  }
  const token =
    typeof body?.token === 'string'
      ? body.token
      : typeof body?.access_token === 'string'
        ? body.access_token
        : '';
  if (token === '') throw new RegistryError('PROTOCOL', `${what}: response has no token`);
  const expiresIn =
    typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
  return { token, expiresIn };
}
