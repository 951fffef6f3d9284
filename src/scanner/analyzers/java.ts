/**
 * Java archives (`.jar`, `.war`, `.ear`): Maven coordinates from `META-INF/maven/<group>/<artifact>/pom.properties`,
 * including archives nested inside (Spring Boot `BOOT-INF/lib`, `WEB-INF/lib`), to a bounded depth.
 */
import { unzipSync } from 'fflate';
import type { RawPackage, ScanLimits } from '../types.ts';
import type { Analyzer, FileAnalysis } from './analyzer.ts';

const ARCHIVE = /\.(?:jar|war|ear|par|sar)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_DEPTH = 2;
const MAX_PROPERTIES_BYTES = 64 * 1024;

export function parsePomProperties(text: string): RawPackage | undefined {
  const props = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m !== null) props.set(m[1]!, m[2]!.trim());
  }
  const group = props.get('groupId');
  const artifact = props.get('artifactId');
  const version = props.get('version');
  if (!group || !artifact || !version) return undefined;
  return { type: 'maven', namespace: group, name: artifact, version };
}

// eslint-disable-next-line max-params -- recursion over nested archives carries depth, path and the shared budget
function readArchive(
  data: Uint8Array,
  name: string,
  depth: number,
  limits: ScanLimits,
  budget: { bytes: number },
  out: RawPackage[],
  warnings: string[],
): void {
  let files;
  try {
    files = unzipSync(data, {
      filter: (f) => {
        if (POM_PROPERTIES.test(f.name)) return f.originalSize <= MAX_PROPERTIES_BYTES;
        if (depth < MAX_DEPTH && ARCHIVE.test(f.name) && f.originalSize <= limits.maxArchiveBytes) {
          if (budget.bytes + f.originalSize > limits.maxArchiveBytes * 4) return false;
          budget.bytes += f.originalSize;
          return true;
        }
        return false;
      },
    });
  } catch (err) {
    warnings.push(
      `unreadable Java archive ${name}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return;
  }
  for (const [entry, content] of Object.entries(files)) {
    if (POM_PROPERTIES.test(entry)) {
      const pkg = parsePomProperties(Buffer.from(content).toString('utf8'));
      if (pkg !== undefined) out.push(pkg);
    } else {
      readArchive(content, `${name}!/${entry}`, depth + 1, limits, budget, out, warnings);
    }
  }
}

export function analyzeArchive(data: Buffer, path: string, limits: ScanLimits): FileAnalysis {
  const packages: RawPackage[] = [];
  const warnings: string[] = [];
  readArchive(data, path, 0, limits, { bytes: 0 }, packages, warnings);
  const seen = new Set<string>();
  const unique = packages.filter((p) => {
    const key = `${p.namespace}:${p.name}:${p.version}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return warnings.length > 0 ? { packages: unique, warnings } : { packages: unique };
}

export const javaAnalyzer: Analyzer = {
  name: 'java',
  version: 1,
  matches: (f) => ARCHIVE.test(f.path),
  maxBytes: (limits) => limits.maxArchiveBytes,
  analyze: (data, facts, limits) => analyzeArchive(data, facts.path, limits),
};
