/** os-release (`etc/os-release`, `usr/lib/os-release`): which OS an image or host runs. */
import type { OperatingSystem } from '../types.ts';
import type { Analyzer, OsRelease } from './analyzer.ts';

export const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'] as const;

/** Parses os-release: `KEY=value`, values optionally quoted with shell escapes. */
export function parseOsRelease(text: string): OsRelease {
  const out: OsRelease = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (!/^[A-Z0-9_]+$/.test(key)) continue;
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out[key] = value;
  }
  return out;
}

export const osReleaseAnalyzer: Analyzer = {
  name: 'os-release',
  version: 1,
  matches: (f) => (OS_RELEASE_PATHS as readonly string[]).includes(f.path),
  maxBytes: () => 64 * 1024,
  analyze: (data) => ({ osRelease: parseOsRelease(data.toString('utf8')) }),
};

function majorMinor(v: string): string {
  const m = /^(\d+)(?:\.(\d+))?/.exec(v);
  if (m === null) return v;
  return m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`;
}

function major(v: string): string {
  return /^(\d+)/.exec(v)?.[1] ?? v;
}

/** The OS families whose advisories the vulnerability database matches, with their OSV ecosystem. */
const ECOSYSTEMS: Readonly<Record<string, (version: string) => string>> = {
  debian: (v) => `Debian:${major(v)}`,
  ubuntu: (v) => {
    const [y, m] = v.split('.');
    const lts = m === '04' && Number(y) % 2 === 0;
    return lts ? `Ubuntu:${v}:LTS` : `Ubuntu:${v}`;
  },
  alpine: (v) => `Alpine:v${majorMinor(v)}`,
  rhel: (v) => `Red Hat:${major(v)}`,
  rocky: (v) => `Rocky Linux:${major(v)}`,
  almalinux: (v) => `AlmaLinux:${major(v)}`,
  wolfi: () => 'Wolfi',
  chainguard: () => 'Chainguard',
  'opensuse-leap': (v) => `openSUSE:Leap ${v}`,
  sles: (v) => `SUSE:Linux Enterprise Server ${v}`,
  mariner: (v) => `Mariner:${v}`,
  azurelinux: (v) => `Azure Linux:${v}`,
};

/** Interprets os-release fields; undefined when there is no ID. */
export function operatingSystem(rel: OsRelease | undefined): OperatingSystem | undefined {
  if (rel === undefined) return undefined;
  const family = rel.ID?.toLowerCase();
  if (family === undefined || family === '') return undefined;
  const version = rel.VERSION_ID ?? '';
  const os: OperatingSystem = {
    family,
    version,
    name: rel.NAME ?? family,
    supported: false,
  };
  if (rel.PRETTY_NAME !== undefined) os.prettyName = rel.PRETTY_NAME;
  if (rel.VERSION_CODENAME !== undefined && rel.VERSION_CODENAME !== '')
    os.codename = rel.VERSION_CODENAME;
  const eco = ECOSYSTEMS[family];
  // Debian testing/sid have no VERSION_ID; rolling distributions need none.
  if (eco !== undefined && (version !== '' || family === 'wolfi' || family === 'chainguard')) {
    os.ecosystem = eco(version);
    os.supported = true;
  }
  return os;
}
