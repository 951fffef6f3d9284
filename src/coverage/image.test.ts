import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { Inventory, ScanOutcome } from '../scanner/types.ts';
import { type CoverageConfig, DAY_MS, coverageConfig } from './config.ts';
import {
  type ImageObservation,
  type ImageOutcome,
  type ImagePodUse,
  type ScanResult,
  KEEP_UNUSED_MS,
  decideImage,
  imageUsage,
  scanMessageOf,
  scanStateOf,
} from './image.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const REPOSITORY = 'r.example/team/app';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;

const pod = (f: Partial<ImagePodUse> = {}): ImagePodUse => ({
  selected: true,
  excluded: false,
  running: true,
  containers: [{ running: true, startedAt: NOW - HOUR, tag: '1.0' }],
  ...f,
});

function inventory(os: Inventory['os'] = undefined): Inventory {
  return {
    kind: 'image',
    target: `${REPOSITORY}@${DIGEST}`,
    image: {
      registry: 'r.example',
      repository: 'team/app',
      digest: DIGEST,
      configDigest: `sha256:${'c'.repeat(64)}`,
      platform: 'linux/arm64',
      compressedSize: 31_000_000,
      created: iso(NOW - 10 * DAY_MS),
    },
    ...(os !== undefined ? { os } : {}),
    packages: [],
    runtimes: [],
    layers: [],
    warnings: [],
    stats: { durationMs: 1, bytesDownloaded: 1, uncompressedBytes: 1, entries: 1 },
  };
}

const DEBIAN = { family: 'debian', version: '12', name: 'Debian GNU/Linux 12', supported: true };
const scanned = (at = NOW - HOUR, os: Inventory['os'] = DEBIAN): ScanResult => ({
  scannedAt: at,
  outcome: { status: 'inventory', inventory: inventory(os) },
});
const failedScan = (at: number, message = 'registry said 401'): ScanResult => ({
  scannedAt: at,
  outcome: { status: 'failed', reason: 'ACCESS_DENIED', message } satisfies ScanOutcome,
});

function previous(
  reason: CoveredResourceStatus['scanStatus']['reason'],
  extra: Partial<CoveredResourceStatus> = {},
  image: Partial<NonNullable<CoveredResourceStatus['image']>> = {},
): CoveredResourceStatus {
  return {
    resourceType: 'CONTAINER_IMAGE',
    resourceId: `${REPOSITORY}@${DIGEST}`,
    scanStatus: {
      statusCode: ['SUCCESSFUL', 'PENDING_INITIAL_SCAN'].includes(reason) ? 'ACTIVE' : 'INACTIVE',
      reason,
    },
    scanType: 'PACKAGE',
    scanMode: 'AGENTLESS',
    image: { repository: REPOSITORY, digest: DIGEST, ...image },
    ...extra,
  };
}

const observation = (o: Partial<ImageObservation> = {}): ImageObservation => ({
  repository: REPOSITORY,
  digest: DIGEST,
  pods: [pod()],
  previous: undefined,
  findingsRemain: false,
  result: undefined,
  scanInFlight: false,
  credentialsChanged: false,
  ...o,
});

type Written = Extract<ImageOutcome, { kind: 'write' }>;
function written(o: Partial<ImageObservation>, c = config()): Written {
  const out = decideImage(observation(o), c, NOW);
  if (out.kind !== 'write') throw new Error(`expected a write, got ${out.kind}`);
  return out;
}

describe('image coverage from its facts', () => {
  const onPush = config({
    image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'SCAN_ON_PUSH' }] },
  });
  const manual = config({
    image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'MANUAL' }] },
  });
  it.each<[string, Partial<ImageObservation>, CoverageConfig, Record<string, unknown>]>([
    [
      'a new image a running pod uses waits for its first scan and is in use from now',
      {},
      config(),
      {
        reason: 'PENDING_INITIAL_SCAN',
        inUseCount: 1,
        lastInUseAt: iso(NOW),
        scanState: 'pending',
      },
    ],
    [
      'a scanned image of a continuous repository is SUCCESSFUL, with what the scan found',
      { result: scanned() },
      config(),
      {
        reason: 'SUCCESSFUL',
        lastScannedAt: iso(NOW - HOUR),
        pushedAt: iso(NOW - 10 * DAY_MS),
        platform: 'DEBIAN_12',
        architecture: 'arm64',
        sizeBytes: 31_000_000,
        scanFrequency: 'CONTINUOUS_SCAN',
      },
    ],
    [
      'a scanned image of a scan-on-push repository says so',
      { result: scanned() },
      onPush,
      { reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH', scanFrequency: 'SCAN_ON_PUSH' },
    ],
    [
      'an image of a manual repository is not scanned',
      {},
      manual,
      { reason: 'SCAN_FREQUENCY_MANUAL', statusCode: 'INACTIVE' },
    ],
    [
      'an image only pods of unselected namespaces use is not activated',
      { pods: [pod({ selected: false })] },
      config(),
      { reason: 'NO_SCAN_CONFIGURATION_ASSOCIATED', inUseCount: 0, activeUsers: 0 },
    ],
    [
      'an image no longer activated whose findings remain is pending disable',
      { pods: [pod({ selected: false })], findingsRemain: true },
      config(),
      { reason: 'PENDING_DISABLE' },
    ],
    [
      'findings that remain do not matter while the image is activated',
      { findingsRemain: true },
      config(),
      { reason: 'PENDING_INITIAL_SCAN' },
    ],
    [
      'an image every activated pod excludes is excluded',
      { pods: [pod({ excluded: true }), pod({ excluded: true, running: false })] },
      config(),
      { reason: 'EXCLUDED_BY_TAG' },
    ],
    [
      'one activated pod not excluded keeps the image covered',
      { pods: [pod({ excluded: true }), pod()] },
      config(),
      { reason: 'PENDING_INITIAL_SCAN', inUseCount: 2, activeUsers: 2 },
    ],
    [
      'an excluded pod of an unselected namespace does not count',
      { pods: [pod({ selected: false, excluded: true }), pod()] },
      config(),
      { reason: 'PENDING_INITIAL_SCAN', inUseCount: 1, activeUsers: 1 },
    ],
    [
      'a held failed scan decides the reason, says why, and is announced by the write that records it',
      { result: failedScan(NOW - 60_000) },
      config(),
      {
        reason: 'ACCESS_DENIED',
        message: 'registry said 401',
        scanFailure: 'ACCESS_DENIED: registry said 401',
        lastScannedAt: iso(NOW - 60_000),
      },
    ],
    [
      'a failed scan already recorded is not announced again',
      {
        result: failedScan(NOW - 60_000),
        previous: previous('ACCESS_DENIED', { lastScannedAt: iso(NOW - 60_000) }),
      },
      config(),
      { reason: 'ACCESS_DENIED', message: 'registry said 401', scanFailure: undefined },
    ],
    [
      'after a restart a remembered failure keeps its reason, message and scan time',
      {
        previous: previous('ACCESS_DENIED', {
          lastScannedAt: iso(NOW - 5 * 60_000),
          scanStatus: { statusCode: 'INACTIVE', reason: 'ACCESS_DENIED', message: 'denied' },
        }),
      },
      config(),
      {
        reason: 'ACCESS_DENIED',
        message: 'denied',
        scanFailure: undefined,
        lastScanAt: NOW - 5 * 60_000,
        hasResult: false,
      },
    ],
    [
      'after a restart a remembered success stays SUCCESSFUL (no flap to pending)',
      { previous: previous('SUCCESSFUL', { lastScannedAt: iso(NOW - DAY_MS) }) },
      config(),
      { reason: 'SUCCESSFUL', scanState: 'inventory', lastScanAt: NOW - DAY_MS, hasResult: false },
    ],
    [
      'a remembered reason without a scan time is not a scan',
      { previous: previous('SUCCESSFUL') },
      config(),
      { reason: 'PENDING_INITIAL_SCAN', scanState: 'pending', lastScanAt: undefined },
    ],
    [
      'a failure that does not decide the reason carries no message',
      { result: failedScan(NOW - 60_000) },
      manual,
      { reason: 'SCAN_FREQUENCY_MANUAL', message: undefined, scanFailure: undefined },
    ],
    [
      'a scan that succeeded clears the message',
      {
        result: scanned(),
        previous: previous('ACCESS_DENIED', {
          scanStatus: { statusCode: 'INACTIVE', reason: 'ACCESS_DENIED', message: 'denied' },
        }),
      },
      config(),
      { reason: 'SUCCESSFUL', message: undefined },
    ],
    [
      'pull secrets that changed count only against a held result',
      { credentialsChanged: true },
      config(),
      { credentialsChanged: false },
    ],
    [
      'pull secrets that changed since the held result are reported',
      { credentialsChanged: true, result: failedScan(NOW - 60_000) },
      config(),
      { credentialsChanged: true },
    ],
    [
      'a scan under way is reported to the policy',
      { scanInFlight: true },
      config(),
      { inFlight: true },
    ],
  ])('%s', (_name, o, c, want) => {
    const out = written(o, c);
    const got = {
      reason: out.status.scanStatus.reason,
      statusCode: out.status.scanStatus.statusCode,
      message: out.status.scanStatus.message,
      scanFailure: out.scanFailure,
      lastScannedAt: out.status.lastScannedAt,
      pushedAt: out.status.image?.pushedAt,
      platform: out.status.image?.platform,
      architecture: out.status.image?.architecture,
      sizeBytes: out.status.image?.sizeBytes,
      inUseCount: out.status.image?.inUseCount,
      lastInUseAt: out.status.image?.lastInUseAt,
      scanFrequency: out.status.repository?.scanFrequency,
      scanState: out.scan.state,
      activeUsers: out.scan.activeUsers,
      lastScanAt: out.scan.lastScanAt,
      hasResult: out.scan.hasResult,
      credentialsChanged: out.scan.credentialsChanged,
      inFlight: out.scan.inFlight,
    };
    expect(got).toMatchObject(want);
    // The decision and the status agree, and the labels' words are the decision's.
    expect(out.status.scanStatus.reason).toBe(out.coverage.reason);
    expect(out.scan.reason).toBe(out.coverage.reason);
  });

  it('a long scanner message is cut to the schema bound', () => {
    const out = written({ result: failedScan(NOW - 60_000, 'x'.repeat(5000)) });
    expect(out.status.scanStatus.message).toHaveLength(1024);
    expect(out.status.scanStatus.message?.endsWith('…')).toBe(true);
  });

  it('the status names the image and keeps what the scan did not tell from before', () => {
    const out = written({
      previous: previous(
        'SUCCESSFUL',
        { lastScannedAt: iso(NOW - DAY_MS) },
        {
          platform: 'ALPINE_3_20',
          architecture: 'amd64',
          sizeBytes: 7,
          pushedAt: iso(NOW - 3 * DAY_MS),
        },
      ),
    });
    expect(out.status).toMatchObject({
      resourceType: 'CONTAINER_IMAGE',
      resourceId: `${REPOSITORY}@${DIGEST}`,
      scanType: 'PACKAGE',
      scanMode: 'AGENTLESS',
      lastScannedAt: iso(NOW - DAY_MS),
      repository: { name: REPOSITORY, scanFrequency: 'CONTINUOUS_SCAN' },
      image: {
        repository: REPOSITORY,
        digest: DIGEST,
        platform: 'ALPINE_3_20',
        architecture: 'amd64',
        sizeBytes: 7,
        pushedAt: iso(NOW - 3 * DAY_MS),
      },
    });
  });
});

describe('how the pods use an image', () => {
  const was = (image: Partial<NonNullable<CoveredResourceStatus['image']>>) =>
    previous('SUCCESSFUL', {}, image);
  it.each<
    [
      string,
      ImagePodUse[],
      CoveredResourceStatus | undefined,
      Partial<ReturnType<typeof imageUsage>>,
    ]
  >([
    [
      'first seen running: in use since now',
      [pod()],
      undefined,
      { inUseCount: 1, lastInUseAt: NOW },
    ],
    [
      'still running: the remembered time stays (no write per resync)',
      [pod()],
      was({ inUseCount: 1, lastInUseAt: iso(NOW - DAY_MS) }),
      { inUseCount: 1, lastInUseAt: NOW - DAY_MS },
    ],
    ['running but no time remembered: now', [pod()], was({ inUseCount: 1 }), { lastInUseAt: NOW }],
    [
      'stopped running: the time moves to now',
      [pod({ running: false })],
      was({ inUseCount: 2, lastInUseAt: iso(NOW - DAY_MS) }),
      { inUseCount: 0, lastInUseAt: NOW },
    ],
    [
      'not running before nor now: the remembered time stays',
      [pod({ running: false })],
      was({ inUseCount: 0, lastInUseAt: iso(NOW - DAY_MS) }),
      { inUseCount: 0, lastInUseAt: NOW - DAY_MS },
    ],
    [
      'a running pod whose container with the image is not running does not use it',
      [pod({ containers: [{ running: false, startedAt: undefined, tag: undefined }] })],
      undefined,
      { inUseCount: 0, lastInUseAt: undefined },
    ],
    [
      'a pod of an unselected namespace does not use it',
      [pod({ selected: false })],
      undefined,
      { inUseCount: 0, activated: false, activeUsers: 0 },
    ],
    [
      'the pull date is the latest container start, also of unselected pods',
      [
        pod({ containers: [{ running: true, startedAt: NOW - 5 * HOUR, tag: undefined }] }),
        pod({
          selected: false,
          containers: [{ running: true, startedAt: NOW - 2 * HOUR, tag: undefined }],
        }),
      ],
      was({ imagePulledAt: iso(NOW - 9 * HOUR) }),
      { pulledAt: NOW - 2 * HOUR },
    ],
    [
      'a later remembered pull date stays',
      [pod()],
      was({ imagePulledAt: iso(NOW - 60_000) }),
      { pulledAt: NOW - 60_000 },
    ],
    [
      'tags of every container, sorted and once each',
      [
        pod({
          containers: [
            { running: true, startedAt: undefined, tag: 'v2' },
            { running: true, startedAt: undefined, tag: 'v1' },
          ],
        }),
        pod({ containers: [{ running: true, startedAt: undefined, tag: 'v2' }] }),
      ],
      was({ tags: ['old'] }),
      { tags: ['v1', 'v2'] },
    ],
    [
      'with no pod left the remembered tags stay',
      [],
      was({ tags: ['old'], inUseCount: 1, lastInUseAt: iso(NOW - HOUR) }),
      { tags: ['old'], inUseCount: 0, lastInUseAt: NOW },
    ],
    ['with no pod left it keeps its activation', [], was({}), { activated: true, excluded: false }],
    [
      'with no pod left an image that was not activated stays so',
      [],
      previous('NO_SCAN_CONFIGURATION_ASSOCIATED'),
      { activated: false },
    ],
    [
      'with no pod left an image pending disable stays not activated',
      [],
      previous('PENDING_DISABLE'),
      { activated: false },
    ],
    [
      'with no pod left an excluded image stays excluded',
      [],
      previous('EXCLUDED_BY_TAG'),
      { activated: true, excluded: true },
    ],
  ])('%s', (_name, pods, prev, want) => {
    expect(imageUsage(pods, prev, NOW)).toMatchObject(want);
  });

  it('at most 64 tags', () => {
    const containers = Array.from({ length: 80 }, (_, i) => ({
      running: true,
      startedAt: undefined,
      tag: `t${String(i).padStart(3, '0')}`,
    }));
    const tags = imageUsage([pod({ containers })], undefined, NOW).tags;
    expect(tags).toHaveLength(64);
    expect(tags[0]).toBe('t000');
  });
});

describe('an image no pod uses any more', () => {
  const unused = (image: Partial<NonNullable<CoveredResourceStatus['image']>>, r = 'SUCCESSFUL') =>
    observation({
      pods: [],
      previous: previous(r as 'SUCCESSFUL', { lastScannedAt: iso(NOW - 40 * DAY_MS) }, image),
    });
  it.each<[string, ImageObservation, CoverageConfig, ImageOutcome['kind'], string?, number?]>([
    [
      'last used 20 days ago: no longer eligible, removed 30 days after it stopped being',
      unused({ lastInUseAt: iso(NOW - 20 * DAY_MS) }),
      config(),
      'write',
      'SCAN_ELIGIBILITY_EXPIRED',
      NOW - 6 * DAY_MS + KEEP_UNUSED_MS,
    ],
    [
      'last used 45 days ago: removed',
      unused({ lastInUseAt: iso(NOW - 45 * DAY_MS) }),
      config(),
      'remove',
    ],
    [
      'last used 2 days ago: still eligible until the pull window ends',
      unused({ lastInUseAt: iso(NOW - 2 * DAY_MS) }),
      config(),
      'write',
      'SUCCESSFUL',
      NOW + 12 * DAY_MS,
    ],
    [
      'a lifetime push window keeps it eligible; removal counts from the pull window',
      unused({ lastInUseAt: iso(NOW - 2 * DAY_MS) }),
      config({ image: { rescanDuration: 'LIFETIME' } }),
      'write',
      'SUCCESSFUL',
      NOW + 12 * DAY_MS + KEEP_UNUSED_MS,
    ],
    [
      'nothing known of its use: removal counts from now',
      unused({}),
      config(),
      'write',
      'SUCCESSFUL',
      NOW + 14 * DAY_MS + KEEP_UNUSED_MS,
    ],
    [
      'in LAST_PULL_DATE mode the pull date counts',
      unused({ imagePulledAt: iso(NOW - 50 * DAY_MS), lastInUseAt: iso(NOW - DAY_MS) }),
      config({ image: { pullDateRescanMode: 'LAST_PULL_DATE' } }),
      'remove',
    ],
  ])('%s', (_name, o, c, kind, reason, deadline) => {
    const out = decideImage(o, c, NOW);
    expect(out.kind).toBe(kind);
    if (out.kind === 'write') {
      expect(out.coverage.reason).toBe(reason);
      expect(out.deadline).toBe(deadline);
      expect(out.scan.activeUsers).toBe(0);
    }
  });
});

describe('the scan state of a digest', () => {
  it.each<[string, ScanResult | undefined, CoveredResourceStatus | undefined, string, boolean]>([
    ['a held inventory', scanned(), undefined, 'inventory', false],
    ['a held failure', failedScan(NOW), previous('SUCCESSFUL'), 'ACCESS_DENIED', false],
    [
      'a remembered scan-on-push result',
      undefined,
      previous('SCAN_FREQUENCY_SCAN_ON_PUSH', { lastScannedAt: iso(NOW) }),
      'inventory',
      true,
    ],
    [
      'a remembered size limit',
      undefined,
      previous('IMAGE_SIZE_EXCEEDED', { lastScannedAt: iso(NOW) }),
      'IMAGE_SIZE_EXCEEDED',
      true,
    ],
    [
      'a reason that records no scan',
      undefined,
      previous('EXCLUDED_BY_TAG', { lastScannedAt: iso(NOW) }),
      'pending',
      false,
    ],
    ['nothing known', undefined, undefined, 'pending', false],
  ])('%s', (_name, result, prev, state, remembered) => {
    expect(scanStateOf(result, prev)).toEqual({ state, remembered });
  });

  it('the message is the held result’s, else the remembered one', () => {
    const prev = previous('ACCESS_DENIED', {
      scanStatus: { statusCode: 'INACTIVE', reason: 'ACCESS_DENIED', message: 'old' },
    });
    expect(scanMessageOf(failedScan(NOW, 'new'), prev)).toBe('new');
    expect(scanMessageOf(scanned(), prev)).toBeUndefined();
    expect(scanMessageOf(undefined, prev)).toBe('old');
  });
});
