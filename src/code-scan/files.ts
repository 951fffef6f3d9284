/**
 * Which files of an image are its application's own: everything except what the base OS and
 * its packages own, the image's package databases and caches, and files that are not text.
 * docs/code-scanning.md lists the same paths for people.
 */

/**
 * Directories (root-relative, no leading slash) that belong to the operating system and its
 * packages. Language packages installed by a user (`usr/local/lib/python3.12/site-packages`,
 * `usr/local/lib/node_modules`, an app's own `node_modules`) are outside them and scanned.
 */
export const OS_DIRS: readonly string[] = [
  'bin',
  'boot',
  'dev',
  'lib',
  'lib32',
  'lib64',
  'libx32',
  'proc',
  'sbin',
  'sys',
  'usr/bin',
  'usr/include',
  'usr/lib',
  'usr/lib32',
  'usr/lib64',
  'usr/libexec',
  'usr/sbin',
  'usr/share',
  'usr/src',
  'usr/local/go',
  'usr/local/share/ca-certificates',
  'etc/ssl/certs',
  'etc/pki/ca-trust',
  'lib/apk',
  'var/cache',
  'var/lib/apt',
  'var/lib/dpkg',
  'var/lib/rpm',
  'var/lib/dnf',
  'var/lib/yum',
  'var/log',
];

/** Folders of installed third-party dependencies: scanned, but not their tests, examples and docs. */
export const DEPENDENCY_DIRS = ['node_modules', 'site-packages', 'dist-packages', 'vendor', 'gems'];
const DEPENDENCY_SKIPPED_DIRS = new Set([
  'test',
  'tests',
  'testdata',
  '__tests__',
  'spec',
  'fixtures',
  '__fixtures__',
  'example',
  'examples',
  'docs',
  'doc',
]);
const DEPENDENCY_SKIPPED_EXTENSIONS = new Set(['md', 'markdown', 'rst', 'txt', 'map', 'ts.map']);

/** Extensions of files that are never text worth scanning (media, archives, compiled code). */
const BINARY_EXTENSIONS = new Set([
  '7z',
  'a',
  'avif',
  'bin',
  'bmp',
  'bz2',
  'class',
  'dat',
  'db',
  'dll',
  'dylib',
  'ear',
  'eot',
  'exe',
  'gif',
  'gz',
  'ico',
  'idx',
  'jar',
  'jpeg',
  'jpg',
  'lz4',
  'map',
  'mo',
  'mp3',
  'mp4',
  'node',
  'o',
  'ogg',
  'otf',
  'pack',
  'pdf',
  'png',
  'pyc',
  'pyo',
  'so',
  'sqlite',
  'svgz',
  'tar',
  'tgz',
  'tif',
  'tiff',
  'ttf',
  'war',
  'wasm',
  'wav',
  'webm',
  'webp',
  'whl',
  'woff',
  'woff2',
  'xz',
  'zip',
  'zst',
]);

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function extension(base: string): string {
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** Why a file is not scanned, or undefined when it is an application file to scan. */
export function excludedBecause(path: string): 'os' | 'dependency-extra' | 'binary' | undefined {
  for (const dir of OS_DIRS) if (under(path, dir)) return 'os';
  const parts = path.split('/');
  const base = parts[parts.length - 1]!;
  const ext = extension(base);
  if (BINARY_EXTENSIONS.has(ext) || /\.so(?:\.\d+)+$/.test(base)) return 'binary';
  const dep = parts.findIndex((p) => DEPENDENCY_DIRS.includes(p));
  if (dep >= 0) {
    if (DEPENDENCY_SKIPPED_EXTENSIONS.has(ext)) return 'dependency-extra';
    // Type declarations describe shapes, not values: a fifth of a typical node_modules.
    if (/\.d\.[mc]?ts$/.test(base) || ext === 'flow') return 'dependency-extra';
    for (let i = dep + 1; i < parts.length - 1; i++)
      if (DEPENDENCY_SKIPPED_DIRS.has(parts[i]!)) return 'dependency-extra';
  }
  return undefined;
}

/** Bytes looked at for a NUL byte to tell binary from text (git does the same). */
export const BINARY_SNIFF_BYTES = 8000;

export function looksBinary(head: Buffer): boolean {
  return head.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}
