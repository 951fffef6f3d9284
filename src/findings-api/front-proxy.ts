// Authentication of requests proxied by kube-apiserver (the aggregation layer's
// "front proxy"), as k8s.io/apiserver's request-header authenticator does it:
// the TLS client certificate must chain to the request-header CA and carry an
// allowed common name; the user, groups, extras and uid are then read from the
// headers kube-apiserver names. Both the CA and the header names come from
// ConfigMap kube-system/extension-apiserver-authentication, which is followed
// so a CA rotation needs no restart; the HTTPS server made by
// createFrontProxyServer trusts the current CA and re-reads its serving
// certificate when the files change.
import { X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { IncomingMessage, RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createSecureContext, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { Cache } from '../kube/cache.ts';
import type { KubeClient } from '../kube/client.ts';
import { Reflector } from '../kube/reflector.ts';
import { core, type KubeObject } from '../kube/resources.ts';
import type { AuthenticationResult, Authenticator, UserInfo } from './auth-types.ts';

/** Where kube-apiserver publishes its request-header (front proxy) settings. */
export const authenticationConfigMap = {
  namespace: 'kube-system',
  name: 'extension-apiserver-authentication',
} as const;

/** The request-header settings of kube-apiserver (its --requestheader-* flags). */
export interface RequestHeaderConfig {
  /** PEM bundle of the CAs that may sign the front-proxy client certificate. */
  clientCaPem: string;
  clientCas: X509Certificate[];
  /** Common names allowed on the client certificate; empty means any name the CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
  uidHeaders: string[];
}

/** A ConfigMap's data cannot be used for front-proxy authentication. */
export class RequestHeaderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestHeaderConfigError';
  }
}

/** Splits a PEM bundle into certificates; throws when it holds none or one is malformed. */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new RequestHeaderConfigError('the CA bundle holds no certificate');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new RequestHeaderConfigError(
        `certificate ${i + 1} of the CA bundle cannot be parsed: ${(err as Error).message}`,
      );
    }
  });
}

/** The ConfigMap stores each list as a JSON array of strings ("null" or absent: empty). */
function stringList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw.trim() === '' || raw.trim() === 'null') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new RequestHeaderConfigError(`${key} is not a JSON list: ${raw.slice(0, 100)}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) {
    throw new RequestHeaderConfigError(`${key} is not a list of strings: ${raw.slice(0, 100)}`);
  }
  return parsed;
}

/**
 * Reads the request-header settings from the data of extension-apiserver-authentication.
 * Throws RequestHeaderConfigError when kube-apiserver publishes no request-header CA (the
 * aggregation layer is not configured) or a value is malformed.
 */
export function parseRequestHeaderConfig(
  data: Record<string, string> | undefined,
): RequestHeaderConfig {
  const d = data ?? {};
  const clientCaPem = d['requestheader-client-ca-file'];
  if (clientCaPem === undefined || clientCaPem.trim() === '') {
    throw new RequestHeaderConfigError(
      `${authenticationConfigMap.namespace}/${authenticationConfigMap.name} has no requestheader-client-ca-file: ` +
        'kube-apiserver runs without --requestheader-client-ca-file, so it cannot proxy to aggregated API servers',
    );
  }
  const config: RequestHeaderConfig = {
    clientCaPem,
    clientCas: parseCertificateBundle(clientCaPem),
    allowedNames: stringList(d, 'requestheader-allowed-names'),
    usernameHeaders: stringList(d, 'requestheader-username-headers'),
    groupHeaders: stringList(d, 'requestheader-group-headers'),
    extraHeaderPrefixes: stringList(d, 'requestheader-extra-headers-prefix'),
    uidHeaders: stringList(d, 'requestheader-uid-headers'),
  };
  if (config.usernameHeaders.length === 0) {
    throw new RequestHeaderConfigError(
      'requestheader-username-headers is empty: no header would name the user',
    );
  }
  return config;
}

const clientAuthOid = '1.3.6.1.5.5.7.3.2';
const anyExtendedKeyUsageOid = '2.5.29.37.0';

/** The first CN of a certificate's subject. */
export function commonName(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) return line.slice(3);
  }
  return undefined;
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return (
    cert.validFromDate.getTime() <= now.getTime() && now.getTime() <= cert.validToDate.getTime()
  );
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

export type CertificateCheck = { ok: true; commonName: string } | { ok: false; message: string };

/**
 * Checks a client certificate chain (leaf first, then any intermediates the client sent) the
 * way Go's x509 verification does for the request-header authenticator: a path of valid
 * signatures from the leaf to one of the CAs, every certificate on it valid now, the leaf usable
 * for client authentication, and its common name among the allowed names (when any are set).
 */
export function checkClientCertificate(
  chain: X509Certificate[],
  config: Pick<RequestHeaderConfig, 'clientCas' | 'allowedNames'>,
  now: Date = new Date(),
): CertificateCheck {
  const leaf = chain[0];
  if (leaf === undefined) return { ok: false, message: 'no client certificate' };
  if (!validAt(leaf, now)) {
    return {
      ok: false,
      message: `client certificate ${JSON.stringify(leaf.subject)} is not valid now (valid ${leaf.validFrom} to ${leaf.validTo})`,
    };
  }
  const usages = leaf.keyUsage;
  if (
    usages !== undefined &&
    !usages.includes(clientAuthOid) &&
    !usages.includes(anyExtendedKeyUsageOid)
  ) {
    return { ok: false, message: 'client certificate is not for client authentication' };
  }
  const intermediates = chain.slice(1).filter((c) => c.ca);
  let current = leaf;
  const visited = new Set<string>([leaf.fingerprint256]);
  let verified = false;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    if (config.clientCas.some((ca) => validAt(ca, now) && signedBy(current, ca))) {
      verified = true;
      break;
    }
    const next = intermediates.find(
      (c) => !visited.has(c.fingerprint256) && validAt(c, now) && signedBy(current, c),
    );
    if (next === undefined) break;
    visited.add(next.fingerprint256);
    current = next;
  }
  if (!verified) {
    return {
      ok: false,
      message: `client certificate ${JSON.stringify(leaf.subject)} is not signed by the request-header CA`,
    };
  }
  const cn = commonName(leaf) ?? '';
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(cn)) {
    return {
      ok: false,
      message: `client certificate common name ${JSON.stringify(cn)} is not one of the allowed names ${JSON.stringify(config.allowedNames)}`,
    };
  }
  return { ok: true, commonName: cn };
}

/** Header values by lower-cased name, each repeated header a separate value (as Go's http.Header). */
export type HeaderValues = Record<string, string[] | undefined>;

function firstValue(headers: HeaderValues, names: string[]): string {
  for (const name of names) {
    const v = headers[name.toLowerCase()]?.[0];
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

function allValues(headers: HeaderValues, names: string[]): string[] {
  const out: string[] = [];
  for (const name of names) {
    for (const v of headers[name.toLowerCase()] ?? []) if (v !== '') out.push(v);
  }
  return out;
}

function unescapeExtraKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    // Go's url.PathUnescape fails on a malformed escape; the key is then kept as sent.
    return encoded;
  }
}

/**
 * The user named by the request headers, or undefined when no username header has a value.
 * Groups are every value of every group header; extras come from headers starting with a prefix
 * (case-insensitive), keyed by the rest of the name lower-cased and percent-decoded.
 */
export function userFromHeaders(
  headers: HeaderValues,
  config: Pick<
    RequestHeaderConfig,
    'usernameHeaders' | 'groupHeaders' | 'extraHeaderPrefixes' | 'uidHeaders'
  >,
): UserInfo | undefined {
  const name = firstValue(headers, config.usernameHeaders);
  if (name === '') return undefined;
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes) {
    const p = prefix.toLowerCase();
    for (const [header, values] of Object.entries(headers)) {
      if (!header.startsWith(p) || values === undefined) continue;
      const key = unescapeExtraKey(header.slice(p.length).toLowerCase());
      (extra[key] ??= []).push(...values);
    }
  }
  const user: UserInfo = { name, groups: allValues(headers, config.groupHeaders), extra };
  const uid = firstValue(headers, config.uidHeaders);
  if (uid !== '') user.uid = uid;
  return user;
}

/** The certificates a TLS client presented, leaf first. */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) return [];
  const chain = [leaf];
  const seen = new Set([leaf.fingerprint256]);
  let detailed: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  for (let i = 0; i < 10 && detailed !== undefined; i++) {
    const issuer: DetailedPeerCertificate | undefined = detailed.issuerCertificate;
    if (issuer === undefined || issuer === detailed || issuer.raw === undefined) break;
    const cert = new X509Certificate(issuer.raw);
    if (seen.has(cert.fingerprint256)) break;
    seen.add(cert.fingerprint256);
    chain.push(cert);
    detailed = issuer;
  }
  return chain;
}

export interface FrontProxyAuthenticatorOptions {
  /** Settings to start with (tests, or a file); otherwise follow() loads them. */
  config?: RequestHeaderConfig;
  now?: () => Date;
}

/** The Authenticator for requests kube-apiserver proxies to the findings API. */
export class FrontProxyAuthenticator implements Authenticator {
  private current: RequestHeaderConfig | undefined;
  private configError = 'the front-proxy settings have not been loaded yet';
  private readonly listeners = new Set<(config: RequestHeaderConfig) => void>();
  private readonly now: () => Date;
  private readyWaiters: (() => void)[] = [];
  /** Connections whose client certificate passed, under which settings, until when (ms). */
  private readonly verifiedSockets = new WeakMap<
    object,
    { config: RequestHeaderConfig; until: number }
  >();

  constructor(options: FrontProxyAuthenticatorOptions = {}) {
    this.current = options.config;
    this.now = options.now ?? (() => new Date());
  }

  /** The settings in use, or undefined before they are loaded. */
  get config(): RequestHeaderConfig | undefined {
    return this.current;
  }

  /** Replaces the settings (a changed ConfigMap) and tells the listeners. */
  update(config: RequestHeaderConfig): void {
    this.current = config;
    for (const listener of this.listeners) listener(config);
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  /** Calls listener with every new setting (the server's TLS context follows the CA). */
  onChange(listener: (config: RequestHeaderConfig) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once settings are loaded. */
  ready(signal?: AbortSignal): Promise<RequestHeaderConfig> {
    const loaded = this.current;
    if (loaded !== undefined) return Promise.resolve(loaded);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      this.readyWaiters.push(() => resolve(this.current as RequestHeaderConfig));
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  }

  /**
   * Follows kube-system/extension-apiserver-authentication with a reflector until the signal
   * is aborted. A ConfigMap that cannot be used leaves the previous settings in place (and is
   * logged); before any usable one arrives every request is refused.
   */
  follow(client: KubeClient, log: Logger, signal: AbortSignal): Reflector<KubeObject> {
    const cache = new Cache<KubeObject>(log);
    const apply = (obj: KubeObject): void => {
      try {
        this.update(parseRequestHeaderConfig(obj.data as Record<string, string> | undefined));
        log.info(
          { resourceVersion: obj.metadata.resourceVersion },
          'front-proxy settings loaded from kube-system/extension-apiserver-authentication',
        );
      } catch (err) {
        this.configError = (err as Error).message;
        log.error({ err }, 'front-proxy settings not usable; keeping the previous ones');
      }
    };
    cache.addHandlers({ add: apply, update: (_old, obj) => apply(obj) });
    const reflector = new Reflector<KubeObject>({
      client,
      resource: core.configMaps,
      namespace: authenticationConfigMap.namespace,
      fieldSelector: `metadata.name=${authenticationConfigMap.name}`,
      cache,
      log,
    });
    void reflector.run(signal);
    return reflector;
  }

  authenticate(req: IncomingMessage): AuthenticationResult {
    const config = this.current;
    if (config === undefined) return { ok: false, message: this.configError };
    const socket = req.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerX509Certificate !== 'function') {
      return { ok: false, message: 'not a TLS connection' };
    }
    const now = this.now();
    const known = this.verifiedSockets.get(req.socket);
    if (known === undefined || known.config !== config || now.getTime() >= known.until) {
      const chain = peerChain(req.socket as TLSSocket);
      if (chain.length === 0) {
        return {
          ok: false,
          message:
            'no client certificate: only kube-apiserver (its front-proxy client certificate) may call this server',
        };
      }
      const check = checkClientCertificate(chain, config, now);
      if (!check.ok) return check;
      // The certificate of a connection cannot change: later requests on it (kube-apiserver keeps
      // its connections open) skip the signature checks until the settings or the dates change.
      const until = Math.min(
        ...chain.map((c) => c.validToDate.getTime()),
        ...config.clientCas.map((c) => c.validToDate.getTime()),
      );
      this.verifiedSockets.set(req.socket, { config, until });
    }
    const user = userFromHeaders(req.headersDistinct, config);
    if (user === undefined) {
      return {
        ok: false,
        message: `no user in the request headers ${JSON.stringify(config.usernameHeaders)}`,
      };
    }
    return { ok: true, user: withAuthenticatedGroup(user) };
  }
}

/**
 * Adds `system:authenticated` to an authenticated user's groups unless it is anonymous or already
 * in that or `system:unauthenticated`, as k8s.io/apiserver's delegating authenticator does: RBAC's
 * discovery roles are bound to that group, and kube-apiserver's own OpenAPI and discovery
 * fetches name a user without groups.
 */
export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.name === 'system:anonymous') return user;
  if (user.groups.some((g) => g === 'system:authenticated' || g === 'system:unauthenticated')) {
    return user;
  }
  return { ...user, groups: [...user.groups, 'system:authenticated'] };
}

export interface FrontProxyServerOptions {
  authenticator: FrontProxyAuthenticator;
  /** The serving certificate and key (PEM files); re-read when either changes. */
  certFile: string;
  keyFile: string;
  handler: RequestListener;
  log: Logger;
  /** How often the certificate files are checked for changes. Default 5 s. */
  certPollMs?: number;
}

export interface FrontProxyServer {
  server: Server;
  /** Times the TLS context was replaced (serving certificate or client CA changed). */
  readonly reloads: number;
  /** Stops following the files and the settings (does not close the server). */
  stop(): void;
}

/**
 * An HTTPS server that asks every client for a certificate and trusts the current request-header
 * CA for it (so kube-apiserver's Go client sends its front-proxy certificate), serving the given
 * certificate. The handler must still call the authenticator: the TLS layer accepts any
 * certificate or none, so the refusal is an HTTP 401 with a reason rather than a failed handshake.
 */
export async function createFrontProxyServer(
  options: FrontProxyServerOptions,
  signal?: AbortSignal,
): Promise<FrontProxyServer> {
  const { authenticator, certFile, keyFile, log } = options;
  let config = await authenticator.ready(signal);
  let serving = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  const contextOptions = () => ({
    cert: serving.cert,
    key: serving.key,
    ca: config.clientCaPem,
    minVersion: 'TLSv1.2' as const,
  });
  const server = createServer(
    { ...contextOptions(), requestCert: true, rejectUnauthorized: false },
    options.handler,
  );
  let reloads = 0;
  const apply = (why: string): void => {
    try {
      const next = contextOptions();
      createSecureContext(next); // throws on a key that does not match the certificate
      server.setSecureContext(next);
      reloads++;
      log.info({ why }, 'TLS context replaced');
    } catch (err) {
      log.error({ err, why }, 'TLS context not replaced; keeping the previous one');
    }
  };
  const removeListener = authenticator.onChange((next) => {
    if (next.clientCaPem === config.clientCaPem) return;
    config = next;
    apply('request-header CA changed');
  });
  const onFileChange = (): void => {
    let next: typeof serving;
    try {
      next = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    } catch (err) {
      log.error({ err }, 'serving certificate not readable; keeping the previous one');
      return;
    }
    if (next.cert.equals(serving.cert) && next.key.equals(serving.key)) return;
    const previous = serving;
    serving = next;
    try {
      createSecureContext({ cert: next.cert, key: next.key });
    } catch {
      // The pair is half-written (certificate and key are replaced one after the other): wait
      // for the other file.
      serving = previous;
      return;
    }
    apply('serving certificate changed');
  };
  const interval = options.certPollMs ?? 5000;
  watchFile(certFile, { interval, persistent: false }, onFileChange);
  watchFile(keyFile, { interval, persistent: false }, onFileChange);
  return {
    server,
    get reloads() {
      return reloads;
    },
    stop() {
      removeListener();
      unwatchFile(certFile, onFileChange);
      unwatchFile(keyFile, onFileChange);
    },
  };
}
