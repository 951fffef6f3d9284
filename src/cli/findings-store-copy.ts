/**
 * `kube-inspector findings-store copy`: moves the findings store between backends (SQLite to
 * PostgreSQL when a cluster outgrows one replica, or back), with the controller stopped.
 * docs/operations.md, "Findings store on PostgreSQL".
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LEGACY_IMPORT_MARKER } from '../controllers/findings/legacy-import.ts';
import { copyFindings } from '../findings-store/copy.ts';
import { PostgresFindingStore } from '../findings-store/postgres.ts';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import type { FindingStore } from '../findings-store/store.ts';
import { InputError } from './errors.ts';
import { readPostgresUrl } from './findings-serving.ts';

export const copyHelp = (
  cmd = 'kube-inspector',
): string => `Usage: ${cmd} findings-store copy FROM TO

Copies every finding, each covered resource's last evaluation and the store's markers
from one findings store to another, empty one. Stop the controller first (scale its
Deployment to 0). Kept: names, labels, annotations, owner references, spec (attributes)
and status (lifecycle). New: uid, creationTimestamp, resourceVersion.

FROM and TO are each one of:
  sqlite:PATH              a SQLite findings database (FROM must exist)
  postgres-url-file:FILE   a file holding a PostgreSQL connection URL

Example:
  ${cmd} findings-store copy sqlite:/var/lib/kube-inspector/findings.db \\
      postgres-url-file:/etc/kube-inspector/postgres/url

Exit codes: 0 copied, 1 the copy failed, 2 bad usage.`;

async function openStore(spec: string, role: 'FROM' | 'TO'): Promise<FindingStore> {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '' || path === ':memory:')
      throw new InputError(`${role} ${spec}: give the path of a database file`);
    if (role === 'FROM' && !existsSync(path)) throw new InputError(`${role} ${path}: no such file`);
    return new SqliteFindingStore({ path });
  }
  if (spec.startsWith('postgres-url-file:')) {
    const file = spec.slice('postgres-url-file:'.length);
    try {
      readPostgresUrl(file);
    } catch (err) {
      throw new InputError(`${role} ${(err as Error).message}`);
    }
    return PostgresFindingStore.open({ url: () => readPostgresUrl(file) });
  }
  throw new InputError(`${role} "${spec}" must be sqlite:PATH or postgres-url-file:FILE`);
}

export async function runFindingsStore(args: string[], cmd: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(copyHelp(cmd));
    return 0;
  }
  const [verb, from, to, ...extra] = positionals;
  if (verb !== 'copy' || from === undefined || to === undefined || extra.length > 0)
    throw new InputError(`expected: findings-store copy FROM TO\n\n${copyHelp(cmd)}`);
  const source = await openStore(from, 'FROM');
  let target: FindingStore | undefined;
  try {
    target = await openStore(to, 'TO');
    let last = Date.now();
    const result = await copyFindings(source, target, [LEGACY_IMPORT_MARKER], (n) => {
      if (Date.now() - last < 2000) return;
      last = Date.now();
      console.error(`copied ${n} findings`);
    });
    console.log(
      `copied ${result.findings} findings, ${result.evaluations} covered resources' last evaluations and ${result.markers} markers`,
    );
    return 0;
  } finally {
    await target?.close();
    await source.close();
  }
}
