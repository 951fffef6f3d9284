/** The package inventory of an image or a root filesystem, and how a scan can end. */

/** Package URL types of the ecosystems the analyzers read. */
export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'golang' | 'maven';

/** A package as an analyzer found it in one file, before the OS and layer are known. */
export interface RawPackage {
  type: PackageType;
  name: string;
  /** The version as the package manager writes it (dpkg/rpm include the epoch as `e:`). */
  version: string;
  arch?: string;
  /** Source package (dpkg `Source`, rpm source RPM name, apk origin). */
  sourceName?: string;
  sourceVersion?: string;
  /** Maven group id, npm scope and the like are part of `name`; this holds a Maven group. */
  namespace?: string;
  /** Go modules: the `GOOS` and `GOARCH` the binary was built for, from its build settings. */
  goos?: string;
  goarch?: string;
}

export interface Package extends RawPackage {
  purl: string;
  /** Path of the file it was read from, relative to the root (`var/lib/dpkg/status`). */
  filePath: string;
  /** Digest of the (compressed) layer that introduced it; absent for a root filesystem. */
  layerDigest?: string;
}

export interface OperatingSystem {
  /** os-release `ID` (`debian`, `ubuntu`, `alpine`, `rhel`, …). */
  family: string;
  /** os-release `VERSION_ID`. */
  version: string;
  name: string;
  prettyName?: string;
  codename?: string;
  /** The OSV ecosystem advisories for this OS are published under (`Debian:12`, `Alpine:v3.20`). */
  ecosystem?: string;
  /** Whether advisories for this OS are matched. */
  supported: boolean;
}

export interface Runtime {
  name: 'node' | 'python' | 'java' | 'go' | 'ruby' | 'php' | 'dotnet';
  version: string;
  /** Where it was seen, e.g. `env:NODE_VERSION`. */
  source: string;
}

/** A code-scanning match in an image file: the rule, where, and (secrets) never the text. */
export interface CodeFinding {
  ruleId: string;
  /** Root-relative path of the file. */
  path: string;
  line: number;
  column: number;
  endLine: number;
  /** Digest of the (compressed) layer that first shipped it; absent for a root filesystem. */
  layerDigest?: string;
  redacted?: string;
  fingerprint?: string;
}

/** Code scanning of an image: what was read and what matched. */
export interface CodeScanResult {
  findings: CodeFinding[];
  /** Application files read, their bytes, and files skipped as binary or over the size cap. */
  files: number;
  bytes: number;
  skippedBinary: number;
  skippedSize: number;
}

export interface LayerSummary {
  digest: string;
  diffId: string;
  /** Compressed size. */
  size: number;
  entries: number;
  uncompressedBytes: number;
  fromCache: boolean;
}

export interface Inventory {
  /** `image` for a registry image, `rootfs` for a directory. */
  kind: 'image' | 'rootfs';
  /** Image reference or directory path as given. */
  target: string;
  image?: {
    registry: string;
    repository: string;
    digest: string;
    indexDigest?: string;
    configDigest: string;
    platform: string;
    compressedSize: number;
    created?: string;
  };
  os?: OperatingSystem;
  packages: Package[];
  runtimes: Runtime[];
  /** Present when code scanning ran. */
  code?: CodeScanResult;
  layers: LayerSummary[];
  /** Things that did not stop the scan: files over their size cap, unreadable databases. */
  warnings: string[];
  stats: {
    durationMs: number;
    bytesDownloaded: number;
    uncompressedBytes: number;
    entries: number;
  };
}

/** The reasons a scan ends without an inventory, named as the coverage rules name them. */
export type ScanFailureReason =
  | 'ACCESS_DENIED'
  | 'UNSUPPORTED_OS'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'IMAGE_SIZE_EXCEEDED'
  | 'INTERNAL_ERROR';

export type ScanOutcome =
  | { status: 'inventory'; inventory: Inventory }
  | { status: 'failed'; reason: ScanFailureReason; message: string };

/** An error that ends a scan with a known reason. */
export class ScanError extends Error {
  override name = 'ScanError';
  readonly reason: ScanFailureReason;
  constructor(reason: ScanFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export interface ScanLimits {
  /** Largest compressed image (sum of layer sizes) scanned; above it: IMAGE_SIZE_EXCEEDED. */
  maxCompressedBytes: number;
  /** Largest total of uncompressed layer bytes read per image. */
  maxUncompressedBytes: number;
  /** Most tar entries read per image. */
  maxEntries: number;
  /** Longest a whole image scan may take. */
  timeoutMs: number;
  /** Largest single file an analyzer buffers (package databases, manifests); larger ones are skipped. */
  maxFileBytes: number;
  /** Largest Java archive read; larger ones are skipped with a warning. */
  maxArchiveBytes: number;
  /** Layers downloaded at the same time. */
  layerConcurrency: number;
}

export const DEFAULT_LIMITS: ScanLimits = {
  maxCompressedBytes: 10 * 1024 ** 3,
  maxUncompressedBytes: 32 * 1024 ** 3,
  maxEntries: 500_000,
  timeoutMs: 10 * 60_000,
  maxFileBytes: 256 * 1024 ** 2,
  maxArchiveBytes: 64 * 1024 ** 2,
  layerConcurrency: 3,
};
