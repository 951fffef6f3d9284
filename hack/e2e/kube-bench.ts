// kube-bench for the end-to-end comparison of the cis node checks: built from its Go module at
// the version pinned in hack/e2e/kube-bench/go.mod into the build cache outside the work tree
// (as hack/control-plane builds the control plane), and run with its own cfg/ folder from the
// same module, its kubelet file paths pointed at the files the node's kubelet uses.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { cacheRoot } from '../control-plane/binaries.ts';

const execFileAsync = promisify(execFile);
const moduleDir = join(dirname(new URL(import.meta.url).pathname), 'kube-bench');
const MODULE = 'github.com/aquasecurity/kube-bench';
const goEnv = { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' };

export interface KubeBench {
  binary: string;
  version: string;
  /** The module's cfg/ folder (read-only, in Go's module cache). */
  cfg: string;
  /** Whether this call built it, and the CPU seconds the build took (user + system). */
  built?: { cpuSeconds: number; wallMs: number };
}

/**
 * Runs a command under /usr/bin/time (user + system CPU seconds of it and its children, which a
 * Node process cannot read for a child); stdout collected, stderr inherited or collected.
 */
async function timed(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; inheritStderr?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string; cpuSeconds: number }> {
  const times = join(tmpdir(), `kube-bench-time-${process.pid}-${Date.now()}`);
  try {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', times, command, ...args], {
          cwd: options.cwd,
          env: options.env ?? process.env,
          stdio: ['ignore', 'pipe', options.inheritStderr ? 'inherit' : 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('exit', (c, signal) =>
          resolve({ code: c ?? (signal ? 128 : 1), stdout, stderr }),
        );
      },
    );
    const [user, system] = (await readFile(times, 'utf8').catch(() => ''))
      .trim()
      .split('\n')
      .at(-1)!
      .split(' ')
      .map(Number);
    return { ...result, cpuSeconds: (user ?? Number.NaN) + (system ?? Number.NaN) };
  } finally {
    await rm(times, { force: true });
  }
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** kube-bench's binary from the cache, built first when it is not there. */
export async function resolveKubeBench(log: (line: string) => void): Promise<KubeBench> {
  const goMod = await readFile(join(moduleDir, 'go.mod'), 'utf8');
  const goSum = await readFile(join(moduleDir, 'go.sum'), 'utf8');
  const version = /^require github\.com\/aquasecurity\/kube-bench (v\S+)/m.exec(goMod)?.[1];
  if (version === undefined)
    throw new Error(`hack/e2e/kube-bench/go.mod does not require ${MODULE}`);
  const ldflags = `-s -w -X ${MODULE}/cmd.KubeBenchVersion=${version}`;
  const key = createHash('sha256')
    .update(goMod)
    .update('\0')
    .update(goSum)
    .update('\0')
    .update(ldflags)
    .digest('hex')
    .slice(0, 12);
  const dir = join(cacheRoot(), 'kube-bench', `${version}-${key}`);
  const binary = join(dir, 'kube-bench');
  // `go list` also downloads the module (cfg/ included) when the module cache lacks it.
  const { stdout } = await execFileAsync('go', ['list', '-m', '-json', MODULE], {
    cwd: moduleDir,
    env: goEnv,
  });
  const cfg = join((JSON.parse(stdout) as { Dir: string }).Dir, 'cfg');
  if (await executable(binary)) return { binary, version, cfg };

  await mkdir(dir, { recursive: true });
  const staging = `${binary}.${process.pid}`;
  log(`building kube-bench ${version} from its Go module (once per version)`);
  const started = Date.now();
  const build = await timed(
    'go',
    ['build', '-trimpath', '-ldflags', ldflags, '-o', staging, MODULE],
    {
      cwd: moduleDir,
      env: goEnv,
      inheritStderr: true,
    },
  );
  if (build.code !== 0) {
    await rm(staging, { force: true });
    throw new Error(`go build of ${MODULE} ${version} failed with exit code ${build.code}`);
  }
  await rename(staging, binary);
  const wallMs = Date.now() - started;
  log(
    `built kube-bench ${version} in ${(wallMs / 1000).toFixed(0)} s ` +
      `(${build.cpuSeconds.toFixed(0)} CPU s) into ${dir}`,
  );
  return { binary, version, cfg, built: { cpuSeconds: build.cpuSeconds, wallMs } };
}

/** The kubelet's files kube-bench is to read (its `node.kubelet` paths). */
export interface KubeletPaths {
  config: string;
  kubeconfig: string;
  clientCa: string;
}

/**
 * A copy of kube-bench's cfg/ folder in `into` whose node.kubelet paths name only the given
 * files. kube-bench does not follow the kubelet's --config: it tries the paths of its list and
 * falls back to kubeadm's, so without this it would judge files the kubelet does not use.
 */
export async function kubeBenchConfig(
  cfg: string,
  into: string,
  paths: KubeletPaths,
): Promise<string> {
  await rm(into, { recursive: true, force: true });
  await cp(cfg, into, { recursive: true });
  await chmod(into, 0o755);
  const file = join(into, 'config.yaml');
  await chmod(file, 0o644);
  const doc = parse(await readFile(file, 'utf8')) as {
    node: { kubelet: Record<string, unknown> };
  };
  const k = doc.node.kubelet;
  k.confs = [paths.config];
  k.defaultconf = paths.config;
  k.kubeconfig = [paths.kubeconfig];
  k.defaultkubeconfig = paths.kubeconfig;
  k.cafile = [paths.clientCa];
  k.defaultcafile = paths.clientCa;
  await writeFile(file, stringify(doc));
  return into;
}

/** One control's verdict: PASS, FAIL, WARN (a failed Manual control) or INFO. */
export type KubeBenchVerdicts = Map<string, string>;

/** Runs `kube-bench run --targets node --benchmark BENCHMARK --json`; the verdict of each control. */
export async function runKubeBench(
  binary: string,
  configDir: string,
  benchmark: string,
): Promise<{ verdicts: KubeBenchVerdicts; cpuSeconds: number }> {
  const args = [
    'run',
    '--targets',
    'node',
    '--benchmark',
    benchmark,
    '--json',
    '--config-dir',
    configDir,
    '--config',
    join(configDir, 'config.yaml'),
  ];
  const run = await timed(binary, args);
  if (run.code !== 0) throw new Error(`kube-bench exited with ${run.code}: ${run.stderr.trim()}`);
  const report = JSON.parse(run.stdout) as {
    Controls: { tests: { results: { test_number: string; status: string }[] }[] }[];
  };
  const verdicts: KubeBenchVerdicts = new Map();
  for (const control of report.Controls)
    for (const group of control.tests)
      for (const r of group.results) verdicts.set(r.test_number, r.status);
  return { verdicts, cpuSeconds: run.cpuSeconds };
}
