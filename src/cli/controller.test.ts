import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ADMIN_NAMESPACE,
  loadEnrichment,
  parseControllerArgs,
  parseDuration,
} from './controller.ts';
import { expandSource } from '../vulndb/osv-exports.ts';
import { InputError } from './errors.ts';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseControllerArgs(args, env);

describe('controller flags', () => {
  it('defaults: admin namespace kube-inspector-system, Lease there, 1h refresh, 4 scans', () => {
    const c = parse([]);
    expect(c.adminNamespace).toBe(DEFAULT_ADMIN_NAMESPACE);
    expect(c.leaseNamespace).toBe(DEFAULT_ADMIN_NAMESPACE);
    expect(c.refreshMs).toBe(3_600_000);
    expect(c.scanConcurrency).toBe(4);
    expect(c.insecureRegistries).toEqual([]);
    // The OSV project's exports of every ecosystem read, unless told otherwise.
    expect(c.vulnerabilityDb).toEqual(expandSource('osv'));
    expect(c.vulnerabilityDb).toContain(
      'https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip',
    );
    expect(c.leaderElect).toBe(true);
    expect(c.metrics).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(c.kubeApi).toEqual({ qps: 50, burst: 100 });
  });

  it('reads the API client limit; 0 requests a second leaves it to the API server', () => {
    expect(parse(['--kube-api-qps=200', '--kube-api-burst=400']).kubeApi).toEqual({
      qps: 200,
      burst: 400,
    });
    expect(parse(['--kube-api-qps=0']).kubeApi.qps).toBe(0);
  });

  it('takes the admin namespace from POD_NAMESPACE, and the Lease follows it', () => {
    const c = parse([], { POD_NAMESPACE: 'security' });
    expect(c.adminNamespace).toBe('security');
    expect(c.leaseNamespace).toBe('security');
  });

  it('lets --admin-namespace win over POD_NAMESPACE and --leader-election-namespace move the Lease', () => {
    const c = parse(['--admin-namespace', 'inspector', '--leader-election-namespace', 'leases'], {
      POD_NAMESPACE: 'security',
    });
    expect(c.adminNamespace).toBe('inspector');
    expect(c.leaseNamespace).toBe('leases');
  });

  it('reads every database and scanning flag', () => {
    const c = parse([
      '--vulnerability-db=https://advisories.example/all.zip',
      '--vulnerability-db-refresh=1h30m',
      '--epss=epss.csv',
      '--kev=kev.json',
      '--scan-cache-dir=/var/cache/ki',
      '--scan-concurrency=8',
      '--insecure-registry=127.0.0.1:5000',
      '--insecure-registry=registry.local',
      '--ca-bundle=ca.pem',
    ]);
    expect(c).toMatchObject({
      vulnerabilityDb: ['https://advisories.example/all.zip'],
      refreshMs: 5_400_000,
      epss: 'epss.csv',
      kev: 'kev.json',
      scanCacheDir: '/var/cache/ki',
      scanConcurrency: 8,
      insecureRegistries: ['127.0.0.1:5000', 'registry.local'],
      caBundle: 'ca.pem',
    });
  });

  it('reads the retry delay of failed scans, 10 minutes by default', () => {
    expect(parse([]).retryFailedScansMs).toBe(600_000);
    expect(parse(['--retry-failed-scans-after=15s']).retryFailedScansMs).toBe(15_000);
    expect(parse(['--retry-failed-scans-after', '1h30m']).retryFailedScansMs).toBe(5_400_000);
  });

  it('reads the findings cap, 1000 by default, and refuses one below 1', () => {
    expect(parse([]).maxFindingsPerResource).toBe(1000);
    expect(parse(['--max-findings-per-resource=250']).maxFindingsPerResource).toBe(250);
    expect(() => parse(['--max-findings-per-resource=0'])).toThrow(
      /--max-findings-per-resource must be an integer from 1 to 100000, got "0"/,
    );
  });

  it('accepts a directory or zip path as the database', () => {
    expect(parse(['--vulnerability-db=none']).vulnerabilityDb).toBeUndefined();
    expect(parse(['--vulnerability-db', './osv']).vulnerabilityDb).toEqual(['./osv']);
    expect(parse(['--vulnerability-db', '/data/all.zip']).vulnerabilityDb).toEqual([
      '/data/all.zip',
    ]);
  });

  it('takes several database sources, repeated or comma-separated, and a directory for the index', () => {
    const c = parse(
      [
        '--vulnerability-db=https://a.example/Debian/all.zip,https://a.example/npm/all.zip',
        '--vulnerability-db=/mirror/go',
        '--vulnerability-db-dir=/var/cache/kube-inspector/vulndb',
      ],
      { HOME: '/home/ki' },
    );
    expect(c.vulnerabilityDb).toEqual([
      'https://a.example/Debian/all.zip',
      'https://a.example/npm/all.zip',
      '/mirror/go',
    ]);
    expect(c.vulnerabilityDbDir).toBe('/var/cache/kube-inspector/vulndb');
    const mirror = parse(['--vulnerability-db=osv:https://mirror.example/osv']).vulnerabilityDb!;
    expect(mirror).toHaveLength(13);
    expect(mirror).toContain('https://mirror.example/osv/Debian/all.zip');
    expect(mirror).toContain('https://mirror.example/osv/Rocky%20Linux/all.zip');
    expect(parse(['--vulnerability-db=osv']).vulnerabilityDb).toContain(
      'https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip',
    );
    expect(parse([], { XDG_CACHE_HOME: '/cache' }).vulnerabilityDbDir).toBe(
      '/cache/kube-inspector/vulndb',
    );
  });

  const refusals: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      'an unknown flag',
      ['--vulnerability-database=x'],
      {},
      /Unknown option '--vulnerability-database'/,
    ],
    [
      'a database URL with another scheme',
      ['--vulnerability-db=s3://b/k'],
      {},
      /--vulnerability-db s3:\/\/b\/k: unsupported scheme "s3"/,
    ],
    ['an empty database', ['--vulnerability-db='], {}, /--vulnerability-db must not be empty/],
    [
      'none with a source',
      ['--vulnerability-db=none,./osv'],
      {},
      /--vulnerability-db none cannot be combined with sources/,
    ],
    [
      'an empty index directory',
      ['--vulnerability-db-dir='],
      {},
      /--vulnerability-db-dir must not be empty/,
    ],
    [
      'a refresh that is not a duration',
      ['--vulnerability-db-refresh=hourly'],
      {},
      /--vulnerability-db-refresh must be a duration/,
    ],
    [
      'a refresh with a bare number',
      ['--vulnerability-db-refresh=60'],
      {},
      /--vulnerability-db-refresh must be a duration/,
    ],
    [
      'a refresh shorter than 10 s',
      ['--vulnerability-db-refresh=5s'],
      {},
      /--vulnerability-db-refresh must be at least 10s/,
    ],
    [
      'a retry delay that is not a duration',
      ['--retry-failed-scans-after=10'],
      {},
      /--retry-failed-scans-after must be a duration such as 30m, 1h or 1h30m, got "10"/,
    ],
    [
      'a retry delay under a second',
      ['--retry-failed-scans-after=500ms'],
      {},
      /--retry-failed-scans-after must be from 1s to 24h, got "500ms"/,
    ],
    [
      'a retry delay over a day',
      ['--retry-failed-scans-after=25h'],
      {},
      /--retry-failed-scans-after must be from 1s to 24h, got "25h"/,
    ],
    [
      'a scan concurrency of 0',
      ['--scan-concurrency=0'],
      {},
      /--scan-concurrency must be an integer from 1 to 64, got "0"/,
    ],
    [
      'a fractional scan concurrency',
      ['--scan-concurrency=2.5'],
      {},
      /--scan-concurrency must be an integer/,
    ],
    [
      'an insecure registry with a scheme',
      ['--insecure-registry=http://r:5000'],
      {},
      /--insecure-registry must be HOST or HOST:PORT/,
    ],
    [
      'an insecure registry with a path',
      ['--insecure-registry=r:5000/v2'],
      {},
      /--insecure-registry must be HOST or HOST:PORT/,
    ],
    [
      'an invalid admin namespace',
      ['--admin-namespace=Kube_Inspector'],
      {},
      /--admin-namespace "Kube_Inspector" is not a valid namespace name/,
    ],
    [
      'an invalid POD_NAMESPACE',
      [],
      { POD_NAMESPACE: 'Bad!' },
      /POD_NAMESPACE "Bad!" is not a valid namespace name/,
    ],
    [
      'an invalid Lease namespace',
      ['--leader-election-namespace=a.b'],
      {},
      /--leader-election-namespace "a.b"/,
    ],
    ['an empty CA bundle path', ['--ca-bundle='], {}, /--ca-bundle must not be empty/],
    [
      'leader election that is not a boolean',
      ['--leader-elect=maybe'],
      {},
      /--leader-elect must be true or false/,
    ],
    [
      'a bind address without a port',
      ['--metrics-bind-address=localhost'],
      {},
      /--metrics-bind-address must be HOST:PORT/,
    ],
    ['a fractional API limit', ['--kube-api-qps=2.5'], {}, /--kube-api-qps must be an integer/],
    [
      'an API burst of 0',
      ['--kube-api-burst=0'],
      {},
      /--kube-api-burst must be an integer from 1 to 10000, got "0"/,
    ],
    [
      'a negative shutdown timeout',
      ['--shutdown-timeout=-1'],
      {},
      /--shutdown-timeout must be a number of seconds/,
    ],
  ];
  for (const [what, args, env, message] of refusals) {
    it(`refuses ${what}, naming the flag`, () => {
      let error: unknown;
      try {
        parse(args, env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toMatch(message);
    });
  }
});

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2h0m10s', 7_210_000],
    ['1500ms', 1500],
    ['1.5h', 5_400_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text, '--x')).toBe(ms);
  });

  it.each(['', '1', 'h', '1d', '1h 30m', '-1h', '1hh'])('refuses "%s"', (text) => {
    expect(() => parseDuration(text, '--x')).toThrow(/--x must be a duration/);
  });
});

describe('enrichment files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ki-enrich-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const epss = join(dir, 'epss.csv');
  writeFileSync(epss, '#model_version:v2025.03.14\ncve,epss,percentile\nCVE-2024-6387,0.9,0.99\n');
  const kev = join(dir, 'kev.json');
  writeFileSync(kev, JSON.stringify({ vulnerabilities: [{ cveID: 'CVE-2024-3094' }] }));

  it('is undefined when neither --epss nor --kev is given', async () => {
    expect(await loadEnrichment({ epss: undefined, kev: undefined })).toBeUndefined();
  });

  it('reads EPSS scores and the KEV catalogue', async () => {
    const loaded = await loadEnrichment({ epss, kev });
    expect(loaded).toMatchObject({ epss: 1, kev: 1 });
    expect(loaded?.enrichment.lookup(['CVE-2024-6387'])).toEqual({
      epss: 0.9,
      knownExploited: false,
    });
    expect(loaded?.enrichment.lookup(['CVE-2024-3094']).knownExploited).toBe(true);
  });

  it('names --epss when the file is missing', async () => {
    await expect(loadEnrichment({ epss: join(dir, 'nope.csv'), kev: undefined })).rejects.toThrow(
      /^--epss .*nope\.csv: ENOENT/,
    );
  });

  it('names --epss when the file has no score row', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'hello,world\n');
    await expect(loadEnrichment({ epss: bad, kev: undefined })).rejects.toThrow(
      /--epss .*bad\.csv: no "CVE-…,score" row/,
    );
  });

  it('names --kev when the file is not a KEV catalogue', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"cves": []}');
    await expect(loadEnrichment({ epss: undefined, kev: bad })).rejects.toThrow(
      /--kev .*bad\.json: not a KEV catalogue/,
    );
  });
});
