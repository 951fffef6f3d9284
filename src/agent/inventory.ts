/**
 * From a collection to the NodeInventory status the agent writes: packages in the schema's
 * terms (ecosystem spelled as the vulnerability database spells it), a deterministic order,
 * the package limit, bounded error entries; and whether a new collection changes anything.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  COLLECTION_ERROR_CODES,
  MAX_CIS_RESULTS,
  MAX_INVENTORY_PACKAGES,
  type InventoryPackage,
  type NodeInventoryStatus,
} from '../api/v1alpha1/node-inventory.ts';
import { LANGUAGE_ECOSYSTEMS, osEcosystem } from '../findings/packages.ts';
import type { OperatingSystem, Package } from '../scanner/types.ts';
import type { CisResult } from './cis/evaluate.ts';
import type { Collection } from './collect.ts';
import { toApiTime } from '../util/time.ts';

const OS_TYPES: ReadonlySet<string> = new Set(['deb', 'rpm', 'apk']);

/** The schema's bounds on the fields of one package (longer values would fail the write). */
const BOUNDS = {
  name: 256,
  version: 256,
  sourceName: 256,
  sourceVersion: 256,
  arch: 32,
  purl: 1024,
  filePath: 512,
};
const MAX_ERRORS = 16;
const MAX_MESSAGE = 1024;

/**
 * The ecosystem OS packages are filed under: the OSV ecosystem of the OS release as the image
 * scanner spells it (`Debian:12`, `Alpine:v3.20`, `Red Hat:9`, `Ubuntu:22.04:LTS`), the same
 * spelling image findings use; for an OS without advisories `ID:VERSION_ID` of its os-release
 * (no advisory matches it), and the package type when there is no os-release.
 */
export function osPackageEcosystem(os: OperatingSystem | undefined, type: string): string {
  if (os === undefined) return type;
  return osEcosystem({ os }) ?? (os.version === '' ? os.family : `${os.family}:${os.version}`);
}

/** Inspector-style platform of an OS (`DEBIAN_12`, `ALPINE_3_20`, `RHEL_9`, `UBUNTU_22_04`). */
export function platformOf(os: OperatingSystem): string {
  const names: Record<string, string> = {
    rhel: 'RHEL',
    amzn: 'AMAZON_LINUX',
    rocky: 'ROCKY_LINUX',
    almalinux: 'ALMA_LINUX',
    ol: 'ORACLE_LINUX',
    sles: 'SUSE',
  };
  const family = names[os.family] ?? os.family.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  let version = os.version;
  if (os.family === 'alpine') version = /^\d+\.\d+/.exec(version)?.[0] ?? version;
  else if (os.family === 'debian' || os.family === 'rhel')
    version = /^\d+/.exec(version)?.[0] ?? version;
  version = version.replace(/[^A-Za-z0-9]+/g, '_');
  return (version === '' ? family : `${family}_${version}`).slice(0, 64);
}

/** One scanner package in the NodeInventory schema, or undefined when it cannot be written. */
export function inventoryPackage(
  p: Package,
  os: OperatingSystem | undefined,
): InventoryPackage | undefined {
  const name =
    p.type === 'maven' && p.namespace !== undefined ? `${p.namespace}:${p.name}` : p.name;
  const out: InventoryPackage = {
    name,
    version: p.version,
    ecosystem: LANGUAGE_ECOSYSTEMS[p.type] ?? osPackageEcosystem(os, p.type),
  };
  if (p.sourceName !== undefined && p.sourceName !== '' && p.sourceName !== name)
    out.sourceName = p.sourceName;
  if (p.sourceVersion !== undefined && p.sourceVersion !== '' && p.sourceVersion !== p.version)
    out.sourceVersion = p.sourceVersion;
  if (p.arch !== undefined && p.arch !== '') out.arch = p.arch;
  out.purl = p.purl;
  // Language packages say where they were found; OS packages come from the one database.
  if (!OS_TYPES.has(p.type)) out.filePath = `/${p.filePath}`;
  for (const [field, max] of Object.entries(BOUNDS)) {
    const value = (out as Record<string, string | undefined>)[field];
    if (value !== undefined && value.length > max) return undefined;
  }
  return out;
}

function compare(a: string | undefined, b: string | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** OS packages first, then language packages; each by name, version, architecture, path. */
export function comparePackages(a: InventoryPackage, b: InventoryPackage): number {
  const rank = (p: InventoryPackage): number => (p.filePath === undefined ? 0 : 1);
  return (
    rank(a) - rank(b) ||
    compare(a.name, b.name) ||
    compare(a.version, b.version) ||
    compare(a.arch, b.arch) ||
    compare(a.filePath, b.filePath) ||
    compare(a.ecosystem, b.ecosystem)
  );
}

export interface InventoryLimits {
  /** ScanConfiguration spec.node.packageLimit (at most 5000). */
  packageLimit: number;
}

type StatusError = NonNullable<NodeInventoryStatus['errors']>[number];

function bounded(e: { code: StatusError['code']; message: string }): StatusError {
  const message = e.message === '' ? e.code : e.message;
  return {
    code: e.code,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
  };
}

/** The NodeInventory status of one collection. */
export function inventoryStatus(
  collection: Collection,
  options: InventoryLimits & { nodeName: string; agentVersion: string; collectedAt: Date },
): NodeInventoryStatus {
  const errors: StatusError[] = collection.errors.map(bounded);
  const seen = new Set<string>();
  const packages: InventoryPackage[] = [];
  let unwritable = 0;
  for (const p of collection.packages) {
    const pkg = inventoryPackage(p, collection.os);
    if (pkg === undefined) {
      unwritable++;
      continue;
    }
    const key = JSON.stringify([pkg.ecosystem, pkg.name, pkg.version, pkg.arch, pkg.filePath]);
    if (seen.has(key)) continue;
    seen.add(key);
    packages.push(pkg);
  }
  if (unwritable > 0) {
    errors.push({
      code: 'READ_ERROR',
      message: `${unwritable} packages with a name, version or other field over the NodeInventory schema's length limits were left out`,
    });
  }
  packages.sort(comparePackages);
  const limit = Math.min(Math.max(1, options.packageLimit), MAX_INVENTORY_PACKAGES);
  const truncated = packages.length > limit;
  if (truncated) {
    errors.unshift({
      code: 'PACKAGE_COLLECTION_LIMIT_EXCEEDED',
      message: `found ${packages.length} packages; the first ${limit} (the package limit) are listed`,
    });
  }
  // Keep the limit errors when there are too many entries: they decide the node's coverage.
  const important = new Set<string>(COLLECTION_ERROR_CODES.filter((c) => c !== 'READ_ERROR'));
  const kept = [
    ...errors.filter((e) => important.has(e.code)),
    ...errors.filter((e) => !important.has(e.code)),
  ].slice(0, MAX_ERRORS);

  const os = collection.os;
  const status: NodeInventoryStatus = {
    nodeName: options.nodeName,
    agentVersion: options.agentVersion.slice(0, 64),
    ...(os !== undefined
      ? {
          os: {
            id: os.family.slice(0, 64),
            ...(os.version !== '' ? { versionId: os.version.slice(0, 64) } : {}),
            ...(os.prettyName !== undefined ? { prettyName: os.prettyName.slice(0, 256) } : {}),
            platform: platformOf(os),
          },
        }
      : {}),
    kernelVersion: collection.kernelVersion.slice(0, 256),
    architecture: collection.architecture.slice(0, 32),
    packages: truncated ? packages.slice(0, limit) : packages,
    packageCount: packages.length,
    truncated,
    collectedAt: toApiTime(options.collectedAt),
    collectionDurationMilliseconds: Math.min(collection.durationMs, 86_400_000),
    ...(kept.length > 0 ? { errors: kept } : {}),
  };
  return status;
}

/** The parts of a status that say what the node has (everything but when and how long). */
function content(status: NodeInventoryStatus | undefined): unknown {
  if (status === undefined) return undefined;
  const {
    collectedAt: _at,
    collectionDurationMilliseconds: _took,
    conditions: _c,
    observedGeneration: _g,
    ...rest
  } = status;
  return JSON.parse(JSON.stringify(rest)) as unknown;
}

/**
 * Whether to write `desired` over `current`: when anything but the collection time differs,
 * or when the written collection time is older than `refreshAfterMs` (so the inventory does not
 * go stale while nothing changes).
 */
export function needsWrite(
  desired: NodeInventoryStatus,
  current: NodeInventoryStatus | undefined,
  now: Date,
  refreshAfterMs: number,
): { write: boolean; reason: 'new' | 'changed' | 'refresh' | 'unchanged' } {
  if (current === undefined || current.collectedAt === undefined)
    return { write: true, reason: 'new' };
  if (!isDeepStrictEqual(content(desired), content(current)))
    return { write: true, reason: 'changed' };
  const age = now.getTime() - new Date(current.collectedAt).getTime();
  if (!(age < refreshAfterMs)) return { write: true, reason: 'refresh' };
  return { write: false, reason: 'unchanged' };
}

const MAX_CIS_FOUND = 256;

/**
 * The CIS check results as the NodeInventory holds them: id, status and what was found, the
 * found text cut to the schema's bound. At most {@link MAX_CIS_RESULTS} (the checks are a fixed
 * list far shorter than that; more would be a programming error, refused here, not written).
 */
export function cisResultsStatus(
  results: readonly CisResult[],
): NonNullable<NodeInventoryStatus['cisResults']> {
  if (results.length > MAX_CIS_RESULTS)
    throw new Error(
      `${results.length} CIS results, more than the ${MAX_CIS_RESULTS} a NodeInventory holds`,
    );
  return results.map((r) => ({
    id: r.id,
    status: r.status,
    found: r.found.length > MAX_CIS_FOUND ? `${r.found.slice(0, MAX_CIS_FOUND - 1)}…` : r.found,
  }));
}
