/** Every file analyzer, in the order their results are reported. */
import type { Analyzer } from './analyzer.ts';
import { apkAnalyzer } from './apk.ts';
import { dpkgAnalyzer } from './dpkg.ts';
import { goBinaryAnalyzer } from './go-binary.ts';
import { javaAnalyzer } from './java.ts';
import { npmAnalyzer } from './npm.ts';
import { osReleaseAnalyzer } from './os-release.ts';
import { pythonAnalyzer } from './python.ts';
import { rpmAnalyzer } from './rpm.ts';

export const ANALYZERS: readonly Analyzer[] = [
  osReleaseAnalyzer,
  dpkgAnalyzer,
  apkAnalyzer,
  rpmAnalyzer,
  npmAnalyzer,
  pythonAnalyzer,
  javaAnalyzer,
  goBinaryAnalyzer,
];

/** Part of the layer cache key: changes when any analyzer's output could change. */
export function analyzersVersion(analyzers: readonly Analyzer[]): string {
  return analyzers
    .map((a) => `${a.name}.${a.version}${a.cacheKey === undefined ? '' : `(${a.cacheKey})`}`)
    .join('+');
}

export const ANALYZERS_VERSION = analyzersVersion(ANALYZERS);
