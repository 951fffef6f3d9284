// make control-plane / control-plane-down / control-plane-binaries.
//
//   binaries  find or build etcd, kube-apiserver, kube-controller-manager, kubectl
//   up        start a control plane in the background; print the KUBECONFIG to use
//   down      stop it
//   status    say whether one is running
//   serve     (internal) run one in the foreground until SIGTERM or SIGINT
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { allBinaries, pidAlive, resolveBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';

const repoRoot = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const stateDir = join(repoRoot, '.tools', 'control-plane');
const stateFile = join(stateDir, 'state.json');
const serveLog = join(stateDir, 'serve.log');

interface State {
  pid: number;
  kubeconfig: string;
  server: string;
  dir: string;
  binaries: Record<string, string>;
}

const log = (line: string): void => console.error(`control-plane: ${line}`);

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as State;
    return pidAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

function printEnv(state: State): void {
  const kubectlDir = dirname(state.binaries.kubectl ?? '');
  console.log(
    `# control plane ${state.server} (pid ${state.pid}); stop it with: make control-plane-down`,
  );
  console.log(`export KUBECONFIG=${state.kubeconfig}`);
  if (kubectlDir !== '.') console.log(`export PATH=${kubectlDir}:$PATH`);
}

async function binaries(): Promise<void> {
  const { binaries, sources } = await resolveBinaries({ log });
  for (const name of allBinaries)
    console.log(`${name.padEnd(24)} ${binaries[name]} (${sources[name]})`);
}

async function serve(): Promise<void> {
  const plane = await startControlPlane({ log });
  const state: State = {
    pid: process.pid,
    kubeconfig: plane.kubeconfig,
    server: plane.server,
    dir: plane.dir,
    binaries: plane.binaries,
  };
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void plane
      .stop()
      .then(() => rm(stateFile, { force: true }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', shutdown);
  await writeFile(stateFile, JSON.stringify(state, null, 2));
  log(`ready at ${plane.server}`);
}

async function up(): Promise<void> {
  const running = readState();
  if (running) {
    printEnv(running);
    return;
  }
  await mkdir(stateDir, { recursive: true });
  await rm(stateFile, { force: true });
  const out = openSync(serveLog, 'w');
  const child = spawn(
    process.execPath,
    [...process.execArgv, new URL(import.meta.url).pathname, 'serve'],
    {
      detached: true,
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  child.unref();
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    const state = readState();
    if (state) {
      printEnv(state);
      return;
    }
    if (child.exitCode !== null || (child.pid !== undefined && !pidAlive(child.pid))) {
      throw new Error(
        `the control plane did not start; see ${relative(process.cwd(), serveLog)}:\n${readFileSync(serveLog, 'utf8')}`,
      );
    }
    if (Date.now() > deadline) throw new Error('the control plane did not start within 15 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function down(): Promise<void> {
  const state = readState();
  if (!state) {
    console.log('no control plane is running');
    await rm(stateFile, { force: true });
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (pidAlive(state.pid)) {
    if (Date.now() > deadline) {
      process.kill(state.pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await rm(stateFile, { force: true });
  console.log(`stopped the control plane at ${state.server}`);
}

function status(): void {
  const state = readState();
  if (state) printEnv(state);
  else console.log('no control plane is running');
}

const commands: Record<string, () => Promise<void> | void> = { binaries, serve, up, down, status };
const name = process.argv[2] ?? '';
const command = commands[name];
if (command === undefined) {
  console.error(`usage: cli.ts ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
try {
  await command();
} catch (err) {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
