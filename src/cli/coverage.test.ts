import { describe, expect, it } from 'vitest';
import type { ResourceType } from '../api/v1alpha1/common.ts';
import type { CoveredResource, ScanStatusReason } from '../api/v1alpha1/covered-resource.ts';
import { parseCoverageArgs, renderCoverage, summarizeCoverage } from './coverage.ts';
import { InputError } from './errors.ts';

const covered = (
  resourceType: ResourceType,
  statusCode: 'ACTIVE' | 'INACTIVE',
  reason: ScanStatusReason,
): Pick<CoveredResource, 'status'> => ({
  status: { resourceType, resourceId: 'x', scanStatus: { statusCode, reason } },
});

const cluster = [
  covered('NODE', 'ACTIVE', 'SUCCESSFUL'),
  covered('NODE', 'ACTIVE', 'SUCCESSFUL'),
  covered('NODE', 'INACTIVE', 'STALE_INVENTORY'),
  covered('NODE', 'ACTIVE', 'DEEP_INSPECTION_NO_INVENTORY'),
  covered('CONTAINER_IMAGE', 'ACTIVE', 'SUCCESSFUL'),
  covered('CONTAINER_IMAGE', 'INACTIVE', 'ACCESS_DENIED'),
  covered('CONTAINER_IMAGE', 'INACTIVE', 'SCAN_FREQUENCY_MANUAL'),
  covered('CONTAINER_IMAGE', 'INACTIVE', 'ACCESS_DENIED'),
  covered('WORKLOAD', 'INACTIVE', 'EXCLUDED_BY_TAG'),
  { status: undefined },
];

describe('coverage summaries', () => {
  it('count All, Scanning (ACTIVE) and Not scanning (INACTIVE) per type, zeros included', () => {
    const s = summarizeCoverage(cluster);
    expect(s.resourceTypes.map((t) => [t.resourceType, t.all, t.scanning, t.notScanning])).toEqual([
      ['NODE', 4, 3, 1],
      ['CONTAINER_IMAGE', 4, 1, 3],
      ['IMAGE_REPOSITORY', 0, 0, 0],
      ['WORKLOAD', 1, 0, 1],
      ['NAMESPACE', 0, 0, 0],
    ]);
    expect(s.total).toEqual({ all: 9, scanning: 4, notScanning: 5 });
  });

  it('count each reason, most frequent first, then ACTIVE before INACTIVE, then by name', () => {
    const s = summarizeCoverage(cluster);
    expect(s.resourceTypes[0]!.reasons).toEqual([
      { statusCode: 'ACTIVE', reason: 'SUCCESSFUL', count: 2 },
      { statusCode: 'ACTIVE', reason: 'DEEP_INSPECTION_NO_INVENTORY', count: 1 },
      { statusCode: 'INACTIVE', reason: 'STALE_INVENTORY', count: 1 },
    ]);
    expect(s.resourceTypes[1]!.reasons[0]).toEqual({
      statusCode: 'INACTIVE',
      reason: 'ACCESS_DENIED',
      count: 2,
    });
  });

  it('leave out objects with no status and types not asked for', () => {
    const s = summarizeCoverage(cluster, ['WORKLOAD']);
    expect(s.resourceTypes.map((t) => t.resourceType)).toEqual(['WORKLOAD']);
    expect(s.total).toEqual({ all: 1, scanning: 0, notScanning: 1 });
  });

  it('render as a type table, then a reason table for each type that has resources', () => {
    const text = renderCoverage(summarizeCoverage(cluster));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^RESOURCE TYPE\s+ALL\s+SCANNING\s+NOT SCANNING$/);
    expect(lines[1]).toMatch(/^NODE\s+4\s+3\s+1$/);
    expect(lines).toContainEqual(expect.stringMatching(/^IMAGE_REPOSITORY\s+0\s+0\s+0$/));
    expect(lines).toContainEqual(expect.stringMatching(/^TOTAL\s+9\s+4\s+5$/));
    expect(text).toContain('NODE: 4 resources, 3 scanning, 1 not scanning');
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}INACTIVE\s+STALE_INVENTORY\s+1$/));
    expect(text).not.toContain('IMAGE_REPOSITORY: ');
  });
});

describe('the code-scanning table', () => {
  const code = (statusCode: 'ACTIVE' | 'INACTIVE', reason: ScanStatusReason) => ({
    status: {
      ...covered('WORKLOAD', statusCode, reason).status!,
      scanType: 'CODE' as const,
    },
  });
  const withCode = [
    ...cluster,
    code('ACTIVE', 'SUCCESSFUL'),
    code('ACTIVE', 'SUCCESSFUL'),
    code('INACTIVE', 'EXCLUDED_BY_TAG'),
    code('ACTIVE', 'PENDING_INITIAL_SCAN'),
  ];

  it('counts CODE coverage apart from the workloads and the total', () => {
    const s = summarizeCoverage(withCode);
    expect(s.resourceTypes.find((t) => t.resourceType === 'WORKLOAD')).toMatchObject({ all: 1 });
    expect(s.total).toEqual({ all: 9, scanning: 4, notScanning: 5 });
    expect(s.codeScanning).toEqual({
      resourceType: 'WORKLOAD',
      all: 4,
      scanning: 3,
      notScanning: 1,
      reasons: [
        { statusCode: 'ACTIVE', reason: 'SUCCESSFUL', count: 2 },
        { statusCode: 'ACTIVE', reason: 'PENDING_INITIAL_SCAN', count: 1 },
        { statusCode: 'INACTIVE', reason: 'EXCLUDED_BY_TAG', count: 1 },
      ],
    });
    expect(summarizeCoverage(cluster).codeScanning).toBeUndefined();
    expect(summarizeCoverage(withCode, ['NODE']).codeScanning).toBeUndefined();
  });

  it('renders as a table of its own with its reasons', () => {
    const text = renderCoverage(summarizeCoverage(withCode));
    const lines = text.split('\n');
    const at = lines.indexOf('CODE SCANNING');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^RESOURCE TYPE\s+ALL\s+SCANNING\s+NOT SCANNING$/);
    expect(lines[at + 2]).toMatch(/^WORKLOAD\s+4\s+3\s+1$/);
    expect(text).toContain('WORKLOAD code scanning: 4 resources, 3 scanning, 1 not scanning');
    expect(lines.slice(at)).toContainEqual(
      expect.stringMatching(/^ {2}INACTIVE\s+EXCLUDED_BY_TAG\s+1$/),
    );
    expect(renderCoverage(summarizeCoverage(cluster))).not.toContain('CODE SCANNING');
  });
});

describe('coverage flags', () => {
  it('take types case-insensitively, comma-separated or repeated, in the usual order', () => {
    expect(parseCoverageArgs(['--type', 'container_image,NODE', '--type', 'node']).types).toEqual([
      'NODE',
      'CONTAINER_IMAGE',
    ]);
    expect(parseCoverageArgs([]).types).toHaveLength(5);
  });

  it('refuse an unknown type or output, naming the flag', () => {
    expect(() => parseCoverageArgs(['--type', 'LAMBDA'])).toThrow(InputError);
    expect(() => parseCoverageArgs(['--type', 'LAMBDA'])).toThrow(
      /--type must be one of NODE, CONTAINER_IMAGE, .*got "LAMBDA"/,
    );
    expect(() => parseCoverageArgs(['-o', 'yaml'])).toThrow(
      /-o\/--output must be table or json, got "yaml"/,
    );
  });
});
