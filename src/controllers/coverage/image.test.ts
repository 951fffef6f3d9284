/**
 * The image reconciler's decisions without an API server: the pure image decision
 * (src/coverage/image.ts) composed with the scan service's policy, as `imageReconciler` composes
 * them, over an image's facts: whether the reconcile asks for a scan, and when it looks again.
 */
import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../../api/v1alpha1/covered-resource.ts';
import { type CoverageConfig, DAY_MS, coverageConfig } from '../../coverage/config.ts';
import {
  type ImageObservation,
  type ImagePodUse,
  type ScanResult,
  decideImage,
} from '../../coverage/image.ts';
import { earliest } from '../../coverage/rules.ts';
import { RETRY_FAILED_SCAN_MS, coverageScanDecision } from '../scans/policy.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const MIN = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const REPOSITORY = 'r.example/team/app';
const DIGEST = `sha256:${'b'.repeat(64)}`;
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;

const user = (f: Partial<ImagePodUse> = {}): ImagePodUse => ({
  selected: true,
  excluded: false,
  running: true,
  containers: [{ running: true, startedAt: NOW - MIN, tag: undefined }],
  ...f,
});
const failure = (at: number): ScanResult => ({
  scannedAt: at,
  outcome: { status: 'failed', reason: 'INTERNAL_ERROR', message: 'registry answered 500' },
});
const remembered = (
  reason: CoveredResourceStatus['scanStatus']['reason'],
  at: number,
): CoveredResourceStatus => ({
  resourceType: 'CONTAINER_IMAGE',
  resourceId: `${REPOSITORY}@${DIGEST}`,
  scanStatus: { statusCode: reason === 'SUCCESSFUL' ? 'ACTIVE' : 'INACTIVE', reason },
  scanType: 'PACKAGE',
  scanMode: 'AGENTLESS',
  lastScannedAt: iso(at),
  image: { repository: REPOSITORY, digest: DIGEST, inUseCount: 1, lastInUseAt: iso(NOW - DAY_MS) },
});

/** What one reconcile does: asks for a scan or not, and when it comes back on its own. */
function reconcile(o: Partial<ImageObservation>, c = config()) {
  const out = decideImage(
    {
      repository: REPOSITORY,
      digest: DIGEST,
      pods: [user()],
      previous: undefined,
      findingsRemain: false,
      result: undefined,
      scanInFlight: false,
      credentialsChanged: false,
      ...o,
    },
    c,
    NOW,
  );
  if (out.kind === 'remove') return { scan: false, requeueAt: undefined, removed: true };
  const scan = coverageScanDecision(out.scan);
  return { scan: scan.scan, requeueAt: earliest(NOW, out.deadline, scan.retryAt), removed: false };
}

describe('image scan and retry policy over an image’s facts', () => {
  const manual = config({
    image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'MANUAL' }] },
  });
  const onPush = config({
    image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'SCAN_ON_PUSH' }] },
  });
  it.each<[string, Partial<ImageObservation>, CoverageConfig, boolean, number | undefined]>([
    ['an image a running pod uses is scanned at once', {}, config(), true, undefined],
    [
      'an image a pod that is not running uses is scanned too',
      { pods: [user({ running: false })] },
      config(),
      true,
      undefined,
    ],
    [
      'an image whose scan waits or runs is not asked again',
      { scanInFlight: true },
      config(),
      false,
      undefined,
    ],
    [
      'an image only unselected namespaces use is not scanned',
      { pods: [user({ selected: false })] },
      config(),
      false,
      undefined,
    ],
    [
      'an image every user excludes is not scanned',
      { pods: [user({ excluded: true })] },
      config(),
      false,
      undefined,
    ],
    ['an image of a manual repository is not scanned', {}, manual, false, undefined],
    [
      'a failure in a repository made manual since is not retried',
      { result: failure(NOW - 30 * MIN) },
      manual,
      false,
      undefined,
    ],
    [
      'a failed scan is retried 10 minutes after it ended, not before',
      { result: failure(NOW - 4 * MIN) },
      config(),
      false,
      NOW - 4 * MIN + RETRY_FAILED_SCAN_MS,
    ],
    [
      'a failed scan older than the retry delay is retried now',
      { result: failure(NOW - 11 * MIN) },
      config(),
      true,
      undefined,
    ],
    [
      'a failed scan is retried at once when the pull secrets changed',
      { result: failure(NOW - MIN), credentialsChanged: true },
      config(),
      true,
      undefined,
    ],
    [
      'a failed scan under way again is not asked twice',
      { result: failure(NOW - 11 * MIN), scanInFlight: true },
      config(),
      false,
      undefined,
    ],
    [
      'after a restart a remembered failure is retried 10 minutes after the recorded scan',
      { previous: remembered('INTERNAL_ERROR', NOW - 3 * MIN) },
      config(),
      false,
      NOW - 3 * MIN + RETRY_FAILED_SCAN_MS,
    ],
    [
      'after a restart changed pull secrets do not hasten a remembered failure (no result to compare)',
      { previous: remembered('INTERNAL_ERROR', NOW - 3 * MIN), credentialsChanged: true },
      config(),
      false,
      NOW - 3 * MIN + RETRY_FAILED_SCAN_MS,
    ],
    [
      'after a restart a remembered old failure is retried now',
      { previous: remembered('INTERNAL_ERROR', NOW - 20 * MIN) },
      config(),
      true,
      undefined,
    ],
    [
      'after a restart a continuous image is rescanned in the background (findings need it)',
      { previous: remembered('SUCCESSFUL', NOW - DAY_MS) },
      config(),
      true,
      undefined,
    ],
    [
      'after a restart a scan-on-push image is not rescanned',
      { previous: remembered('SCAN_FREQUENCY_SCAN_ON_PUSH', NOW - DAY_MS) },
      onPush,
      false,
      undefined,
    ],
    [
      'a continuous image with a result is not scanned again',
      {
        result: {
          scannedAt: NOW - DAY_MS,
          outcome: {
            status: 'inventory',
            inventory: {
              kind: 'image',
              target: REPOSITORY,
              packages: [],
              runtimes: [],
              layers: [],
              warnings: [],
              stats: { durationMs: 1, bytesDownloaded: 1, uncompressedBytes: 1, entries: 1 },
            },
          },
        },
      },
      config(),
      false,
      undefined,
    ],
    [
      'an image no pod uses any more is never scanned; it stopped being in use now and comes back when its eligibility ends',
      { pods: [], previous: remembered('INTERNAL_ERROR', NOW - 20 * MIN) },
      config(),
      false,
      NOW + 14 * DAY_MS,
    ],
  ])('%s', (_name, o, c, scan, requeueAt) => {
    expect(reconcile(o, c)).toEqual({ scan, requeueAt, removed: false });
  });

  it('an image unused past its keep time is removed, not scanned', () => {
    expect(
      reconcile({ pods: [], previous: remembered('INTERNAL_ERROR', NOW - 90 * DAY_MS) }),
    ).toMatchObject({ removed: false, scan: false });
    const gone = remembered('SUCCESSFUL', NOW - 90 * DAY_MS);
    gone.image = { ...gone.image!, inUseCount: 0, lastInUseAt: iso(NOW - 60 * DAY_MS) };
    expect(reconcile({ pods: [], previous: gone })).toEqual({
      scan: false,
      requeueAt: undefined,
      removed: true,
    });
  });
});
