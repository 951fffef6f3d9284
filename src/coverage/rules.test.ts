import { describe, expect, it } from 'vitest';
import { coverageConfig, DAY_MS, type CoverageConfig } from './config.ts';
import {
  imageCoverage,
  type ImageFacts,
  namespaceCoverage,
  nodeCoverage,
  type NodeFacts,
  repositoryCoverage,
  workloadCoverage,
  type WorkloadFacts,
} from './rules.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;
const base = config();

const node = (f: Partial<NodeFacts> = {}): NodeFacts => ({
  exists: true,
  pendingDisable: false,
  excluded: false,
  ready: { status: 'True', since: NOW - DAY_MS },
  operatingSystem: 'linux',
  architecture: 'amd64',
  agentPod: true,
  inventory: { collectedAt: NOW - 3_600_000, errorCodes: [], packages: 400 },
  lastScannedAt: NOW - 3_600_000,
  ...f,
});

describe('node coverage', () => {
  const cases: [string, Partial<NodeFacts>, string, string?][] = [
    ['a node with a fresh evaluated inventory is scanned', {}, 'SUCCESSFUL'],
    [
      'a fresh inventory not yet evaluated is pending its initial scan',
      { lastScannedAt: undefined },
      'PENDING_INITIAL_SCAN',
    ],
    ['a deleted node is terminated', { exists: false, excluded: true }, 'RESOURCE_TERMINATED'],
    [
      'a node of a disabled scan type is pending disable',
      { pendingDisable: true },
      'PENDING_DISABLE',
    ],
    [
      'the exclusion label wins over everything but deletion',
      { excluded: true, agentPod: false },
      'EXCLUDED_BY_TAG',
    ],
    [
      'NotReady past the grace is stopped',
      { ready: { status: 'False', since: NOW - 301_000 } },
      'RESOURCE_STOPPED',
    ],
    [
      'Unknown past the grace is stopped',
      { ready: { status: 'Unknown', since: NOW - 3_600_000 } },
      'RESOURCE_STOPPED',
    ],
    [
      'NotReady within the grace still counts as running, with a deadline',
      { ready: { status: 'False', since: NOW - 100_000 } },
      'SUCCESSFUL',
      'deadline',
    ],
    ['a Windows node is unsupported', { operatingSystem: 'windows' }, 'UNSUPPORTED_OS'],
    ['an s390x node is unsupported', { architecture: 's390x' }, 'UNSUPPORTED_OS'],
    [
      'an agent that reports an unknown OS makes it unsupported',
      { inventory: { collectedAt: NOW, errorCodes: ['UNSUPPORTED_OS'], packages: 0 } },
      'UNSUPPORTED_OS',
    ],
    ['no agent pod on the node is unmanaged', { agentPod: false }, 'RESOURCE_UNMANAGED'],
    ['no NodeInventory is no inventory', { inventory: undefined }, 'NO_INVENTORY'],
    [
      'an inventory older than 7 days is stale',
      { inventory: { collectedAt: NOW - 8 * DAY_MS, errorCodes: [], packages: 3 } },
      'STALE_INVENTORY',
    ],
    [
      'a read error with no packages is an internal error',
      { inventory: { collectedAt: NOW, errorCodes: ['READ_ERROR'], packages: 0 } },
      'INTERNAL_ERROR',
    ],
    [
      'an agent that registered but has not collected yet',
      { inventory: { collectedAt: undefined, errorCodes: [], packages: 0 } },
      'DEEP_INSPECTION_NO_INVENTORY',
    ],
    [
      'the package limit is reported and the node stays active',
      {
        inventory: {
          collectedAt: NOW,
          errorCodes: ['PACKAGE_COLLECTION_LIMIT_EXCEEDED'],
          packages: 5000,
        },
      },
      'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
    ],
    [
      'the time limit is reported and the node stays active',
      {
        inventory: {
          collectedAt: NOW,
          errorCodes: ['COLLECTION_TIME_LIMIT_EXCEEDED'],
          packages: 10,
        },
      },
      'DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED',
    ],
  ];
  it.each(cases)('%s', (_name, facts, reason, deadline) => {
    const d = nodeCoverage(node(facts), base, NOW);
    expect(d.reason).toBe(reason);
    if (deadline) expect(d.deadline).toBeGreaterThan(NOW);
  });

  it('a fresh inventory turns stale exactly staleInventoryDays after collection', () => {
    const collectedAt = NOW - 7 * DAY_MS + 5_000;
    const d = nodeCoverage(
      node({ inventory: { collectedAt, errorCodes: [], packages: 1 } }),
      base,
      NOW,
    );
    expect(d).toEqual({
      statusCode: 'ACTIVE',
      reason: 'SUCCESSFUL',
      deadline: collectedAt + 7 * DAY_MS,
    });
    expect(
      nodeCoverage(
        node({ inventory: { collectedAt, errorCodes: [], packages: 1 } }),
        base,
        d.deadline!,
      ).reason,
    ).toBe('STALE_INVENTORY');
  });

  it('status codes follow the reason', () => {
    expect(nodeCoverage(node(), base, NOW).statusCode).toBe('ACTIVE');
    expect(nodeCoverage(node({ agentPod: false }), base, NOW).statusCode).toBe('INACTIVE');
  });
});

const image = (f: Partial<ImageFacts> = {}): ImageFacts => ({
  pendingDisable: false,
  activated: true,
  excluded: false,
  frequency: 'CONTINUOUS_SCAN',
  inUse: true,
  pushedAt: NOW - 10 * DAY_MS,
  pulledAt: NOW - DAY_MS,
  lastInUseAt: NOW - DAY_MS,
  scan: 'inventory',
  ...f,
});

describe('image coverage', () => {
  const cases: [string, Partial<ImageFacts>, string][] = [
    ['a scanned continuous image is successful', {}, 'SUCCESSFUL'],
    [
      'a scanned scan-on-push image says so',
      { frequency: 'SCAN_ON_PUSH' },
      'SCAN_FREQUENCY_SCAN_ON_PUSH',
    ],
    ['an image not scanned yet is pending', { scan: 'pending' }, 'PENDING_INITIAL_SCAN'],
    [
      'a manual repository is never scanned',
      { frequency: 'MANUAL', scan: 'pending' },
      'SCAN_FREQUENCY_MANUAL',
    ],
    [
      'used only in namespaces not activated',
      { activated: false, excluded: true },
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
    ],
    ['pending disable wins', { pendingDisable: true, activated: false }, 'PENDING_DISABLE'],
    ['every user excluded', { excluded: true, frequency: 'MANUAL' }, 'EXCLUDED_BY_TAG'],
    [
      'not in use, pushed 100 days ago and last used 20 days ago: expired',
      { inUse: false, pushedAt: NOW - 100 * DAY_MS, lastInUseAt: NOW - 20 * DAY_MS },
      'SCAN_ELIGIBILITY_EXPIRED',
    ],
    [
      'not in use but pushed recently: still eligible',
      { inUse: false, pushedAt: NOW - 5 * DAY_MS, lastInUseAt: NOW - 60 * DAY_MS },
      'SUCCESSFUL',
    ],
    [
      'in use now is always eligible',
      { inUse: true, pushedAt: NOW - 900 * DAY_MS, lastInUseAt: NOW - 900 * DAY_MS },
      'SUCCESSFUL',
    ],
    ['access denied', { scan: 'ACCESS_DENIED' }, 'ACCESS_DENIED'],
    ['unsupported media type', { scan: 'UNSUPPORTED_MEDIA_TYPE' }, 'UNSUPPORTED_MEDIA_TYPE'],
    ['unsupported OS', { scan: 'UNSUPPORTED_OS' }, 'UNSUPPORTED_OS'],
    ['too large', { scan: 'IMAGE_SIZE_EXCEEDED' }, 'IMAGE_SIZE_EXCEEDED'],
    ['scanner failure', { scan: 'INTERNAL_ERROR' }, 'INTERNAL_ERROR'],
  ];
  it.each(cases)('%s', (_name, facts, reason) => {
    expect(imageCoverage(image(facts), base, NOW).reason).toBe(reason);
  });

  it('LIFETIME keeps an unused image eligible forever', () => {
    const c = config({ image: { rescanDuration: 'LIFETIME' } });
    const f = image({
      inUse: false,
      pushedAt: NOW - 3000 * DAY_MS,
      lastInUseAt: NOW - 3000 * DAY_MS,
    });
    expect(imageCoverage(f, c, NOW).reason).toBe('SUCCESSFUL');
  });

  it('LAST_PULL_DATE counts from the pull date, not from the last use', () => {
    const c = config({ image: { pullDateRescanMode: 'LAST_PULL_DATE', rescanDuration: 'DAYS_3' } });
    const f = image({
      inUse: false,
      pushedAt: NOW - 30 * DAY_MS,
      pulledAt: NOW - 20 * DAY_MS,
      lastInUseAt: NOW - DAY_MS,
    });
    expect(imageCoverage(f, c, NOW).reason).toBe('SCAN_ELIGIBILITY_EXPIRED');
    expect(imageCoverage(f, config({ image: { rescanDuration: 'DAYS_3' } }), NOW).reason).toBe(
      'SUCCESSFUL',
    );
  });

  it('an unused image expires at the later of its push and pull windows', () => {
    const c = config({ image: { rescanDuration: 'DAYS_3', pullDateRescanDuration: 'DAYS_3' } });
    const f = image({ inUse: false, pushedAt: NOW - 2 * DAY_MS, lastInUseAt: NOW - DAY_MS });
    const d = imageCoverage(f, c, NOW);
    expect(d.deadline).toBe(NOW + 2 * DAY_MS);
    expect(imageCoverage(f, c, d.deadline!).reason).toBe('SCAN_ELIGIBILITY_EXPIRED');
  });
});

describe('repository coverage', () => {
  it.each([
    ['continuous by default', 'CONTINUOUS_SCAN', ['inventory'], 'SUCCESSFUL'],
    ['scan on push', 'SCAN_ON_PUSH', ['pending'], 'SCAN_FREQUENCY_SCAN_ON_PUSH'],
    ['manual', 'MANUAL', ['inventory'], 'SCAN_FREQUENCY_MANUAL'],
    ['every image denied', 'CONTINUOUS_SCAN', ['ACCESS_DENIED', 'ACCESS_DENIED'], 'ACCESS_DENIED'],
    [
      'one image of two denied is still scanned',
      'CONTINUOUS_SCAN',
      ['ACCESS_DENIED', 'inventory'],
      'SUCCESSFUL',
    ],
    ['every image failed internally', 'CONTINUOUS_SCAN', ['INTERNAL_ERROR'], 'INTERNAL_ERROR'],
  ] as const)('%s', (_name, frequency, states, reason) => {
    expect(repositoryCoverage(frequency, states).reason).toBe(reason);
  });
});

const workload = (f: Partial<WorkloadFacts> = {}): WorkloadFacts => ({
  namespaceActivated: true,
  excluded: false,
  running: true,
  lastUpdatedAt: NOW - 200 * DAY_MS,
  lastInvokedAt: NOW - DAY_MS,
  images: ['inventory'],
  ...f,
});

describe('workload coverage', () => {
  const cases: [string, Partial<WorkloadFacts>, string][] = [
    ['all images scanned', {}, 'SUCCESSFUL'],
    [
      'namespace not activated',
      { namespaceActivated: false, excluded: true },
      'NO_SCAN_CONFIGURATION_ASSOCIATED',
    ],
    ['excluded by label', { excluded: true }, 'EXCLUDED_BY_TAG'],
    [
      'scaled to zero and untouched for 100 days',
      { running: false, lastUpdatedAt: NOW - 100 * DAY_MS, lastInvokedAt: NOW - 100 * DAY_MS },
      'SCAN_ELIGIBILITY_EXPIRED',
    ],
    [
      'an idle CronJob updated recently stays eligible',
      { running: false, lastUpdatedAt: NOW - 10 * DAY_MS, lastInvokedAt: undefined },
      'SUCCESSFUL',
    ],
    [
      'a running pod keeps an old workload eligible',
      { lastUpdatedAt: NOW - 900 * DAY_MS },
      'SUCCESSFUL',
    ],
    ['one image denied', { images: ['inventory', 'ACCESS_DENIED'] }, 'ACCESS_DENIED'],
    [
      'no image yields an inventory',
      { images: ['UNSUPPORTED_OS', 'UNSUPPORTED_MEDIA_TYPE'] },
      'UNSUPPORTED_RUNTIME',
    ],
    ['one image failed', { images: ['inventory', 'INTERNAL_ERROR'] }, 'INTERNAL_ERROR'],
    ['an image not scanned yet', { images: ['inventory', 'pending'] }, 'PENDING_INITIAL_SCAN'],
    ['no pod reported its images yet', { images: [] }, 'PENDING_INITIAL_SCAN'],
    ['every image in manual repositories', { images: ['manual'] }, 'SCAN_FREQUENCY_MANUAL'],
    [
      'an unsupported sidecar beside a scanned image',
      { images: ['inventory', 'UNSUPPORTED_OS'] },
      'SUCCESSFUL',
    ],
  ];
  it.each(cases)('%s', (_name, facts, reason) => {
    expect(workloadCoverage(workload(facts), base, NOW).reason).toBe(reason);
  });

  it('expires exactly eligibilityDays after the last update or run', () => {
    const f = workload({
      running: false,
      lastUpdatedAt: NOW - 90 * DAY_MS + 5_000,
      lastInvokedAt: undefined,
    });
    const d = workloadCoverage(f, base, NOW);
    expect(d.deadline).toBe(NOW + 5_000);
    expect(workloadCoverage(f, base, d.deadline!).reason).toBe('SCAN_ELIGIBILITY_EXPIRED');
  });
});

describe('namespace coverage', () => {
  it.each([
    ['selected and not excluded', { selected: true, excluded: false }, 'SUCCESSFUL'],
    ['excluded by label', { selected: true, excluded: true }, 'EXCLUDED_BY_TAG'],
    ['not selected', { selected: false, excluded: true }, 'NO_SCAN_CONFIGURATION_ASSOCIATED'],
  ] as const)('%s', (_name, facts, reason) => {
    expect(namespaceCoverage(facts).reason).toBe(reason);
  });
});
