import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import { type CoverageConfig, coverageConfig } from './config.ts';
import type { ScanResult } from './image.ts';
import { type RepositoryImage, decideRepository } from './repository.ts';

const REPOSITORY = 'r.example/team/app';
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;
const T = (s: number): string => `2026-11-22T12:00:${String(s).padStart(2, '0')}Z`;

function image(
  n: number,
  reason: CoveredResourceStatus['scanStatus']['reason'],
  extra: { lastScannedAt?: string; message?: string; result?: ScanResult } = {},
): RepositoryImage {
  return {
    status: {
      resourceType: 'CONTAINER_IMAGE',
      resourceId: `${REPOSITORY}@sha256:${String(n).repeat(64)}`,
      scanStatus: {
        statusCode: reason === 'SUCCESSFUL' ? 'ACTIVE' : 'INACTIVE',
        reason,
        ...(extra.message !== undefined ? { message: extra.message } : {}),
      },
      scanType: 'PACKAGE',
      scanMode: 'AGENTLESS',
      ...(extra.lastScannedAt !== undefined ? { lastScannedAt: extra.lastScannedAt } : {}),
    },
    result: extra.result,
  };
}
const denied = (at: number, message: string): ScanResult => ({
  scannedAt: at,
  outcome: { status: 'failed', reason: 'ACCESS_DENIED', message },
});

describe('repository coverage from its images', () => {
  it.each<[string, RepositoryImage[], CoverageConfig, string | undefined, string | undefined]>([
    ['a repository without images is removed', [], config(), undefined, undefined],
    [
      'a repository whose images are no longer activated is removed',
      [image(1, 'NO_SCAN_CONFIGURATION_ASSOCIATED'), image(2, 'PENDING_DISABLE')],
      config(),
      undefined,
      undefined,
    ],
    [
      'a repository is removed when the Image scan type is off',
      [image(1, 'SUCCESSFUL', { lastScannedAt: T(1) })],
      config({ activation: { scanTypes: ['Node'] } }),
      undefined,
      undefined,
    ],
    [
      'a repository with a scanned image is SUCCESSFUL',
      [image(1, 'SUCCESSFUL', { lastScannedAt: T(1) }), image(2, 'PENDING_INITIAL_SCAN')],
      config(),
      'SUCCESSFUL',
      undefined,
    ],
    [
      'every scanned image refused: ACCESS_DENIED naming the first, with the held message',
      [
        image(1, 'ACCESS_DENIED', { result: denied(1, 'registry said 401') }),
        image(2, 'ACCESS_DENIED', { result: denied(2, 'registry said 403') }),
      ],
      config(),
      'ACCESS_DENIED',
      `image ${REPOSITORY}@sha256:${'1'.repeat(64)}: registry said 401`,
    ],
    [
      'after a restart the remembered failure and message count',
      [
        image(3, 'INTERNAL_ERROR', { lastScannedAt: T(3), message: 'registry answered 500' }),
        image(4, 'PENDING_INITIAL_SCAN'),
      ],
      config(),
      'INTERNAL_ERROR',
      `image ${REPOSITORY}@sha256:${'3'.repeat(64)}: registry answered 500`,
    ],
    [
      'a failure without a message names the reason',
      [image(3, 'INTERNAL_ERROR', { lastScannedAt: T(3) })],
      config(),
      'INTERNAL_ERROR',
      `image ${REPOSITORY}@sha256:${'3'.repeat(64)}: INTERNAL_ERROR`,
    ],
    [
      'one image scanned beside a refused one keeps it SUCCESSFUL',
      [
        image(1, 'ACCESS_DENIED', { result: denied(1, 'no') }),
        image(2, 'SUCCESSFUL', { lastScannedAt: T(2) }),
      ],
      config(),
      'SUCCESSFUL',
      undefined,
    ],
    [
      'a manual repository says so',
      [image(1, 'SCAN_FREQUENCY_MANUAL')],
      config({ image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'MANUAL' }] } }),
      'SCAN_FREQUENCY_MANUAL',
      undefined,
    ],
  ])('%s', (_name, images, c, reason, message) => {
    const out = decideRepository(REPOSITORY, images, c);
    if (reason === undefined) {
      expect(out).toEqual({ kind: 'remove' });
      return;
    }
    if (out.kind !== 'write') throw new Error('expected a write');
    expect(out.status.scanStatus.reason).toBe(reason);
    expect(out.status.scanStatus.message).toBe(message);
  });

  it('the status names the repository, its frequency and its newest scan', () => {
    const out = decideRepository(
      REPOSITORY,
      [
        image(1, 'SUCCESSFUL', { lastScannedAt: T(5) }),
        image(2, 'SUCCESSFUL', { lastScannedAt: T(9) }),
        image(3, 'PENDING_DISABLE', { lastScannedAt: T(30) }),
      ],
      config({
        image: { repositoryRules: [{ filter: 'r.example/**', frequency: 'SCAN_ON_PUSH' }] },
      }),
    );
    expect(out).toEqual({
      kind: 'write',
      status: {
        resourceType: 'IMAGE_REPOSITORY',
        resourceId: REPOSITORY,
        scanStatus: { statusCode: 'ACTIVE', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH' },
        scanType: 'PACKAGE',
        scanMode: 'AGENTLESS',
        repository: { name: REPOSITORY, scanFrequency: 'SCAN_ON_PUSH' },
        lastScannedAt: T(9),
      },
    });
  });
});
