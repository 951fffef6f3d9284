/** apk databases: `lib/apk/db/installed` (and `usr/lib/apk/db/installed` on usr-merged systems). */
import type { RawPackage } from '../types.ts';
import { stanzas, type Analyzer } from './analyzer.ts';

const PATHS = new Set(['lib/apk/db/installed', 'usr/lib/apk/db/installed']);

export function parseApkInstalled(text: string): RawPackage[] {
  const out: RawPackage[] = [];
  for (const stanza of stanzas(text)) {
    let name: string | undefined;
    let version: string | undefined;
    let arch: string | undefined;
    let origin: string | undefined;
    for (const line of stanza) {
      if (line.length < 2 || line[1] !== ':') continue;
      const value = line.slice(2);
      switch (line[0]) {
        case 'P':
          name = value;
          break;
        case 'V':
          version = value;
          break;
        case 'A':
          arch = value;
          break;
        case 'o':
          origin = value;
          break;
        default:
          break;
      }
    }
    if (name === undefined || version === undefined || name === '' || version === '') continue;
    const pkg: RawPackage = { type: 'apk', name, version };
    if (arch !== undefined) pkg.arch = arch;
    pkg.sourceName = origin ?? name;
    pkg.sourceVersion = version;
    out.push(pkg);
  }
  return out;
}

export const apkAnalyzer: Analyzer = {
  name: 'apk',
  version: 1,
  matches: (f) => PATHS.has(f.path),
  maxBytes: (limits) => limits.maxFileBytes,
  analyze: (data) => ({ packages: parseApkInstalled(data.toString('utf8')) }),
};
