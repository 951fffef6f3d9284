/**
 * The vulnerability database module: OSV loading, ecosystems and version order, matching and
 * scoring. It works with no cluster; the controllers and the CLI use it through this file.
 */
export { IndexReader, type IndexedSource, type SourceStats } from './advisory-index.ts';
export {
  DatabaseBuilder,
  MemoryDatabase,
  VulnDatabase,
  type DatabaseStats,
  type LoadIssue,
} from './database.ts';
export {
  advisoryNames,
  ecosystemForOs,
  normalizeEcosystem,
  normalizePackageName,
  type InstalledPackage,
  type OsRelease,
} from './ecosystem.ts';
export { makeEnrichment, parseEpssCsv, parseKevJson, type Enrichment } from './enrichment.ts';
export { loadBytes, loadDirectory, loadLocal, loadZipBytes, loadZipFile } from './loader.ts';
export {
  matchPackage,
  matchPackages,
  type FixAvailable,
  type MatchSummary,
  type PackageFinding,
} from './match.ts';
export { parseOsvRecord, type Advisory } from './osv.ts';
export { type RefreshOutcome } from './refreshing.ts';
export { packageFromPurl, readSbom, type SbomPackages } from './sbom.ts';
export {
  databaseSource,
  LocalDatabaseSource,
  type DatabaseSource,
  type SourceOptions,
} from './source.ts';
export { AdvisoryStore, type SourceState, type SourceStatus, type StoreOptions } from './store.ts';
export {
  assess,
  scoreCvss,
  severityForScore,
  severityOrder,
  severityRank,
  validateCvssVector,
  type CvssScore,
  type SeverityLevel,
} from './scoring.ts';
export { versionOrderFor, type VersionOrder } from './version/index.ts';
