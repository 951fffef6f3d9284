import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { Inventory, OperatingSystem, ScanFailureReason } from '../scanner/types.ts';
import { type CoverageConfig, DAY_MS, coverageConfig } from './config.ts';
import type { ScanResult } from './image.ts';
import type { PodImage } from './pods.ts';
import {
  type WorkloadImageScan,
  type WorkloadObservation,
  decideWorkload,
  lastInvokedAt,
} from './workload.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;
const digest = (c: string): string => `sha256:${c.repeat(64)}`;

const APP = 'r.example/shop/app';
const PROXY = 'r.example/mesh/proxy';
const run = (
  repository: string,
  d: string,
  container: string,
  startedAt = NOW - HOUR,
): PodImage => ({
  repository,
  digest: d,
  key: `${repository}@${d}`,
  tag: undefined,
  container,
  startedAt,
  running: true,
});
const APP_RUN = run(APP, digest('a'), 'app');
const PROXY_RUN = run(PROXY, digest('b'), 'proxy');

const DEBIAN: OperatingSystem = {
  family: 'debian',
  version: '12',
  name: 'Debian 12',
  supported: true,
};
const UNKNOWN_OS: OperatingSystem = {
  family: 'plan9',
  version: '4',
  name: 'Plan 9',
  supported: false,
};
function scanned(os: OperatingSystem, packages = 3, at = NOW - HOUR): WorkloadImageScan {
  const inventory: Inventory = {
    kind: 'image',
    target: 'x',
    os,
    packages: Array.from({ length: packages }, (_, i) => ({
      type: 'deb' as const,
      name: `p${i}`,
      version: '1',
      purl: `pkg:deb/debian/p${i}@1`,
      filePath: 'var/lib/dpkg/status',
    })),
    runtimes: [],
    layers: [],
    warnings: [],
    stats: { durationMs: 1, bytesDownloaded: 1, uncompressedBytes: 1, entries: 1 },
  };
  return {
    result: { scannedAt: at, outcome: { status: 'inventory', inventory } },
    previous: undefined,
  };
}
const failed = (
  reason: ScanFailureReason,
  message: string,
  at = NOW - HOUR,
): WorkloadImageScan => ({
  result: { scannedAt: at, outcome: { status: 'failed', reason, message } } satisfies ScanResult,
  previous: undefined,
});
const rememberedFailure = (reason: ScanFailureReason, message: string): WorkloadImageScan => ({
  result: undefined,
  previous: {
    resourceType: 'CONTAINER_IMAGE',
    resourceId: 'x',
    scanStatus: { statusCode: 'INACTIVE', reason, message },
    scanType: 'PACKAGE',
    scanMode: 'AGENTLESS',
    lastScannedAt: iso(NOW - DAY_MS),
  },
});

const observation = (o: Partial<WorkloadObservation> = {}): WorkloadObservation => ({
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  uid: 'uid-1',
  labels: { app: 'web' },
  namespaceState: { selected: true, excluded: false },
  lastUpdatedAt: NOW - 30 * DAY_MS,
  pods: [{ running: true, startedAt: NOW - HOUR }],
  lastScheduledAt: undefined,
  containers: [
    { name: 'app', image: `${APP}:1` },
    { name: 'proxy', image: `${PROXY}:2` },
  ],
  runs: [APP_RUN, PROXY_RUN],
  scans: new Map([
    [APP_RUN.key, scanned(DEBIAN)],
    [PROXY_RUN.key, scanned(DEBIAN, 1, NOW - 2 * HOUR)],
  ]),
  previous: undefined,
  ...o,
});

describe('workload coverage from its facts', () => {
  const manualMesh = config({
    image: { repositoryRules: [{ filter: 'r.example/mesh/**', frequency: 'MANUAL' }] },
  });
  const manualAll = config({
    image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'MANUAL' }] },
  });
  it.each<
    [
      string,
      Partial<WorkloadObservation>,
      CoverageConfig,
      string,
      string | undefined,
      number | undefined,
    ]
  >([
    [
      'a running workload whose images are scanned is SUCCESSFUL',
      {},
      config(),
      'SUCCESSFUL',
      undefined,
      undefined,
    ],
    [
      'a workload of an unselected namespace is not activated',
      { namespaceState: { selected: false, excluded: false } },
      config(),
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
      undefined,
      undefined,
    ],
    [
      'a workload of an excluded namespace is excluded',
      { namespaceState: { selected: true, excluded: true } },
      config(),
      'EXCLUDED_BY_TAG',
      undefined,
      undefined,
    ],
    [
      'a workload carrying the exclusion label is excluded',
      { labels: { 'kubeinspector.io/exclude': '' } },
      config(),
      'EXCLUDED_BY_TAG',
      undefined,
      undefined,
    ],
    [
      'a container no pod reports a digest for waits for its first scan',
      { runs: [APP_RUN] },
      config(),
      'PENDING_INITIAL_SCAN',
      undefined,
      undefined,
    ],
    [
      'an image whose scan was refused makes the workload ACCESS_DENIED, naming the image',
      {
        scans: new Map([
          [APP_RUN.key, scanned(DEBIAN)],
          [PROXY_RUN.key, failed('ACCESS_DENIED', '401')],
        ]),
      },
      config(),
      'ACCESS_DENIED',
      `image ${PROXY_RUN.key}: 401`,
      undefined,
    ],
    [
      'after a restart the image’s remembered failure and message count',
      {
        scans: new Map([
          [APP_RUN.key, rememberedFailure('INTERNAL_ERROR', 'registry answered 500')],
          [PROXY_RUN.key, scanned(DEBIAN)],
        ]),
      },
      config(),
      'INTERNAL_ERROR',
      `image ${APP_RUN.key}: registry answered 500`,
      undefined,
    ],
    [
      'a failure without a message names the reason',
      {
        scans: new Map([
          [APP_RUN.key, failed('INTERNAL_ERROR', '')],
          [PROXY_RUN.key, scanned(DEBIAN)],
        ]),
      },
      config(),
      'INTERNAL_ERROR',
      `image ${APP_RUN.key}: `,
      undefined,
    ],
    [
      'images all in manual repositories make the workload manual',
      {},
      manualAll,
      'SCAN_FREQUENCY_MANUAL',
      undefined,
      undefined,
    ],
    [
      'a manual sidecar beside a scanned image is SUCCESSFUL',
      { scans: new Map([[APP_RUN.key, scanned(DEBIAN)]]) },
      manualMesh,
      'SUCCESSFUL',
      undefined,
      undefined,
    ],
    [
      'a manual container no pod reports yet is still manual, not pending',
      { runs: [APP_RUN] },
      manualMesh,
      'SUCCESSFUL',
      undefined,
      undefined,
    ],
    [
      'images that yield no inventory make it UNSUPPORTED_RUNTIME',
      {
        scans: new Map([
          [APP_RUN.key, scanned(UNKNOWN_OS, 0)],
          [PROXY_RUN.key, failed('IMAGE_SIZE_EXCEEDED', 'too big')],
        ]),
      },
      config(),
      'UNSUPPORTED_RUNTIME',
      undefined,
      undefined,
    ],
    [
      'an unknown OS with packages still yields an inventory',
      {
        scans: new Map([
          [APP_RUN.key, scanned(UNKNOWN_OS, 2)],
          [PROXY_RUN.key, failed('UNSUPPORTED_OS', 'no os')],
        ]),
      },
      config(),
      'SUCCESSFUL',
      undefined,
      undefined,
    ],
    [
      'a workload not running, updated 30 days ago, stays eligible until 90 days after',
      { pods: [], runs: [], containers: [] },
      config(),
      'PENDING_INITIAL_SCAN',
      undefined,
      NOW + 60 * DAY_MS,
    ],
    [
      'a workload not running for 90 days is no longer eligible',
      {
        pods: [{ running: false, startedAt: NOW - 100 * DAY_MS }],
        lastUpdatedAt: NOW - 95 * DAY_MS,
      },
      config(),
      'SCAN_ELIGIBILITY_EXPIRED',
      undefined,
      undefined,
    ],
    [
      'a CronJob scheduled recently is eligible from its schedule',
      {
        kind: 'CronJob',
        pods: [],
        lastUpdatedAt: NOW - 200 * DAY_MS,
        lastScheduledAt: NOW - DAY_MS,
      },
      config(),
      'SUCCESSFUL',
      undefined,
      NOW + 89 * DAY_MS,
    ],
  ])('%s', (_name, o, c, reason, message, deadline) => {
    const out = decideWorkload(observation(o), c, NOW);
    expect(out.coverage.reason).toBe(reason);
    expect(out.status.scanStatus).toEqual({
      statusCode: out.coverage.statusCode,
      reason,
      ...(message !== undefined ? { message } : {}),
    });
    expect(out.coverage.deadline).toBe(deadline);
  });

  it('the status names the workload and what it runs', () => {
    const out = decideWorkload(observation({ lastScheduledAt: undefined }), config(), NOW);
    expect(out.status).toEqual({
      resourceType: 'WORKLOAD',
      resourceId: 'shop/Deployment/web',
      resource: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'uid-1',
      },
      resourceLabels: { app: 'web' },
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      scanType: 'PACKAGE',
      scanMode: 'AGENTLESS',
      lastScannedAt: iso(NOW - HOUR),
      workload: {
        kind: 'Deployment',
        runtime: 'DEBIAN_12',
        images: [APP_RUN.key, PROXY_RUN.key],
        lastInvokedAt: iso(NOW - HOUR),
        lastUpdatedAt: iso(NOW - 30 * DAY_MS),
      },
    });
  });

  it('each container counts the image its newest pod runs', () => {
    const older = run(APP, digest('c'), 'app', NOW - 5 * HOUR);
    const out = decideWorkload(
      observation({
        runs: [older, APP_RUN, PROXY_RUN],
        scans: new Map([
          [older.key, failed('ACCESS_DENIED', 'old digest')],
          [APP_RUN.key, scanned(DEBIAN)],
          [PROXY_RUN.key, scanned(DEBIAN)],
        ]),
      }),
      config(),
      NOW,
    );
    expect(out.coverage.reason).toBe('SUCCESSFUL');
    expect(out.status.workload?.images).toEqual([APP_RUN.key, PROXY_RUN.key]);
  });

  it('with nothing scanned now, the runtime and scan time written before stay', () => {
    const previous: CoveredResourceStatus = {
      resourceType: 'WORKLOAD',
      resourceId: 'shop/Deployment/web',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      scanType: 'PACKAGE',
      scanMode: 'AGENTLESS',
      lastScannedAt: iso(NOW - DAY_MS),
      workload: { kind: 'Deployment', runtime: 'ALPINE_3_20' },
    };
    const out = decideWorkload(
      observation({
        previous,
        scans: new Map([
          [APP_RUN.key, rememberedFailure('INTERNAL_ERROR', 'x')],
          [PROXY_RUN.key, rememberedFailure('INTERNAL_ERROR', 'y')],
        ]),
      }),
      config(),
      NOW,
    );
    expect(out.status.lastScannedAt).toBe(iso(NOW - DAY_MS));
    expect(out.status.workload?.runtime).toBe('ALPINE_3_20');
    expect(out.status.scanStatus.message).toBe(`image ${APP_RUN.key}: x`);
  });

  it('a container of the template no pod ran is listed by its spec image', () => {
    const out = decideWorkload(observation({ runs: [APP_RUN] }), config(), NOW);
    expect(out.status.workload?.images).toEqual([APP_RUN.key, `${PROXY}:2`]);
  });

  it('a container no pod could pull is ACCESS_DENIED when the registry refuses the pods’ secrets', () => {
    const refused = 'r.example/mesh/proxy: access denied (HTTP 401)';
    const out = decideWorkload(
      observation({ runs: [APP_RUN], pullDenied: new Map([['proxy', refused]]) }),
      config(),
      NOW,
    );
    expect(out.status.scanStatus).toEqual({
      statusCode: 'INACTIVE',
      reason: 'ACCESS_DENIED',
      message: `image ${PROXY}:2: ${refused}`,
    });
    expect(out.status.workload?.images).toEqual([APP_RUN.key, `${PROXY}:2`]);
    // Without the refusal the same workload waits for the image.
    const pending = decideWorkload(observation({ runs: [APP_RUN] }), config(), NOW);
    expect(pending.status.scanStatus.reason).toBe('PENDING_INITIAL_SCAN');
  });

  it('a refusal of a container a pod runs is not used: the image that runs decides', () => {
    const out = decideWorkload(
      observation({ pullDenied: new Map([['app', 'access denied']]) }),
      config(),
      NOW,
    );
    expect(out.status.scanStatus.reason).toBe('SUCCESSFUL');
  });

  it('a refused container in a MANUAL repository stays out of the decision', () => {
    const out = decideWorkload(
      observation({
        runs: [APP_RUN],
        pullDenied: new Map([['proxy', 'access denied']]),
      }),
      config({
        image: { repositoryRules: [{ filter: 'r.example/mesh/**', frequency: 'MANUAL' }] },
      }),
      NOW,
    );
    expect(out.status.scanStatus.reason).toBe('SUCCESSFUL');
  });
});

describe('when a workload was last invoked', () => {
  it.each<[string, Parameters<typeof lastInvokedAt>[0], number | undefined]>([
    ['never', { pods: [], lastScheduledAt: undefined }, undefined],
    [
      'the latest pod start',
      {
        pods: [
          { running: true, startedAt: 5 },
          { running: false, startedAt: 9 },
          { running: true, startedAt: undefined },
        ],
        lastScheduledAt: undefined,
      },
      9,
    ],
    ['a later schedule', { pods: [{ running: false, startedAt: 5 }], lastScheduledAt: 7 }, 7],
  ])('%s', (_name, o, want) => {
    expect(lastInvokedAt(o)).toBe(want);
  });
});
