/** dpkg databases: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`. */
import type { RawPackage } from '../types.ts';
import { stanzas, type Analyzer } from './analyzer.ts';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';

function fields(lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | undefined;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // continuation lines (Description, Conffiles): not needed
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    key = line.slice(0, colon);
    out.set(key, line.slice(colon + 1).trim());
  }
  return out;
}

/** Parses dpkg status text; `requireInstalled` keeps only `Status: install ok installed`. */
export function parseDpkgStatus(text: string, requireInstalled: boolean): RawPackage[] {
  const out: RawPackage[] = [];
  for (const stanza of stanzas(text)) {
    const f = fields(stanza);
    const name = f.get('Package');
    const version = f.get('Version');
    if (name === undefined || version === undefined || name === '' || version === '') continue;
    const status = f.get('Status');
    if (status !== undefined) {
      const state = status.split(/\s+/)[2];
      if (state !== 'installed') continue;
    } else if (requireInstalled) {
      continue;
    }
    const pkg: RawPackage = { type: 'deb', name, version };
    const arch = f.get('Architecture');
    if (arch !== undefined && arch !== '') pkg.arch = arch;
    const source = f.get('Source');
    if (source !== undefined && source !== '') {
      // `Source: name` or `Source: name (version)` when the source version differs.
      const m = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(source);
      if (m !== null) {
        pkg.sourceName = m[1]!;
        pkg.sourceVersion = m[2] ?? version;
      }
    } else {
      pkg.sourceName = name;
      pkg.sourceVersion = version;
    }
    out.push(pkg);
  }
  return out;
}

export const dpkgAnalyzer: Analyzer = {
  name: 'dpkg',
  version: 1,
  matches: (f) => {
    if (f.path === STATUS) return true;
    if (!f.path.startsWith(STATUS_D)) return false;
    const base = f.path.slice(STATUS_D.length);
    return base !== '' && !base.includes('/') && !base.endsWith('.md5sums');
  },
  maxBytes: (limits) => limits.maxFileBytes,
  analyze: (data, facts) => ({
    packages: parseDpkgStatus(data.toString('utf8'), facts.path === STATUS),
  }),
};
