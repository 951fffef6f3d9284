/**
 * `kube-inspector controller`: connects to the cluster, opens the vulnerability database, builds
 * the image scanner and runs every registered controller on one Manager (metrics, probes,
 * leader election, graceful shutdown). {@link parseControllerArgs} is the pure part: flags in,
 * a validated configuration out, or an error naming the flag.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiextensionsV1Api, CoordinationV1Api, VersionApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DEFAULT_FINDINGS_CONFIG } from '../controllers/findings/reconciler.ts';
import { RETRY_FAILED_SCAN_MS } from '../controllers/scans/policy.ts';
import { CRD_KINDS } from '../api/v1alpha1/kinds.ts';
import { defaultDeps, setupControllers } from '../controllers/index.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { registerVulnDbMetrics } from '../metrics/vulndb.ts';
import { systemClock } from '../runtime/clock.ts';
import { defaultIdentity } from '../runtime/leader-election.ts';
import { leaseLeaderElector, Manager } from '../runtime/manager.ts';
import { createImageScanner } from '../scanner/index.ts';
import { version } from '../version.ts';
import {
  makeEnrichment,
  parseEpssCsv,
  parseKevJson,
  type Enrichment,
} from '../vulndb/enrichment.ts';
import { expandSource } from '../vulndb/osv-exports.ts';
import { databaseSource } from '../vulndb/source.ts';
import type { AdvisoryStore, SourceStatus } from '../vulndb/store.ts';
import { checkSource, defaultIndexDir } from './db-index.ts';
import { InputError } from './errors.ts';
import { type FindingsServingConfig, startFindingsServing } from './findings-serving.ts';
import { shutdownSignal } from './signals.ts';

export const DEFAULT_ADMIN_NAMESPACE = 'kube-inspector-system';
export const DEFAULT_SCAN_CONCURRENCY = 4;
export const DEFAULT_FINDINGS_DB = '/var/lib/kube-inspector/findings.db';
export const DEFAULT_SERVING_DIR = '/var/run/kube-inspector/serving-cert';
export const CONTROLLER_SERVICE_ACCOUNT = 'kube-inspector-controller';
/** kube-controller-manager's garbage collector and namespace controller, and itself. */
export const DEFAULT_FINDINGS_DELETERS = [
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:serviceaccount:kube-system:namespace-controller',
  'system:kube-controller-manager',
];
/** The controller's own limit on requests to kube-apiserver (client-go's QPS and Burst). */
export const DEFAULT_KUBE_API_QPS = 50;
export const DEFAULT_KUBE_API_BURST = 100;
/** How long past --shutdown-timeout the process may take to end before it exits anyway. */
const SHUTDOWN_MARGIN_MS = 10_000;
/** How long startup waits for the first database load before the controllers start anyway. */
const FIRST_LOAD_WAIT_MS = 30_000;

export const controllerHelp = (
  cmd = 'kube-inspector',
): string => `Usage: ${cmd} controller [options]

Runs the kube-inspector controller against the cluster of the current
kubeconfig context (--kubeconfig, then KUBECONFIG, then the in-cluster service
account, then ~/.kube/config).

Cluster and process:
  --kubeconfig PATH                 kubeconfig file to use
  --admin-namespace NS              administrator namespace: continuous findings and the
                                    controller's own objects (default: $POD_NAMESPACE, else
                                    ${DEFAULT_ADMIN_NAMESPACE})
  --metrics-bind-address HOST:PORT  where /metrics is served (default :8080; port 0 picks one)
  --health-probe-bind-address HOST:PORT
                                    where /healthz and /readyz are served (default :8081)
  --leader-elect=false              run without leader election (one replica only)
  --leader-election-namespace NS    namespace of the Lease (default: the administrator namespace)
  --shutdown-timeout SECONDS        how long in-flight work may finish on SIGTERM (default 25)
  --kube-api-qps N                  requests a second to kube-apiserver, on average (default
                                    ${DEFAULT_KUBE_API_QPS}; 0 leaves the limit to the API server's
                                    priority and fairness)
  --kube-api-burst N                requests allowed in a burst above that (default ${DEFAULT_KUBE_API_BURST})
  --once                            connect, report, and exit instead of running

Vulnerability database:
  --vulnerability-db SOURCE[,SOURCE...]
                                    OSV advisories: directories of *.json, zip or JSON files, or
                                    http(s) URLs (refreshed with conditional requests and OSV
                                    change lists); repeatable or comma-separated. "osv" (the
                                    default) is the OSV project's export of every ecosystem
                                    kube-inspector reads, "osv:BASE" the same exports at a
                                    mirror; "none" matches nothing. A source that fails keeps
                                    its last good records; the error is in the metrics and the
                                    ScanConfiguration's status.
  --vulnerability-db-dir DIR        where the advisory index is kept, on a volume (default
                                    $XDG_CACHE_HOME/kube-inspector/vulndb, else
                                    ~/.cache/kube-inspector/vulndb)
  --vulnerability-db-refresh DURATION
                                    time between refreshes, e.g. 30m, 1h, 1h30m (default 1h)
  --epss FILE                       EPSS scores (FIRST's CSV: cve,epss,percentile)
  --kev FILE                        known exploited vulnerabilities (CISA KEV JSON catalogue)

Image scanning:
  --scan-concurrency N              images scanned at the same time (default ${DEFAULT_SCAN_CONCURRENCY})
  --scan-cache-dir DIR              keep per-layer scan results here (an emptyDir; safe to delete)
  --retry-failed-scans-after DURATION
                                    how long a failed image scan waits before it is tried
                                    again, e.g. 30s, 10m (default ${RETRY_FAILED_SCAN_MS / 60_000}m; 1s to 24h); a change of
                                    the pods' pull secrets retries at once
  --insecure-registry HOST[:PORT]   reach this registry over plain HTTP (repeatable)
  --ca-bundle FILE                  extra PEM certificates to trust for registries

Findings store and API (findings.kubeinspector.io, served to kube-apiserver's aggregation layer):
  --findings-store sqlite|postgres  where findings are kept (default: $FINDINGS_STORE, else
                                    sqlite); postgres lets every replica serve the findings API
  --findings-db PATH                the SQLite database of findings, on a ReadWriteOnce volume;
                                    opened only by the lease holder (default: $FINDINGS_DB,
                                    else ${DEFAULT_FINDINGS_DB}); ":memory:" is refused
  --findings-postgres-url-file FILE the PostgreSQL connection URL (a mounted Secret key), re-read
                                    for every new connection (default:
                                    $FINDINGS_POSTGRES_URL_FILE); with --findings-store=postgres
  --findings-api-bind-address HOST:PORT
                                    where the findings API is served over TLS (default :8443)
  --tls-cert-file FILE              serving certificate of the findings API, PEM, re-read when it
                                    changes (default: $TLS_CERT_FILE, else
                                    ${DEFAULT_SERVING_DIR}/tls.crt)
  --tls-private-key-file FILE       its key (default: $TLS_PRIVATE_KEY_FILE, else
                                    ${DEFAULT_SERVING_DIR}/tls.key)
  --controller-username NAME        who writes findings as the controller (repeatable; default
                                    system:serviceaccount:<admin namespace>:${CONTROLLER_SERVICE_ACCOUNT})
  --findings-deleter NAME           who else may delete findings (repeatable; default the
                                    garbage collector and the namespace controller)

Findings:
  --max-findings-per-resource N     most open findings of one node or image, highest severities
                                    first; more is reported as a FindingCapExceeded event
                                    (default ${DEFAULT_FINDINGS_CONFIG.maxFindingsPerResource})

  -h, --help                        show this help`;

export const apiGroup = 'kubeinspector.io';
export const leaseName = 'kube-inspector-controller';

export interface HostPort {
  host: string;
  port: number;
}

export interface ControllerConfig {
  help: boolean;
  once: boolean;
  kubeconfig: string | undefined;
  adminNamespace: string;
  leaseNamespace: string;
  leaderElect: boolean;
  metrics: HostPort;
  probes: HostPort;
  shutdownMs: number;
  /** Requests a second to kube-apiserver and the burst above it; qps 0 is no limit. */
  kubeApi: { qps: number; burst: number };
  /** The database's sources in order; undefined when none is configured. */
  vulnerabilityDb: string[] | undefined;
  /** Where the advisory index is kept. */
  vulnerabilityDbDir: string;
  refreshMs: number;
  epss: string | undefined;
  kev: string | undefined;
  scanConcurrency: number;
  /** How long a failed image scan waits before it is tried again. */
  retryFailedScansMs: number;
  maxFindingsPerResource: number;
  scanCacheDir: string | undefined;
  insecureRegistries: string[];
  caBundle: string | undefined;
  findings: FindingsServingConfig;
}

function hostPort(value: string, flag: string): HostPort {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m) throw new InputError(`${flag} must be HOST:PORT or :PORT, got "${value}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new InputError(`${flag}: port ${port} is out of range`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port };
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration (`90s`, `30m`, `1h30m`, `500ms`) in milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/gy)];
  if (value === '' || parts.map((p) => p[0]).join('') !== value) {
    throw new InputError(`${flag} must be a duration such as 30m, 1h or 1h30m, got "${value}"`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespace(value: string, flag: string): string {
  if (!DNS1123_LABEL.test(value)) {
    throw new InputError(`${flag} "${value}" is not a valid namespace name (DNS-1123 label)`);
  }
  return value;
}

/** `host`, `host:port` or `[v6]:port`, with no scheme and no path. */
const REGISTRY_HOST =
  /^(?:[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new InputError(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** `--retry-failed-scans-after`: a duration from 1s to 24h; 10 minutes when not given. */
function retryDelay(value: string | undefined): number {
  if (value === undefined) return RETRY_FAILED_SCAN_MS;
  const flag = '--retry-failed-scans-after';
  const ms = parseDuration(value, flag);
  if (ms < 1000 || ms > 24 * 3_600_000) {
    throw new InputError(`${flag} must be from 1s to 24h, got "${value}"`);
  }
  return ms;
}

/**
 * `--vulnerability-db` values: repeated or comma-separated, checked, `osv` expanded; `osv` when
 * the flag is not given; undefined (no database) for `none`.
 */
function databaseSources(values: string[] | undefined): string[] | undefined {
  const given = values?.flatMap((v) => v.split(',')) ?? ['osv'];
  if (given.includes('none')) {
    if (given.length === 1) return undefined;
    throw new InputError('--vulnerability-db none cannot be combined with sources');
  }
  for (const source of given) {
    checkSource(source.startsWith('osv:') ? source.slice(4) : source, '--vulnerability-db');
  }
  return given.flatMap(expandSource);
}

/** Logs one refresh of the database: its failure, or what was loaded, and failed sources. */
function logRefresh(
  dbLog: pino.Logger,
  outcome: string,
  status: SourceStatus,
  database: AdvisoryStore | undefined,
): void {
  for (const s of status.sources) {
    if (s.lastOutcome === 'failed') {
      dbLog.error(
        { source: s.source, error: s.lastError, consecutiveFailures: s.consecutiveFailures },
        'vulnerability database source failed; keeping its last good records',
      );
    }
  }
  if (outcome === 'failed') {
    dbLog.error(
      {
        source: status.source,
        error: status.lastError,
        consecutiveFailures: status.consecutiveFailures,
      },
      'vulnerability database refresh failed; keeping the last good database',
    );
  } else if (outcome === 'updated') {
    const stats = database?.current?.stats;
    dbLog.info(
      {
        source: status.source,
        advisories: database?.current?.size,
        malformed: stats?.malformed,
        newestModified: stats?.newestModified,
        indexBytes: stats?.diskBytes,
      },
      'vulnerability database loaded',
    );
  }
}

/** Parses and validates the flags; errors are {@link InputError}s that name the flag. */
// eslint-disable-next-line max-lines-per-function -- one check per flag, in the order --help lists them
export function parseControllerArgs(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ControllerConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        kubeconfig: { type: 'string' },
        'admin-namespace': { type: 'string' },
        'metrics-bind-address': { type: 'string', default: ':8080' },
        'health-probe-bind-address': { type: 'string', default: ':8081' },
        'leader-elect': { type: 'string', default: 'true' },
        'leader-election-namespace': { type: 'string' },
        'shutdown-timeout': { type: 'string', default: '25' },
        'kube-api-qps': { type: 'string', default: String(DEFAULT_KUBE_API_QPS) },
        'kube-api-burst': { type: 'string', default: String(DEFAULT_KUBE_API_BURST) },
        'vulnerability-db': { type: 'string', multiple: true },
        'vulnerability-db-dir': { type: 'string' },
        'vulnerability-db-refresh': { type: 'string', default: '1h' },
        epss: { type: 'string' },
        kev: { type: 'string' },
        'scan-concurrency': { type: 'string', default: String(DEFAULT_SCAN_CONCURRENCY) },
        'retry-failed-scans-after': { type: 'string' },
        'max-findings-per-resource': {
          type: 'string',
          default: String(DEFAULT_FINDINGS_CONFIG.maxFindingsPerResource),
        },
        'scan-cache-dir': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true, default: [] },
        'ca-bundle': { type: 'string' },
        'findings-db': { type: 'string' },
        'findings-store': { type: 'string' },
        'findings-postgres-url-file': { type: 'string' },
        'findings-api-bind-address': { type: 'string', default: ':8443' },
        'tls-cert-file': { type: 'string' },
        'tls-private-key-file': { type: 'string' },
        'controller-username': { type: 'string', multiple: true, default: [] },
        'findings-deleter': { type: 'string', multiple: true, default: [] },
        once: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
  const metrics = hostPort(values['metrics-bind-address'], '--metrics-bind-address');
  const probes = hostPort(values['health-probe-bind-address'], '--health-probe-bind-address');
  if (metrics.host !== probes.host) {
    throw new InputError(
      '--metrics-bind-address and --health-probe-bind-address must use the same host',
    );
  }
  const shutdownSeconds = Number(values['shutdown-timeout']);
  if (
    values['shutdown-timeout'] === '' ||
    !Number.isFinite(shutdownSeconds) ||
    shutdownSeconds < 0
  ) {
    throw new InputError(
      `--shutdown-timeout must be a number of seconds, got "${values['shutdown-timeout']}"`,
    );
  }
  if (!['true', 'false'].includes(values['leader-elect'])) {
    throw new InputError(`--leader-elect must be true or false, got "${values['leader-elect']}"`);
  }
  const adminNamespace = namespace(
    values['admin-namespace'] ?? (env.POD_NAMESPACE || DEFAULT_ADMIN_NAMESPACE),
    values['admin-namespace'] === undefined && env.POD_NAMESPACE
      ? 'POD_NAMESPACE'
      : '--admin-namespace',
  );
  const leaseNamespace =
    values['leader-election-namespace'] === undefined
      ? adminNamespace
      : namespace(values['leader-election-namespace'], '--leader-election-namespace');

  const db = databaseSources(values['vulnerability-db']);
  const dbDir = values['vulnerability-db-dir'];
  if (dbDir === '') throw new InputError('--vulnerability-db-dir must not be empty');
  const refreshMs = parseDuration(values['vulnerability-db-refresh'], '--vulnerability-db-refresh');
  if (refreshMs < 10_000) {
    throw new InputError(
      `--vulnerability-db-refresh must be at least 10s, got "${values['vulnerability-db-refresh']}"`,
    );
  }
  for (const host of values['insecure-registry']) {
    if (!REGISTRY_HOST.test(host)) {
      throw new InputError(
        `--insecure-registry must be HOST or HOST:PORT (no scheme, no path), got "${host}"`,
      );
    }
  }
  for (const flag of [
    'epss',
    'kev',
    'ca-bundle',
    'scan-cache-dir',
    'findings-db',
    'findings-postgres-url-file',
    'tls-cert-file',
    'tls-private-key-file',
  ] as const) {
    if (values[flag] === '') throw new InputError(`--${flag} must not be empty`);
  }
  const findings = findingsServingConfig(values, env, adminNamespace);
  return {
    help: values.help,
    once: values.once,
    kubeconfig: values.kubeconfig,
    adminNamespace,
    leaseNamespace,
    leaderElect: values['leader-elect'] === 'true',
    metrics,
    probes,
    shutdownMs: shutdownSeconds * 1000,
    kubeApi: {
      qps: integer(values['kube-api-qps'], '--kube-api-qps', 0, 10_000),
      burst: integer(values['kube-api-burst'], '--kube-api-burst', 1, 10_000),
    },
    vulnerabilityDb: db,
    vulnerabilityDbDir: dbDir ?? defaultIndexDir(env),
    refreshMs,
    epss: values.epss,
    kev: values.kev,
    scanConcurrency: integer(values['scan-concurrency'], '--scan-concurrency', 1, 64),
    retryFailedScansMs: retryDelay(values['retry-failed-scans-after']),
    maxFindingsPerResource: integer(
      values['max-findings-per-resource'],
      '--max-findings-per-resource',
      1,
      100_000,
    ),
    scanCacheDir: values['scan-cache-dir'],
    insecureRegistries: values['insecure-registry'],
    caBundle: values['ca-bundle'],
    findings,
  };
}

/** The findings store and API settings of the flags (and their environment variables). */
function findingsServingConfig(
  values: {
    'findings-db'?: string | undefined;
    'findings-store'?: string | undefined;
    'findings-postgres-url-file'?: string | undefined;
    'findings-api-bind-address': string;
    'tls-cert-file'?: string | undefined;
    'tls-private-key-file'?: string | undefined;
    'controller-username': string[];
    'findings-deleter': string[];
  },
  env: NodeJS.ProcessEnv,
  adminNamespace: string,
): FindingsServingConfig {
  const dbPath = values['findings-db'] ?? (env.FINDINGS_DB || DEFAULT_FINDINGS_DB);
  if (dbPath === ':memory:' || dbPath.startsWith('file::memory:'))
    throw new InputError(
      '--findings-db :memory: would lose every finding at the next restart: give a file on a persistent volume',
    );
  const store = values['findings-store'] ?? (env.FINDINGS_STORE || 'sqlite');
  if (store !== 'sqlite' && store !== 'postgres')
    throw new InputError(`--findings-store must be sqlite or postgres, got "${store}"`);
  const postgresUrlFile =
    values['findings-postgres-url-file'] ?? (env.FINDINGS_POSTGRES_URL_FILE || undefined);
  if (store === 'postgres' && postgresUrlFile === undefined)
    throw new InputError(
      '--findings-store=postgres needs --findings-postgres-url-file (a file holding the connection URL, from a Secret)',
    );
  const bind = hostPort(values['findings-api-bind-address'], '--findings-api-bind-address');
  const controllers = values['controller-username'];
  const deleters = values['findings-deleter'];
  for (const name of [...controllers, ...deleters])
    if (name.trim() === '')
      throw new InputError('--controller-username and --findings-deleter must not be empty');
  return {
    store,
    dbPath,
    postgresUrlFile,
    host: bind.host,
    port: bind.port,
    certFile: values['tls-cert-file'] ?? (env.TLS_CERT_FILE || `${DEFAULT_SERVING_DIR}/tls.crt`),
    keyFile:
      values['tls-private-key-file'] ??
      (env.TLS_PRIVATE_KEY_FILE || `${DEFAULT_SERVING_DIR}/tls.key`),
    controllerUsernames:
      controllers.length > 0
        ? controllers
        : [`system:serviceaccount:${adminNamespace}:${CONTROLLER_SERVICE_ACCOUNT}`],
    deleterUsernames: deleters.length > 0 ? deleters : DEFAULT_FINDINGS_DELETERS,
  };
}

async function readFlagFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The EPSS and KEV files, read once at startup; undefined when neither is given. */
export async function loadEnrichment(
  config: Pick<ControllerConfig, 'epss' | 'kev'>,
): Promise<{ enrichment: Enrichment; epss: number; epssSkipped: number; kev: number } | undefined> {
  if (config.epss === undefined && config.kev === undefined) return undefined;
  let epss: Map<string, number> | undefined;
  let epssSkipped = 0;
  let kev: Set<string> | undefined;
  if (config.epss !== undefined) {
    const parsed = parseEpssCsv(await readFlagFile(config.epss, '--epss'));
    if (parsed.scores.size === 0) {
      throw new InputError(`--epss ${config.epss}: no "CVE-…,score" row in the file`);
    }
    epss = parsed.scores;
    epssSkipped = parsed.skipped;
  }
  if (config.kev !== undefined) {
    const text = await readFlagFile(config.kev, '--kev');
    try {
      kev = parseKevJson(text);
    } catch (err) {
      throw new InputError(
        `--kev ${config.kev}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return {
    enrichment: makeEnrichment({
      ...(epss !== undefined ? { epss } : {}),
      ...(kev !== undefined ? { knownExploited: kev } : {}),
    }),
    epss: epss?.size ?? 0,
    epssSkipped,
    kev: kev?.size ?? 0,
  };
}

// eslint-disable-next-line max-lines-per-function -- the controller process start-up and shutdown sequence, read in order
export async function runController(args: string[], cmd = 'kube-inspector'): Promise<number> {
  const config = parseControllerArgs(args);
  if (config.help) {
    console.log(controllerHelp(cmd));
    return 0;
  }
  const caBundle =
    config.caBundle === undefined ? undefined : await readFlagFile(config.caBundle, '--ca-bundle');
  if (caBundle !== undefined && !caBundle.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InputError(`--ca-bundle ${config.caBundle}: no PEM certificate in the file`);
  }
  const enrichment = await loadEnrichment(config);
  if (config.scanCacheDir !== undefined) {
    // Created (and its writability checked) now, so a bad path stops the start, not every scan.
    try {
      await mkdir(config.scanCacheDir, { recursive: true });
      await access(config.scanCacheDir, constants.W_OK);
    } catch (err) {
      throw new InputError(
        `--scan-cache-dir ${config.scanCacheDir}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  const log = pino({ base: { component: 'controller' } });
  const kc = loadKubeConfig({ kubeconfig: config.kubeconfig });
  const server = kc.getCurrentCluster()?.server;

  const serverVersion = await kc.makeApiClient(VersionApi).getCode();
  log.info(
    { version, server, serverVersion: serverVersion.gitVersion },
    'connected to the Kubernetes API server',
  );

  const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
  const kinds = crds.items
    .filter((crd) => crd.spec.group === apiGroup)
    .map((crd) => crd.spec.names.kind)
    .sort();
  log.info({ group: apiGroup, kinds }, `${kinds.length} kube-inspector kinds installed`);

  if (config.once) return 0;
  // The controllers' caches would wait forever for a kind the API server does not serve.
  const missing = CRD_KINDS.map((k) => k.kind).filter((k) => !kinds.includes(k));
  if (missing.length > 0) {
    throw new Error(
      `the CustomResourceDefinitions of ${missing.join(', ')} (${apiGroup}) are not installed: ` +
        'apply crds/ (kubectl apply -k crds/) or the whole manifests/ first',
    );
  }

  if (enrichment !== undefined) {
    log.info(
      { epssScores: enrichment.epss, epssRowsSkipped: enrichment.epssSkipped, kev: enrichment.kev },
      'enrichment loaded',
    );
  }

  const registry = new Registry();
  let database: AdvisoryStore | undefined;
  const dbMetrics = registerVulnDbMetrics(registry, () => database);
  const dbLog = log.child({ component: 'vulndb' });
  if (config.vulnerabilityDb !== undefined) {
    database = databaseSource(config.vulnerabilityDb, {
      dir: config.vulnerabilityDbDir,
      intervalMs: config.refreshMs,
      onRefresh: (outcome, status) => {
        dbMetrics.onRefresh(outcome);
        logRefresh(dbLog, outcome, status, database);
      },
    });
    if (await database.open()) {
      dbLog.info(
        { dir: config.vulnerabilityDbDir, advisories: database.current?.size },
        'serving the advisory index left on the volume until the first refresh',
      );
    }
  } else {
    log.warn('--vulnerability-db=none: coverage runs, but no vulnerability is matched');
  }

  const manager = await Manager.create({
    kubeConfig: kc,
    log,
    registry,
    bindAddress: config.metrics.host,
    metricsPort: config.metrics.port,
    probePort: config.probes.port,
    shutdownDeadlineMs: config.shutdownMs,
    client: config.kubeApi,
    ...(config.leaderElect
      ? {
          leaderElector: leaseLeaderElector({
            client: kc.makeApiClient(CoordinationV1Api),
            namespace: config.leaseNamespace,
            name: leaseName,
            identity: defaultIdentity(),
            registry,
            logger: log,
          }),
        }
      : {}),
  });

  const stop = shutdownSignal(log);
  // Past the shutdown deadline and a margin the process ends anyway, saying so: the kubelet
  // would kill it at the end of the grace period, and a stuck shutdown must not outlive it.
  stop.addEventListener(
    'abort',
    () => {
      setTimeout(() => {
        log.error(
          { deadlineMs: config.shutdownMs, ...manager.shutdownProgress },
          'shutdown did not finish in time; exiting',
        );
        process.exit(1);
      }, config.shutdownMs + SHUTDOWN_MARGIN_MS).unref();
    },
    { once: true },
  );
  for (const [file, flag] of [
    [config.findings.certFile, '--tls-cert-file'],
    [config.findings.keyFile, '--tls-private-key-file'],
  ] as const)
    await readFlagFile(file, flag);
  const findings = startFindingsServing(manager, config.findings, log, stop);

  const scanner = createImageScanner({
    insecureRegistries: config.insecureRegistries,
    ...(caBundle !== undefined ? { caBundle } : {}),
    ...(config.scanCacheDir !== undefined ? { cacheDir: config.scanCacheDir } : {}),
  });
  setupControllers(
    defaultDeps({
      manager,
      log,
      clock: systemClock,
      adminNamespace: config.adminNamespace,
      scanner,
      database,
      ...(enrichment !== undefined ? { enrichment: enrichment.enrichment } : {}),
      scanConcurrency: config.scanConcurrency,
      retryFailedScansMs: config.retryFailedScansMs,
      maxFindingsPerResource: config.maxFindingsPerResource,
      findingsStore: findings.store,
    }),
  );

  // The first load gets a head start so the controllers begin with a database; a slow or
  // failing one does not hold the process (probes, metrics) back.
  if (database !== undefined) {
    const first = database.start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      first,
      new Promise((resolve) => {
        timer = setTimeout(resolve, FIRST_LOAD_WAIT_MS);
        stop.addEventListener('abort', resolve, { once: true });
      }),
    ]);
    clearTimeout(timer);
  }
  try {
    await manager.run(stop);
  } finally {
    await findings.stop();
    database?.close();
  }
  return 0;
}
