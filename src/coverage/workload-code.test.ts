import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { CodeScanResult, Inventory, ScanFailureReason } from '../scanner/types.ts';
import { type CoverageConfig, DAY_MS, coverageConfig } from './config.ts';
import { coveredResourceName, resourceTypeOfName } from './names.ts';
import type { PodImage } from './pods.ts';
import { coveredLabels } from './status.ts';
import { type WorkloadImageScan, type WorkloadObservation, decideWorkload } from './workload.ts';
import { type WorkloadCodeObservation, decideWorkloadCode } from './workload-code.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;
const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const APP = 'r.example/shop/app';
const TOOLS = 'r.example/shop/tools';

const run = (repository: string, d: string, container: string): PodImage => ({
  repository,
  digest: d,
  key: `${repository}@${d}`,
  tag: undefined,
  container,
  startedAt: NOW - HOUR,
  running: true,
});
const APP_RUN = run(APP, digest('a'), 'app');
const TOOLS_RUN = run(TOOLS, digest('b'), 'tools');

const CODE: CodeScanResult = {
  findings: [],
  files: 12,
  bytes: 3400,
  skippedBinary: 1,
  skippedSize: 0,
};

/** An image scanned; with `code` when code scanning read it. An OS nobody publishes for. */
function scanned(code: CodeScanResult | undefined, at = NOW - HOUR): WorkloadImageScan {
  const inventory: Inventory = {
    kind: 'image',
    target: 'x',
    os: { family: 'scratch', version: '', name: 'none', supported: false },
    packages: [],
    runtimes: [],
    layers: [],
    warnings: [],
    stats: { durationMs: 1, bytesDownloaded: 1, uncompressedBytes: 1, entries: 1 },
    ...(code !== undefined ? { code } : {}),
  };
  return {
    result: { scannedAt: at, outcome: { status: 'inventory', inventory } },
    previous: undefined,
  };
}
const failed = (reason: ScanFailureReason, message: string): WorkloadImageScan => ({
  result: { scannedAt: NOW - HOUR, outcome: { status: 'failed', reason, message } },
  previous: undefined,
});
const remembered: WorkloadImageScan = {
  result: undefined,
  previous: {
    resourceType: 'CONTAINER_IMAGE',
    resourceId: 'x',
    scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
    scanType: 'PACKAGE',
    lastScannedAt: '2026-11-21T12:00:00Z',
  },
};

const workload = (o: Partial<WorkloadObservation> = {}): WorkloadObservation => ({
  kind: 'Deployment',
  namespace: 'shop',
  name: 'api',
  uid: 'uid-1',
  labels: { app: 'api' },
  namespaceState: { selected: true, excluded: false },
  lastUpdatedAt: NOW - 30 * DAY_MS,
  pods: [{ running: true, startedAt: NOW - HOUR }],
  lastScheduledAt: undefined,
  containers: [
    { name: 'app', image: `${APP}:1` },
    { name: 'tools', image: `${TOOLS}:1` },
  ],
  runs: [APP_RUN, TOOLS_RUN],
  scans: new Map([
    [APP_RUN.key, scanned(CODE)],
    [TOOLS_RUN.key, scanned(CODE, NOW - 2 * HOUR)],
  ]),
  previous: undefined,
  ...o,
});

const observe = (
  w: Partial<WorkloadObservation> = {},
  o: Partial<Omit<WorkloadCodeObservation, 'workload'>> = {},
): WorkloadCodeObservation => ({
  workload: workload(w),
  imageScanning: true,
  namespaceCodeExcluded: false,
  previous: undefined,
  ...o,
});

const appScan = (s: WorkloadImageScan) =>
  new Map([
    [APP_RUN.key, s],
    [TOOLS_RUN.key, scanned(CODE)],
  ]);

describe('the code-scanning coverage of a workload', () => {
  it.each<[string, WorkloadCodeObservation, CoverageConfig, string, string | undefined]>([
    [
      'is SUCCESSFUL once every image was read with code scanning, whatever its OS',
      observe(),
      config(),
      'SUCCESSFUL',
      undefined,
    ],
    [
      'is not activated outside the selected namespaces',
      observe({ namespaceState: { selected: false, excluded: false } }),
      config(),
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
      undefined,
    ],
    [
      'is not activated without image scanning, and says what is missing',
      observe({}, { imageScanning: false }),
      config(),
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
      'add Image to spec.activation.scanTypes',
    ],
    [
      'is excluded by the code exclusion label on the workload',
      observe({ labels: { 'kubeinspector.io/exclude-code': 'true' } }),
      config(),
      'EXCLUDED_BY_TAG',
      undefined,
    ],
    [
      'is excluded by a code exclusion label of its own choosing',
      observe({ labels: { 'example.com/no-code-scan': '' } }),
      config({ workload: { codeExclusionLabel: 'example.com/no-code-scan' } }),
      'EXCLUDED_BY_TAG',
      undefined,
    ],
    [
      'is excluded by the code exclusion label on its namespace',
      observe({}, { namespaceCodeExcluded: true }),
      config(),
      'EXCLUDED_BY_TAG',
      undefined,
    ],
    [
      'is excluded by the general exclusion label',
      observe({ labels: { 'kubeinspector.io/exclude': '' } }),
      config(),
      'EXCLUDED_BY_TAG',
      undefined,
    ],
    [
      'expires when it has neither run nor changed within the eligibility window',
      observe({ pods: [], lastUpdatedAt: NOW - 91 * DAY_MS }),
      config(),
      'SCAN_ELIGIBILITY_EXPIRED',
      undefined,
    ],
    [
      'is pending while an image was scanned before code scanning was on',
      observe({ scans: appScan(scanned(undefined)) }),
      config(),
      'PENDING_INITIAL_SCAN',
      undefined,
    ],
    [
      'is pending while no pod reports an image digest',
      observe({ runs: [] }),
      config(),
      'PENDING_INITIAL_SCAN',
      undefined,
    ],
    [
      'reports an internal error of an image scan with its message',
      observe({ scans: appScan(failed('INTERNAL_ERROR', 'layer 2: unexpected EOF')) }),
      config(),
      'INTERNAL_ERROR',
      `image ${APP_RUN.key}: layer 2: unexpected EOF`,
    ],
    [
      'reports a refused image',
      observe({ scans: appScan(failed('ACCESS_DENIED', '401 Unauthorized')) }),
      config(),
      'ACCESS_DENIED',
      `image ${APP_RUN.key}: 401 Unauthorized`,
    ],
    [
      'is an unsupported runtime when no image can be read at all',
      observe({
        containers: [{ name: 'app', image: `${APP}:1` }],
        runs: [APP_RUN],
        scans: new Map([[APP_RUN.key, failed('UNSUPPORTED_MEDIA_TYPE', 'a Helm chart')]]),
      }),
      config(),
      'UNSUPPORTED_RUNTIME',
      `no image could be read for code scanning: image ${APP_RUN.key}: a Helm chart`,
    ],
    [
      'keeps SUCCESSFUL after a restart, when only the image coverage remembers the scan',
      observe(
        { scans: appScan(remembered) },
        {
          previous: {
            resourceType: 'WORKLOAD',
            resourceId: 'shop/Deployment/api',
            scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
            scanType: 'CODE',
          },
        },
      ),
      config(),
      'SUCCESSFUL',
      undefined,
    ],
    [
      'is pending after a restart when it had not been SUCCESSFUL',
      observe({ scans: appScan(remembered) }),
      config(),
      'PENDING_INITIAL_SCAN',
      undefined,
    ],
  ])('%s', (_title, o, c, reason, message) => {
    const { status } = decideWorkloadCode(o, c, NOW);
    expect(status.scanStatus.reason).toBe(reason);
    expect(status.scanStatus.statusCode).toBe(
      ['SUCCESSFUL', 'PENDING_INITIAL_SCAN'].includes(reason) ? 'ACTIVE' : 'INACTIVE',
    );
    if (message === undefined) expect(status.scanStatus.message).toBeUndefined();
    else expect(status.scanStatus.message).toContain(message);
  });

  it('is its own CoveredResource of scan type CODE beside the package one, with its own reason', () => {
    // The OS is one advisories are not published for: the package row cannot scan it, the code
    // row can (application files are read on any OS).
    const o = observe();
    const pkg = decideWorkload(o.workload, config(), NOW).status;
    const { status } = decideWorkloadCode(o, config(), NOW);
    expect(pkg.scanStatus.reason).toBe('UNSUPPORTED_RUNTIME');
    expect(status).toMatchObject({
      resourceType: 'WORKLOAD',
      resourceId: 'shop/Deployment/api',
      scanType: 'CODE',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      lastScannedAt: '2026-11-22T11:00:00Z',
      resource: { kind: 'Deployment', namespace: 'shop', name: 'api', uid: 'uid-1' },
      workload: { kind: 'Deployment', images: [APP_RUN.key, TOOLS_RUN.key] },
    });
    expect(coveredLabels(status, 'shop')).toEqual({
      'kubeinspector.io/resource-type': 'WORKLOAD',
      'kubeinspector.io/status-code': 'ACTIVE',
      'kubeinspector.io/reason': 'SUCCESSFUL',
      'kubeinspector.io/scan-type': 'CODE',
      'kubeinspector.io/resource-namespace': 'shop',
    });
    const name = coveredResourceName.workloadCode('shop', 'Deployment', 'api');
    expect(name).toBe('code-shop.deployment.api');
    expect(name).not.toBe(coveredResourceName.workload('shop', 'Deployment', 'api'));
    expect(resourceTypeOfName(name)).toBe('WORKLOAD');
  });

  it('requeues at the end of the eligibility window of a workload that does not run', () => {
    const updated = NOW - 10 * DAY_MS;
    const { coverage } = decideWorkloadCode(
      observe({ pods: [], lastUpdatedAt: updated }),
      config(),
      NOW,
    );
    expect(coverage.reason).toBe('SUCCESSFUL');
    expect(coverage.deadline).toBe(updated + 90 * DAY_MS);
  });

  it('keeps its last scan time when no result is held', () => {
    const previous: CoveredResourceStatus = {
      resourceType: 'WORKLOAD',
      resourceId: 'shop/Deployment/api',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      scanType: 'CODE',
      lastScannedAt: '2026-11-20T00:00:00Z',
    };
    const { status } = decideWorkloadCode(
      observe(
        {
          scans: new Map([
            [APP_RUN.key, remembered],
            [TOOLS_RUN.key, remembered],
          ]),
        },
        { previous },
      ),
      config(),
      NOW,
    );
    expect(status.lastScannedAt).toBe('2026-11-20T00:00:00Z');
  });
});
