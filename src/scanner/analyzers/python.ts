/** Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and `*.egg-info` files. */
import type { Analyzer, FileAnalysis } from './analyzer.ts';

const METADATA = /\.dist-info\/METADATA$|\.egg-info\/PKG-INFO$|\.egg-info$/;

/** Reads `Name` and `Version` from the header block of core metadata (RFC 822 style). */
export function parsePythonMetadata(text: string): FileAnalysis {
  let name: string | undefined;
  let version: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') break; // the body (long description) follows the first blank line
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'name' && name === undefined) name = value;
    else if (key === 'version' && version === undefined) version = value;
  }
  if (name === undefined || version === undefined || name === '' || version === '') return {};
  return { packages: [{ type: 'pypi', name, version }] };
}

export const pythonAnalyzer: Analyzer = {
  name: 'python',
  version: 1,
  matches: (f) => METADATA.test(f.path),
  maxBytes: () => 4 * 1024 * 1024,
  analyze: (data) => parsePythonMetadata(data.toString('utf8')),
};
