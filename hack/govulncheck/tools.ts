// Prepares what the comparison with govulncheck needs, once, in the cache outside the work
// tree ($KUBE_INSPECTOR_CACHE_DIR, else $XDG_CACHE_HOME/kube-inspector, as the control plane):
//
//   - govulncheck (golang.org/x/vuln at a pinned version), built with `go install`;
//   - the Go vulnerability database as OSV JSON: the module golang.org/x/vulndb at a pinned
//     version carries it under data/osv, a directory govulncheck reads with `-db file://`
//     and kube-inspector reads as a database directory;
//   - Go binaries to compare on: the sample program next to this file (module versions with
//     known vulnerabilities, some limited to one platform) built for linux/amd64 and
//     windows/amd64, and the go command of the Go on PATH.
//
// Everything comes through the Go module proxy of the environment (GOPROXY); nothing is
// written to the work tree. Run directly, it prints what it prepared as JSON.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from '../control-plane/binaries.ts';

const execFileAsync = promisify(execFile);

/** The govulncheck release compared against. */
export const GOVULNCHECK_VERSION = 'v1.9.0';
/** The Go vulnerability database snapshot both tools read. */
export const VULNDB_VERSION = 'v0.0.0-20261105234957-e22db6528018';

const here = dirname(new URL(import.meta.url).pathname);

export interface ComparedBinary {
  /** Short name used in messages and in the documented differences. */
  name: string;
  /** The executable file. */
  path: string;
}

export interface Prepared {
  govulncheck: string;
  /** A directory of OSV JSON records (the Go vulnerability database). */
  osvDir: string;
  binaries: ComparedBinary[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

async function go(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync('go', args, {
      cwd: options.cwd ?? here,
      env: { ...process.env, GOTOOLCHAIN: 'local', ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, {
      cause: err,
    });
  }
}

async function installGovulncheck(dir: string, log: (line: string) => void): Promise<string> {
  const bin = join(dir, `govulncheck-${GOVULNCHECK_VERSION}`, 'govulncheck');
  if (await exists(bin)) return bin;
  log(`building govulncheck ${GOVULNCHECK_VERSION}`);
  const tmp = `${dirname(bin)}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  await go(['install', `golang.org/x/vuln/cmd/govulncheck@${GOVULNCHECK_VERSION}`], {
    cwd: tmp,
    env: { GOBIN: tmp, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
  });
  await rm(dirname(bin), { recursive: true, force: true });
  await rename(tmp, dirname(bin));
  return bin;
}

async function downloadDatabase(log: (line: string) => void): Promise<string> {
  log(`fetching golang.org/x/vulndb ${VULNDB_VERSION} (the Go vulnerability database)`);
  const out = await go(['mod', 'download', '-json', `golang.org/x/vulndb@${VULNDB_VERSION}`], {
    env: { GOFLAGS: '-mod=mod' },
  });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (info.Dir === undefined) throw new Error(`golang.org/x/vulndb: ${info.Error ?? 'no Dir'}`);
  const osv = join(info.Dir, 'data', 'osv');
  if (!(await exists(join(osv, 'GO-2020-0001.json'))))
    throw new Error(`${osv} does not hold the OSV records of the Go vulnerability database`);
  return osv;
}

async function buildSamples(dir: string, log: (line: string) => void): Promise<ComparedBinary[]> {
  const goMod = await readFile(join(here, 'sample', 'go.mod'), 'utf8');
  const goSum = await readFile(join(here, 'sample', 'go.sum'), 'utf8');
  const main = await readFile(join(here, 'sample', 'main.go'), 'utf8');
  const goVersion = (await go(['env', 'GOVERSION'])).trim();
  // Keyed by the program and the Go that builds it: any change builds them again.
  const key = createHash('sha256')
    .update(`${goMod}\0${goSum}\0${main}\0${goVersion}`)
    .digest('hex')
    .slice(0, 12);
  const root = join(dir, `samples-${key}`);
  const targets = [
    { name: 'sample-linux-amd64', goos: 'linux', goarch: 'amd64', file: 'sample' },
    { name: 'sample-windows-amd64', goos: 'windows', goarch: 'amd64', file: 'sample.exe' },
  ];
  const out: ComparedBinary[] = [];
  for (const t of targets) {
    const path = join(root, t.name, t.file);
    if (!(await exists(path))) {
      log(`building the sample program for ${t.goos}/${t.goarch}`);
      const tmp = `${path}.tmp-${process.pid}`;
      await mkdir(dirname(path), { recursive: true });
      await go(['build', '-trimpath', '-mod=readonly', '-o', tmp, '.'], {
        cwd: join(here, 'sample'),
        env: { GOOS: t.goos, GOARCH: t.goarch, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
      });
      await rename(tmp, path);
    }
    out.push({ name: t.name, path });
  }
  // The go command itself: a binary of the Go distribution (main package cmd/go).
  const goroot = (await go(['env', 'GOROOT'])).trim();
  const goCommand = join(root, 'go-command', 'go');
  if (!(await exists(goCommand))) {
    await mkdir(dirname(goCommand), { recursive: true });
    await copyFile(join(goroot, 'bin', 'go'), `${goCommand}.tmp-${process.pid}`);
    await rename(`${goCommand}.tmp-${process.pid}`, goCommand);
  }
  out.push({ name: 'go-command', path: goCommand });
  return out;
}

/** Builds or finds govulncheck, the database and the sample binaries. */
export async function prepare(log: (line: string) => void = () => {}): Promise<Prepared> {
  const dir = join(cacheRoot(), 'govulncheck');
  await mkdir(dir, { recursive: true });
  const govulncheck = await installGovulncheck(dir, log);
  const osvDir = await downloadDatabase(log);
  const binaries = await buildSamples(dir, log);
  return { govulncheck, osvDir, binaries };
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const prepared = await prepare((line) => console.error(line));
  console.log(JSON.stringify(prepared, null, 2));
}
