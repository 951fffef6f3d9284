// A real PostgreSQL server for tests: Debian's `postgresql` package (hack/debian-packages.txt),
// a fresh cluster in a temporary folder, listening on 127.0.0.1 on a free port, with password
// authentication over TCP. PostgreSQL refuses to run as root, so under root the server runs as
// the package's `postgres` system user (or `nobody`). stop() ends it and removes the folder.
// With `tls`, the server also speaks TLS (ssl=on) with a certificate for 127.0.0.1 and localhost
// from a CA of its own, both made with openssl.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  port: number;
  /** With `tls`: the CA that signed the server's certificate (PEM file), and another CA. */
  tls?: { caFile: string; otherCaFile: string };
  /** The superuser's URL for a database (default `postgres`). */
  adminUrl(database?: string): string;
  /** A new empty database owned by a new role with a password; returns its URL. */
  createDatabase(): Promise<{ url: string; database: string; role: string; password: string }>;
  /** Runs a statement as the superuser. */
  admin(sql: string, database?: string): Promise<pg.QueryResult>;
  /** Stops the server (fast shutdown: connections are terminated) and starts it again. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server without starting it again. */
  down(): Promise<void>;
  /** Starts a server stopped by down() (nothing when it runs). */
  up(): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

const SUPERUSER = 'ki_admin';
const SUPERPASSWORD = 'admin-password';

/** The newest installed PostgreSQL's bin folder. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined)
    throw new Error(
      `PostgreSQL is not installed (${root}/*/bin/postgres): install the postgresql package (hack/install-debian-packages.sh)`,
    );
  return join(root, versions[0], 'bin');
}

/** uid and gid to run the server as when we are root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((l) => l.startsWith(`${name}:`))?.split(':');
    if (fields !== undefined) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root and no postgres or nobody user to run PostgreSQL as');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function waitReady(port: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const why = exited();
    if (why !== undefined) throw new Error(`PostgreSQL exited while starting: ${why}`);
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password: SUPERPASSWORD,
      database: 'postgres',
    });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function openssl(dir: string, args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
}

/** A CA, another CA, and a server certificate for 127.0.0.1 and localhost signed by the first. */
function makeCertificates(dir: string, user: { uid: number; gid: number } | undefined) {
  for (const ca of ['ca', 'other-ca'])
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=test ${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
    ]);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.crt',
  ]);
  // PostgreSQL refuses a key others can read.
  chmodSync(join(dir, 'server.key'), 0o600);
  if (user) chownSync(join(dir, 'server.key'), user.uid, user.gid);
  return {
    serverArgs: [
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${join(dir, 'server.crt')}`,
      '-c',
      `ssl_key_file=${join(dir, 'server.key')}`,
    ],
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other-ca.crt'),
  };
}

/** Creates a cluster in a temporary folder and starts it. */
export async function startPostgres(options: { tls?: boolean } = {}): Promise<TestPostgres> {
  const bin = postgresBin();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'postgres-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${SUPERPASSWORD}\n`);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const init = spawnSync(
    join(bin, 'initdb'),
    [
      '-D',
      data,
      '-U',
      SUPERUSER,
      `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
    ],
    { ...asUser, encoding: 'utf8', cwd: dir },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  let certificates: ReturnType<typeof makeCertificates> | undefined;
  try {
    if (options.tls === true) certificates = makeCertificates(dir, user);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';

  const up = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null) return; // already running
    let exit: string | undefined;
    const proc = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'fsync=off',
        '-c',
        'max_connections=200',
        '-c',
        'full_page_writes=off',
        ...(certificates?.serverArgs ?? []),
      ],
      { ...asUser, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    proc.once('exit', (code, signal) => {
      exit = `code ${code} signal ${signal}: ${log}`;
    });
    child = proc;
    await waitReady(port, () => exit);
  };

  const down = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGINT'); // fast shutdown: terminates sessions, then a clean checkpoint
    await exited;
  };

  const adminUrl = (database = 'postgres') =>
    `postgres://${SUPERUSER}:${SUPERPASSWORD}@127.0.0.1:${port}/${database}`;

  const admin = async (sql: string, database?: string): Promise<pg.QueryResult> => {
    const client = new pg.Client({ connectionString: adminUrl(database) });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };

  let databases = 0;
  try {
    await up();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    ...(certificates
      ? { tls: { caFile: certificates.caFile, otherCaFile: certificates.otherCaFile } }
      : {}),
    adminUrl,
    admin,
    async createDatabase() {
      databases++;
      const database = `findings_${process.pid}_${databases}`;
      const role = `writer_${process.pid}_${databases}`;
      const password = `pw-${databases}-${Math.random().toString(36).slice(2)}`;
      await admin(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await admin(`CREATE DATABASE ${database} OWNER ${role}`);
      return {
        url: `postgres://${role}:${password}@127.0.0.1:${port}/${database}`,
        database,
        role,
        password,
      };
    },
    async restart(downMs = 0) {
      await down();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await up();
    },
    down,
    up,
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Secret mounted as a volume, laid out as the kubelet writes one: each key a symlink to
 * `..data/<key>`, `..data` a symlink to a timestamped folder of the files. An update writes a new
 * folder and swaps `..data` in one rename (as the kubelet's atomic writer does when the Secret
 * changes), so a reader sees the old files or the new ones, never a mix or a missing file.
 */
export interface MountedSecret {
  /** The path of a key's file, as the pod sees it (`<mount>/<key>`). */
  path(key: string): string;
  /** Replaces the Secret's data (every key). */
  update(data: Record<string, string>): void;
}

export function mountSecret(mount: string, data: Record<string, string>): MountedSecret {
  mkdirSync(mount, { recursive: true });
  let generation = 0;
  const update = (next: Record<string, string>): void => {
    const previous = existsSync(join(mount, '..data')) ? readlinkSync(join(mount, '..data')) : '';
    const folder = `..${new Date().toISOString().replace(/\W/g, '_')}.${++generation}`;
    mkdirSync(join(mount, folder));
    for (const [key, value] of Object.entries(next)) writeFileSync(join(mount, folder, key), value);
    symlinkSync(folder, join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    for (const key of Object.keys(next))
      if (!existsSync(join(mount, key))) symlinkSync(join('..data', key), join(mount, key));
    for (const entry of readdirSync(mount))
      if (!entry.startsWith('..') && !(entry in next)) rmSync(join(mount, entry));
    if (previous !== '') rmSync(join(mount, previous), { recursive: true, force: true });
  };
  update(data);
  return { path: (key) => join(mount, key), update };
}
