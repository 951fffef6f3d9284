/**
 * Building blocks of the findings tests: the objects the coverage controller and the node agent
 * write, written here the way they write them (server-side apply under their field managers;
 * a NodeInventory's status through the status subresource, a CoveredResource's in the same
 * apply as its labels), a real Debian 12 package set, and a copy of the OSV
 * fixtures (real advisories) that a test can change to play a database update.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InventoryPackage } from '../../src/api/v1alpha1/node-inventory.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { apply } from '../../src/kube/apply.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { collectionPath, type KubeObject } from '../../src/kube/resources.ts';
import { databaseSource, type DatabaseSource } from '../../src/vulndb/source.ts';
import { labelValueFor } from '../../src/util/label-value.ts';

/**
 * Packages of a Debian 12.0 ("bookworm" as released) node: the versions the release shipped,
 * several of them affected by the advisories of the fixtures (glibc CVE-2023-4911, openssl
 * CVE-2023-5363, openssh CVE-2024-6387, curl DSA-5523-1, apt CVE-2011-3374).
 */
export const BOOKWORM_PACKAGES: InventoryPackage[] = [
  ['base-files', '12.4', undefined],
  ['tzdata', '2023c-5', undefined],
  ['libc6', '2.36-9', 'glibc'],
  ['libc-bin', '2.36-9', 'glibc'],
  ['libssl3', '3.0.9-1', 'openssl'],
  ['openssl', '3.0.9-1', undefined],
  ['openssh-client', '1:9.2p1-2', 'openssh'],
  ['openssh-server', '1:9.2p1-2', 'openssh'],
  ['curl', '7.88.1-10', undefined],
  ['libcurl4', '7.88.1-10', 'curl'],
  ['apt', '2.6.1', undefined],
  ['libapt-pkg6.0', '2.6.1', 'apt'],
].map(([name, version, sourceName]) => ({
  name: name!,
  version: version!,
  ...(sourceName !== undefined ? { sourceName } : {}),
  arch: 'amd64',
  ecosystem: 'Debian:12',
  purl: `pkg:deb/debian/${name}@${encodeURIComponent(version!)}?arch=amd64&distro=debian-12`,
}));

/** The dpkg status file of an image holding {@link BOOKWORM_PACKAGES}. */
export function bookwormDpkgStatus(): string {
  return BOOKWORM_PACKAGES.map((p) =>
    [
      `Package: ${p.name}`,
      'Status: install ok installed',
      'Architecture: amd64',
      ...(p.sourceName !== undefined ? [`Source: ${p.sourceName}`] : []),
      `Version: ${p.version}`,
      `Description: ${p.name}`,
      '',
    ].join('\n'),
  ).join('\n');
}

/** The package list with some versions replaced (an upgrade on the node). */
export function withVersions(
  packages: InventoryPackage[],
  versions: Record<string, string>,
): InventoryPackage[] {
  return packages.map((p) =>
    versions[p.name] !== undefined ? { ...p, version: versions[p.name]! } : p,
  );
}

const API = 'kubeinspector.io/v1alpha1';
const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Writes a NodeInventory as the agent does (field manager kube-inspector-agent). */
export async function applyNodeInventory(
  client: KubeClient,
  node: string,
  packages: InventoryPackage[],
  collectedAt: Date,
): Promise<void> {
  await apply(
    client,
    kinds.nodeInventories,
    { apiVersion: API, kind: 'NodeInventory', metadata: { name: node } },
    { fieldManager: 'kube-inspector-agent' },
  );
  await apply(
    client,
    kinds.nodeInventories,
    {
      apiVersion: API,
      kind: 'NodeInventory',
      metadata: { name: node },
      status: {
        nodeName: node,
        os: {
          id: 'debian',
          versionId: '12',
          prettyName: 'Debian GNU/Linux 12 (bookworm)',
          platform: 'DEBIAN_12',
        },
        architecture: 'amd64',
        packages,
        packageCount: packages.length,
        collectedAt: iso(collectedAt),
      },
    },
    { status: true, fieldManager: 'kube-inspector-agent' },
  );
}

export interface CoverageStatus {
  statusCode?: 'ACTIVE' | 'INACTIVE';
  reason?: string;
  lastScannedAt?: Date;
  resourceLabels?: Record<string, string>;
}

async function applyCovered(
  client: KubeClient,
  name: string,
  labels: Record<string, string>,
  status: Record<string, unknown>,
): Promise<void> {
  // One apply: CoveredResource has no status subresource.
  await apply(client, kinds.coveredResources, {
    apiVersion: API,
    kind: 'CoveredResource',
    metadata: { name, labels },
    status,
  });
}

/** Writes a node's CoveredResource as the coverage controller does (field manager kube-inspector). */
export async function applyCoveredNode(
  client: KubeClient,
  node: string,
  s: CoverageStatus = {},
): Promise<string> {
  const name = coveredResourceName.node(node);
  const statusCode = s.statusCode ?? 'ACTIVE';
  const reason = s.reason ?? 'SUCCESSFUL';
  await applyCovered(
    client,
    name,
    { [LABELS.resourceType]: 'NODE', [LABELS.statusCode]: statusCode, [LABELS.reason]: reason },
    {
      resourceType: 'NODE',
      resourceId: node,
      resource: { apiVersion: 'v1', kind: 'Node', name: node },
      ...(s.resourceLabels !== undefined ? { resourceLabels: s.resourceLabels } : {}),
      scanStatus: { statusCode, reason },
      scanType: 'PACKAGE',
      scanMode: 'AGENT_BASED',
      ...(s.lastScannedAt !== undefined ? { lastScannedAt: iso(s.lastScannedAt) } : {}),
      node: { platform: 'DEBIAN_12', architecture: 'amd64' },
    },
  );
  return name;
}

/** Writes an image's CoveredResource as the coverage controller does. */
export async function applyCoveredImage(
  client: KubeClient,
  repository: string,
  digest: string,
  s: CoverageStatus & { frequency?: 'CONTINUOUS_SCAN' | 'SCAN_ON_PUSH'; tags?: string[] } = {},
): Promise<string> {
  const name = coveredResourceName.image(repository, digest);
  const statusCode = s.statusCode ?? 'ACTIVE';
  const reason =
    s.reason ?? (s.frequency === 'SCAN_ON_PUSH' ? 'SCAN_FREQUENCY_SCAN_ON_PUSH' : 'SUCCESSFUL');
  await applyCovered(
    client,
    name,
    {
      [LABELS.resourceType]: 'CONTAINER_IMAGE',
      [LABELS.statusCode]: statusCode,
      [LABELS.reason]: reason,
    },
    {
      resourceType: 'CONTAINER_IMAGE',
      resourceId: `${repository}@${digest}`,
      scanStatus: { statusCode, reason },
      scanType: 'PACKAGE',
      scanMode: 'AGENTLESS',
      ...(s.lastScannedAt !== undefined ? { lastScannedAt: iso(s.lastScannedAt) } : {}),
      repository: { name: repository, scanFrequency: s.frequency ?? 'CONTINUOUS_SCAN' },
      image: {
        repository,
        digest,
        ...(s.tags !== undefined ? { tags: s.tags } : {}),
        platform: 'UBUNTU_22_04',
      },
    },
  );
  return name;
}

/** The Findings of a covered resource whose status is written, by vulnerability id. */
export async function findingsOf(
  client: KubeClient,
  namespace: string,
  coveredResource: string,
): Promise<Map<string, Finding & KubeObject>> {
  const list = await client.request<{ items: (Finding & KubeObject)[] }>(
    'GET',
    collectionPath(kinds.findings, namespace),
    { query: { labelSelector: `${LABELS.coveredResource}=${labelValueFor(coveredResource)}` } },
  );
  // A finding is created (metadata) and then given its status: one without a status yet is
  // left out, as a person listing findings a moment later would see it complete.
  return new Map(
    list.items
      .filter((f) => f.status?.vulnerabilityId !== undefined)
      .map((f) => [f.status!.vulnerabilityId!, f]),
  );
}

/**
 * A copy of the OSV fixtures that a test may change (`edit`, then `source.refresh()`), loaded by
 * a local database source; remove() deletes it.
 */
export async function databaseCopy(): Promise<{
  source: DatabaseSource;
  dir: string;
  edit(file: string, change: (record: Record<string, unknown>) => void): void;
  remove(): void;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'findings-db-'));
  cpSync(join(import.meta.dirname, '..', '..', 'src', 'vulndb', 'testdata', 'osv'), dir, {
    recursive: true,
    filter: (src) => !src.endsWith('malformed.json'),
  });
  let bump = 0;
  const source = databaseSource(dir);
  if ((await source.refresh()) !== 'updated') {
    throw new Error(`the fixture database in ${dir} did not load: ${source.status.lastError}`);
  }
  return {
    source,
    dir,
    edit(file, change) {
      const path = join(dir, file);
      const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      change(record);
      writeFileSync(path, JSON.stringify(record, null, 2));
      // The local source notices a change by size and modification time.
      const t = new Date(Date.now() + ++bump * 10_000);
      utimesSync(path, t, t);
    },
    remove: () => {
      source.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample of a metric in /metrics text (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Finding writes (create, update, delete) counted in /metrics text. */
export function findingWrites(text: string): number {
  return ['create', 'update', 'delete'].reduce(
    (n, verb) => n + metricValue(text, 'kubeinspector_finding_writes_total', { verb }),
    0,
  );
}
