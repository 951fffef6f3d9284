import { describe, expect, it } from 'vitest';
import type { CoveredResourceStatus } from '../api/v1alpha1/covered-resource.ts';
import type { NodeInventoryStatus } from '../api/v1alpha1/node-inventory.ts';
import { type CoverageConfig, DAY_MS, coverageConfig } from './config.ts';
import { type NodeObservation, type NodeOutcome, type NodeStatusLike, decideNode } from './node.ts';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const config = (spec: unknown = {}): CoverageConfig => coverageConfig(spec).config;

const readyNode = (f: Partial<NodeStatusLike> = {}): NodeStatusLike => ({
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso(NOW - DAY_MS) }],
  nodeInfo: {
    operatingSystem: 'linux',
    architecture: 'amd64',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    kernelVersion: '6.1.0-node',
  },
  ...f,
});
const INVENTORY: Partial<NodeInventoryStatus> = {
  os: { id: 'debian', versionId: '12', platform: 'DEBIAN_12' },
  kernelVersion: '6.1.0-inventory',
  architecture: 'amd64',
  packages: [{ name: 'bash', version: '5.2', ecosystem: 'Debian:12' }],
  collectedAt: iso(NOW - HOUR),
};
const recorded = (reason: CoveredResourceStatus['scanStatus']['reason'], at?: number) =>
  ({
    resourceType: 'NODE',
    resourceId: 'n1',
    scanStatus: { statusCode: 'ACTIVE', reason },
    scanType: 'PACKAGE',
    scanMode: 'AGENT_BASED',
    ...(at !== undefined ? { lastScannedAt: iso(at) } : {}),
  }) satisfies CoveredResourceStatus;

const observation = (o: Partial<NodeObservation> = {}): NodeObservation => ({
  name: 'n1',
  node: { uid: 'uid-n1', labels: { zone: 'a' }, status: readyNode() },
  inventory: INVENTORY,
  agentPod: true,
  openFindings: false,
  previous: undefined,
  ...o,
});
const written = (out: NodeOutcome) => {
  if (out.kind !== 'write') throw new Error(`expected a write, got ${out.kind}`);
  return out;
};

describe('node coverage from its facts', () => {
  it.each<[string, Partial<NodeObservation>, string, string | undefined, number | undefined]>([
    [
      'a ready node with a fresh inventory reaches SUCCESSFUL in the write that records it',
      {},
      'SUCCESSFUL',
      iso(NOW - HOUR),
      NOW - HOUR + 7 * DAY_MS,
    ],
    [
      'a node without an agent pod is unmanaged; the recorded scan time stays',
      { agentPod: false, previous: recorded('SUCCESSFUL', NOW - 2 * DAY_MS) },
      'RESOURCE_UNMANAGED',
      iso(NOW - 2 * DAY_MS),
      undefined,
    ],
    [
      'a node without an inventory has none',
      { inventory: undefined },
      'NO_INVENTORY',
      undefined,
      undefined,
    ],
    [
      'an inventory object with no status yet is not an inventory yet',
      { inventory: {} },
      'DEEP_INSPECTION_NO_INVENTORY',
      undefined,
      undefined,
    ],
    [
      'an inventory eight days old is stale, and not recorded as evaluated',
      { inventory: { ...INVENTORY, collectedAt: iso(NOW - 8 * DAY_MS) } },
      'STALE_INVENTORY',
      undefined,
      undefined,
    ],
    [
      'a node carrying the exclusion label is excluded',
      {
        node: {
          uid: 'uid-n1',
          labels: { 'kubeinspector.io/exclude': 'true' },
          status: readyNode(),
        },
        previous: recorded('SUCCESSFUL', NOW - 3 * DAY_MS),
      },
      'EXCLUDED_BY_TAG',
      iso(NOW - 3 * DAY_MS),
      undefined,
    ],
    [
      'a node NotReady within the grace keeps its reason until the grace ends',
      {
        node: {
          uid: 'uid-n1',
          labels: undefined,
          status: readyNode({
            conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: iso(NOW - 60_000) }],
          }),
        },
      },
      'SUCCESSFUL',
      iso(NOW - HOUR),
      NOW - 60_000 + 300_000,
    ],
    [
      'a node NotReady past the grace is stopped',
      {
        node: {
          uid: 'uid-n1',
          labels: undefined,
          status: readyNode({
            conditions: [{ type: 'Ready', status: 'Unknown', lastTransitionTime: iso(NOW - HOUR) }],
          }),
        },
      },
      'RESOURCE_STOPPED',
      undefined,
      undefined,
    ],
    [
      'a Windows node is unsupported',
      {
        node: {
          uid: 'uid-n1',
          labels: undefined,
          status: readyNode({ nodeInfo: { operatingSystem: 'windows', architecture: 'amd64' } }),
        },
      },
      'UNSUPPORTED_OS',
      undefined,
      undefined,
    ],
    [
      'an architecture the node does not report comes from the inventory',
      {
        node: { uid: 'uid-n1', labels: undefined, status: readyNode({ nodeInfo: {} }) },
        inventory: { ...INVENTORY, architecture: 's390x' },
      },
      'UNSUPPORTED_OS',
      undefined,
      undefined,
    ],
    [
      'a collection that hit the package limit says so',
      {
        inventory: {
          ...INVENTORY,
          errors: [{ code: 'PACKAGE_COLLECTION_LIMIT_EXCEEDED', message: 'too many' }],
        },
      },
      'DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED',
      iso(NOW - HOUR),
      NOW - HOUR + 7 * DAY_MS,
    ],
    [
      'a collection that read nothing is an internal error',
      {
        inventory: {
          ...INVENTORY,
          packages: [],
          errors: [{ code: 'READ_ERROR', message: 'unreadable' }],
        },
      },
      'INTERNAL_ERROR',
      undefined,
      NOW - HOUR + 7 * DAY_MS,
    ],
  ])('%s', (_name, o, reason, lastScannedAt, deadline) => {
    const out = written(decideNode(observation(o), config(), NOW));
    expect(out.status.scanStatus.reason).toBe(reason);
    expect(out.status.lastScannedAt).toBe(lastScannedAt);
    expect(out.deadline).toBe(deadline);
  });

  it('the status names the node and what runs on it, the inventory first', () => {
    const out = written(decideNode(observation(), config(), NOW));
    expect(out.status).toEqual({
      resourceType: 'NODE',
      resourceId: 'n1',
      resource: { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'uid-n1' },
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      scanType: 'PACKAGE',
      scanMode: 'AGENT_BASED',
      lastScannedAt: iso(NOW - HOUR),
      resourceLabels: { zone: 'a' },
      node: {
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        platform: 'DEBIAN_12',
        kernelVersion: '6.1.0-inventory',
        architecture: 'amd64',
      },
    });
  });

  it('a deleted node with open findings is terminated, keeping what it recorded', () => {
    const previous = recorded('SUCCESSFUL', NOW - DAY_MS);
    const out = written(
      decideNode(observation({ node: undefined, openFindings: true, previous }), config(), NOW),
    );
    expect(out.status).toEqual({
      ...previous,
      scanStatus: { statusCode: 'INACTIVE', reason: 'RESOURCE_TERMINATED' },
    });
    expect(out.deadline).toBeUndefined();
  });

  it('a deleted node without open findings is removed', () => {
    const previous = recorded('SUCCESSFUL', NOW - DAY_MS);
    expect(decideNode(observation({ node: undefined, previous }), config(), NOW)).toEqual({
      kind: 'remove',
    });
  });
});
