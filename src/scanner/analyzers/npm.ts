/** npm packages: `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json`. */
import type { Analyzer, FileAnalysis } from './analyzer.ts';

const PACKAGE_JSON = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/;

export function parsePackageJson(text: string, dirName: string): FileAnalysis {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return {};
  }
  if (doc === null || typeof doc !== 'object') return {};
  const { name, version } = doc as { name?: unknown; version?: unknown };
  if (typeof name !== 'string' || typeof version !== 'string' || name === '' || version === '')
    return {};
  // A package.json whose name differs from its folder is a fixture or a nested manifest.
  if (name !== dirName) return {};
  return { packages: [{ type: 'npm', name, version }] };
}

export const npmAnalyzer: Analyzer = {
  name: 'npm',
  version: 1,
  matches: (f) => PACKAGE_JSON.test(f.path),
  maxBytes: () => 1024 * 1024,
  analyze: (data, facts) =>
    parsePackageJson(data.toString('utf8'), PACKAGE_JSON.exec(facts.path)?.[1] ?? ''),
};
