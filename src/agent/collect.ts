/**
 * Collection of a node's software inventory from the host's root filesystem mounted read-only
 * (`/host` in the DaemonSet). The parsing is the image scanner's: every source is one
 * {@link scanRootfs} walk restricted to the source's paths and analyzers, so a broken or
 * hostile database costs only its own source (a READ_ERROR entry), never the collection.
 *
 * Sources, in the order they are read (what a time limit cuts off is at the end):
 * dpkg (`status` and `status.d`), rpm (`var/lib/rpm`, `usr/lib/sysimage/rpm`: SQLite, Berkeley
 * DB and NDB), apk (`installed`), then language packages under the default directories and
 * the ScanConfiguration's custom paths.
 */
import { lstat, readFile } from 'node:fs/promises';
import { arch as osArch, release } from 'node:os';
import { join, posix } from 'node:path';
import type { Analyzer } from '../scanner/analyzers/analyzer.ts';
import { apkAnalyzer } from '../scanner/analyzers/apk.ts';
import { dpkgAnalyzer } from '../scanner/analyzers/dpkg.ts';
import { goBinaryAnalyzer } from '../scanner/analyzers/go-binary.ts';
import { javaAnalyzer } from '../scanner/analyzers/java.ts';
import { npmAnalyzer } from '../scanner/analyzers/npm.ts';
import {
  OS_RELEASE_PATHS,
  operatingSystem,
  osReleaseAnalyzer,
  parseOsRelease,
} from '../scanner/analyzers/os-release.ts';
import { pythonAnalyzer } from '../scanner/analyzers/python.ts';
import { rpmAnalyzer } from '../scanner/analyzers/rpm.ts';
import { scanRootfs } from '../scanner/rootfs.ts';
import type { OperatingSystem, Package } from '../scanner/types.ts';

/** Directories searched for language packages on every node (the ScanConfiguration's docs name them). */
export const DEFAULT_LANGUAGE_PATHS = [
  '/usr/lib',
  '/usr/lib64',
  '/usr/local/lib',
  '/usr/local/lib64',
] as const;

const LANGUAGE_ANALYZERS: readonly Analyzer[] = [
  npmAnalyzer,
  pythonAnalyzer,
  javaAnalyzer,
  goBinaryAnalyzer,
];

export interface Source {
  /** Short name used in errors and logs (`dpkg`, `rpm`, `apk`, `/opt/app`). */
  name: string;
  /** Paths relative to the host root. */
  paths: string[];
  analyzers: readonly Analyzer[];
  /** A ScanConfiguration custom path: its absence is reported (it should have been mounted). */
  custom?: boolean;
}

export interface CollectionError {
  code: 'COLLECTION_TIME_LIMIT_EXCEEDED' | 'UNSUPPORTED_OS' | 'READ_ERROR';
  message: string;
}

export interface Collection {
  os?: OperatingSystem;
  /** Every package found, in no particular order (the inventory sorts and limits them). */
  packages: Package[];
  kernelVersion: string;
  architecture: string;
  errors: CollectionError[];
  durationMs: number;
}

export interface CollectOptions {
  /** Absolute paths on the host (at most 5 from the ScanConfiguration). */
  customPaths?: readonly string[];
  /** The collection time limit; sources not finished by then are left out. */
  timeLimitMs: number;
  signal?: AbortSignal;
  /** A monotonic clock in ms (default `performance.now`); tests step it to cross the limit. */
  now?: () => number;
  /** Kernel release and CPU architecture; default: the running kernel's (`uname`). */
  kernelVersion?: string;
  architecture?: string;
}

/** Node's `process.arch` in Kubernetes' (GOARCH) spelling. */
export function goArch(arch: string): string {
  return { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le' }[arch] ?? arch;
}

/**
 * A path on the host as a path relative to the host root, or undefined when it is not
 * absolute. Normalised as the host would resolve it: `..` cannot climb above the root.
 */
export function hostRelative(path: string): string | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  return posix.normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** The sources read for these custom paths, OS databases first. */
export function sources(customPaths: readonly string[] = []): Source[] {
  const defaults = new Set<string>(DEFAULT_LANGUAGE_PATHS.map((p) => hostRelative(p)!));
  const custom = [...new Set(customPaths.map(hostRelative))].filter(
    (p): p is string => p !== undefined && p !== '' && !defaults.has(p),
  );
  return [
    {
      name: 'dpkg',
      paths: ['var/lib/dpkg/status', 'var/lib/dpkg/status.d'],
      analyzers: [dpkgAnalyzer],
    },
    { name: 'rpm', paths: ['var/lib/rpm', 'usr/lib/sysimage/rpm'], analyzers: [rpmAnalyzer] },
    {
      name: 'apk',
      paths: ['lib/apk/db/installed', 'usr/lib/apk/db/installed'],
      analyzers: [apkAnalyzer],
    },
    ...[...defaults].map((p) => ({ name: `/${p}`, paths: [p], analyzers: LANGUAGE_ANALYZERS })),
    ...custom.map((p) => ({
      name: `/${p}`,
      paths: [p],
      analyzers: LANGUAGE_ANALYZERS,
      custom: true,
    })),
  ];
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads os-release from the host root; symlinks are not followed (they would leave the root). */
async function readOs(root: string): Promise<{ os?: OperatingSystem; errors: CollectionError[] }> {
  const errors: CollectionError[] = [];
  for (const path of OS_RELEASE_PATHS) {
    const file = join(root, path);
    const st = await lstat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    if (st.size > 64 * 1024) {
      errors.push({ code: 'READ_ERROR', message: `/${path}: ${st.size} bytes is too large` });
      continue;
    }
    try {
      const os = operatingSystem(parseOsRelease(await readFile(file, 'utf8')));
      if (os !== undefined) return { os, errors };
      errors.push({ code: 'READ_ERROR', message: `/${path}: no ID field` });
    } catch (err) {
      errors.push({ code: 'READ_ERROR', message: `/${path}: ${errorText(err)}` });
    }
  }
  return { errors };
}

/** Raised for a host root that cannot be collected from at all (a setup error, not a node fact). */
export class HostRootError extends Error {
  override name = 'HostRootError';
}

/** Throws a {@link HostRootError} unless `root` is a directory. */
export async function checkHostRoot(root: string): Promise<void> {
  const st = await lstat(root).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) {
    throw new HostRootError(
      `host root ${root} ${st === undefined ? 'does not exist' : 'is not a directory'}: mount the host's root filesystem there read-only, or pass --host-root`,
    );
  }
}

/** Collects the inventory of the host mounted at `root`. Never throws for what it finds there. */
// eslint-disable-next-line complexity -- one pass over the package sources with the time limit checked between each
export async function collect(root: string, options: CollectOptions): Promise<Collection> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  await checkHostRoot(root);
  const deadline = started + options.timeLimitMs;
  const errors: CollectionError[] = [];
  const packages: Package[] = [];

  const { os, errors: osErrors } = await readOs(root);
  errors.push(...osErrors);
  if (os === undefined) {
    errors.push({
      code: 'UNSUPPORTED_OS',
      message: `no os-release at /${OS_RELEASE_PATHS.join(' or /')}: the OS is unknown`,
    });
  } else if (!os.supported) {
    errors.push({
      code: 'UNSUPPORTED_OS',
      message: `${os.prettyName ?? os.name} (ID=${os.family} VERSION_ID=${os.version || 'none'}) is not a supported OS`,
    });
  }

  for (const custom of options.customPaths ?? []) {
    const rel = hostRelative(custom);
    if (rel === undefined || rel === '') {
      errors.push({
        code: 'READ_ERROR',
        message: `custom path ${custom} is not a directory path inside the host root; skipped`,
      });
    }
  }
  const all = sources(options.customPaths);
  for (const [i, source] of all.entries()) {
    const remaining = deadline - now();
    if (remaining <= 0) {
      errors.push(timeLimitError(options.timeLimitMs, all.slice(i)));
      break;
    }
    if (options.signal?.aborted) throw options.signal.reason;
    if (source.custom === true) {
      const exists = await lstat(join(root, source.paths[0]!)).catch(() => undefined);
      if (exists === undefined) {
        errors.push({
          code: 'READ_ERROR',
          message: `custom path ${source.name} does not exist under the host root (is it mounted into the agent?)`,
        });
        continue;
      }
    }
    const outcome = await scanRootfs(root, {
      paths: [...OS_RELEASE_PATHS, ...source.paths],
      analyzers: [osReleaseAnalyzer, ...source.analyzers],
      limits: { timeoutMs: Math.max(1, Math.ceil(remaining)) },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (options.signal?.aborted) throw options.signal.reason;
    if (outcome.status === 'inventory') {
      packages.push(...outcome.inventory.packages);
      if (outcome.inventory.warnings.length > 0) {
        errors.push({
          code: 'READ_ERROR',
          message: `${source.name}: ${outcome.inventory.warnings.join('; ')}`,
        });
      }
    } else if (now() >= deadline) {
      errors.push(timeLimitError(options.timeLimitMs, all.slice(i)));
      break;
    } else if (outcome.reason !== 'UNSUPPORTED_OS') {
      // UNSUPPORTED_OS from a walk only says "nothing here": the OS is judged above.
      errors.push({ code: 'READ_ERROR', message: `${source.name}: ${outcome.message}` });
    }
  }

  return {
    ...(os !== undefined ? { os } : {}),
    packages,
    kernelVersion: options.kernelVersion ?? release(),
    architecture: options.architecture ?? goArch(osArch()),
    errors,
    durationMs: Math.max(0, Math.round(now() - started)),
  };
}

function timeLimitError(limitMs: number, left: readonly Source[]): CollectionError {
  return {
    code: 'COLLECTION_TIME_LIMIT_EXCEEDED',
    message: `collection stopped at the ${Math.round(limitMs / 1000)} s time limit; not read: ${left.map((s) => s.name).join(', ')}`,
  };
}
