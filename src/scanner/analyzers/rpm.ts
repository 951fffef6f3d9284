/**
 * rpm databases. SQLite (`rpmdb.sqlite`, rpm ≥ 4.16) is opened in memory with node:sqlite
 * and each header blob decoded by @snyk/rpm-parser; Berkeley DB (`Packages`) and NDB
 * (`Packages.db`) are read by @snyk/rpm-parser whole.
 */
import { DatabaseSync } from 'node:sqlite';
import { getPackages, getPackagesNdb } from '@snyk/rpm-parser';
import { bufferToPackageInfo } from '@snyk/rpm-parser/dist/rpm/index.js';
import type { RawPackage } from '../types.ts';
import type { Analyzer, FileAnalysis } from './analyzer.ts';

const DIRS = ['var/lib/rpm/', 'usr/lib/sysimage/rpm/'];
const FILES: Readonly<Record<string, 'sqlite' | 'bdb' | 'ndb'>> = {
  'rpmdb.sqlite': 'sqlite',
  Packages: 'bdb',
  'Packages.db': 'ndb',
};

interface RpmInfo {
  name: string;
  version: string;
  release: string;
  epoch?: number | undefined;
  arch?: string | undefined;
  sourceRPM?: string | undefined;
}

function toPackage(info: RpmInfo): RawPackage | undefined {
  if (!info.name || !info.version) return undefined;
  const evr =
    (info.epoch !== undefined && info.epoch > 0 ? `${info.epoch}:` : '') +
    info.version +
    (info.release ? `-${info.release}` : '');
  const pkg: RawPackage = { type: 'rpm', name: info.name, version: evr };
  if (info.arch !== undefined && info.arch !== '') pkg.arch = info.arch;
  // `name-version-release.src.rpm`: the name is everything before the last two dashes.
  const m =
    info.sourceRPM === undefined
      ? null
      : /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(info.sourceRPM);
  if (m !== null) {
    pkg.sourceName = m[1]!;
    pkg.sourceVersion = `${m[2]}-${m[3]}`;
  }
  return pkg;
}

/** Reads an rpmdb.sqlite image in memory (nothing is written to disk). */
export async function readRpmSqlite(data: Buffer): Promise<RawPackage[]> {
  // rpm keeps its database in WAL mode; an in-memory copy must claim the rollback journal.
  const copy = Buffer.from(data);
  if (copy.length >= 100 && copy.toString('latin1', 0, 15) === 'SQLite format 3') {
    copy[18] = 1;
    copy[19] = 1;
  } else {
    throw new Error('not an SQLite database');
  }
  const db = new DatabaseSync(':memory:', { readOnly: false });
  try {
    db.deserialize(copy);
    const rows = db.prepare('SELECT blob FROM Packages').all() as { blob: Uint8Array }[];
    const out: RawPackage[] = [];
    for (const row of rows) {
      const info = (await bufferToPackageInfo(Buffer.from(row.blob))) as RpmInfo | undefined;
      const pkg = info === undefined ? undefined : toPackage(info);
      if (pkg !== undefined) out.push(pkg);
    }
    return out;
  } finally {
    db.close();
  }
}

async function readWithParser(kind: 'bdb' | 'ndb', data: Buffer): Promise<RawPackage[]> {
  const res = kind === 'bdb' ? await getPackages(data) : await getPackagesNdb(data);
  if (res.error !== undefined) {
    throw new Error(res.error.message);
  }
  return res.response.map((i) => toPackage(i as RpmInfo)).filter((p) => p !== undefined);
}

export const rpmAnalyzer: Analyzer = {
  name: 'rpm',
  version: 1,
  matches: (f) => {
    const dir = DIRS.find((d) => f.path.startsWith(d));
    if (dir === undefined) return false;
    return FILES[f.path.slice(dir.length)] !== undefined;
  },
  maxBytes: (limits) => limits.maxFileBytes,
  analyze: async (data, facts): Promise<FileAnalysis> => {
    const kind = FILES[facts.path.slice(facts.path.lastIndexOf('/') + 1)]!;
    try {
      const packages =
        kind === 'sqlite' ? await readRpmSqlite(data) : await readWithParser(kind, data);
      return { packages };
    } catch (err) {
      const what = { sqlite: 'SQLite', bdb: 'Berkeley DB', ndb: 'NDB' }[kind];
      return {
        packages: [],
        warnings: [
          `unsupported rpm database ${facts.path} (${what}): ${err instanceof Error ? err.message : String(err)}`,
        ],
      };
    }
  },
};
