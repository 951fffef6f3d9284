// Finds or builds the control-plane binaries.
//
// Precedence for each binary, as in controller-runtime's envtest:
//   1. TEST_ASSET_<NAME> (full path of that binary),
//   2. $KUBEBUILDER_ASSETS/<name> (setup-envtest's directory),
//   3. the build cache outside the work tree, built from the pinned Go
//      modules under hack/control-plane/<module>/ when missing.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type BinaryName =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kubectl' | NodeBinaryName;
/** A worker node's binaries (the end-to-end tests' node); built only when asked for. */
export type NodeBinaryName = 'kubelet' | 'kube-scheduler' | 'kube-proxy';
export const nodeBinaries: readonly NodeBinaryName[] = ['kubelet', 'kube-scheduler', 'kube-proxy'];
/** The control plane's binaries. */
export const allBinaries: readonly BinaryName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kubectl',
];

export type Binaries = Record<Exclude<BinaryName, NodeBinaryName>, string>;

interface GoModuleSpec {
  /** Folder under hack/control-plane holding the wrapper go.mod and go.sum. */
  dir: string;
  /** The module whose version names the cache folder. */
  module: string;
  /** Main packages by binary name. */
  packages: Partial<Record<BinaryName, string>>;
  ldflags(version: string): string;
}

function kubernetesLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags.join(' ');
}

const modules: readonly GoModuleSpec[] = [
  {
    dir: 'kubernetes',
    module: 'k8s.io/kubernetes',
    packages: {
      'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
      'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
      kubectl: 'k8s.io/kubernetes/cmd/kubectl',
      kubelet: 'k8s.io/kubernetes/cmd/kubelet',
      'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
      'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
    },
    ldflags: kubernetesLdflags,
  },
  {
    dir: 'etcd',
    module: 'go.etcd.io/etcd/server/v3',
    packages: { etcd: 'go.etcd.io/etcd/server/v3' },
    ldflags: (version) => `-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${version}`,
  },
];

const modulesRoot = dirname(new URL(import.meta.url).pathname);

/** The environment variable envtest reads for one binary: TEST_ASSET_KUBE_APISERVER etc. */
export function assetVariable(name: BinaryName): string {
  return `TEST_ASSET_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/** Root of kube-inspector's caches: $KUBE_INSPECTOR_CACHE_DIR, else $XDG_CACHE_HOME/kube-inspector. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUBE_INSPECTOR_CACHE_DIR) return env.KUBE_INSPECTOR_CACHE_DIR;
  const xdg = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'kube-inspector');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with progress lines (a build takes minutes the first time). */
  log?: (line: string) => void;
  /** Which binaries are needed; default all. */
  need?: readonly BinaryName[];
}

/** Where each binary comes from, for messages. */
export type Source = 'TEST_ASSET' | 'KUBEBUILDER_ASSETS' | 'cache' | 'built';

export interface Resolved {
  binaries: Partial<Record<BinaryName, string>>;
  sources: Partial<Record<BinaryName, Source>>;
}

/** Finds every needed binary, building from the pinned Go modules what is not found. */
export async function resolveBinaries(options: ResolveOptions = {}): Promise<Resolved> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const need = options.need ?? allBinaries;
  const result: Resolved = { binaries: {}, sources: {} };
  const missing: BinaryName[] = [];

  for (const name of need) {
    const variable = assetVariable(name);
    const explicit = env[variable];
    if (explicit) {
      if (!(await isExecutable(explicit))) {
        throw new Error(`${variable}=${explicit} is not an executable file`);
      }
      result.binaries[name] = explicit;
      result.sources[name] = 'TEST_ASSET';
      continue;
    }
    const assets = env.KUBEBUILDER_ASSETS;
    if (assets && (await isExecutable(join(assets, name)))) {
      result.binaries[name] = join(assets, name);
      result.sources[name] = 'KUBEBUILDER_ASSETS';
      continue;
    }
    missing.push(name);
  }

  for (const spec of modules) {
    const wanted = missing.filter((name) => spec.packages[name] !== undefined);
    if (wanted.length === 0) continue;
    const dir = await moduleCacheDir(spec, env);
    const toBuild: BinaryName[] = [];
    for (const name of wanted) {
      if (await isExecutable(join(dir, name))) {
        result.binaries[name] = join(dir, name);
        result.sources[name] = 'cache';
      } else {
        toBuild.push(name);
      }
    }
    if (toBuild.length > 0) {
      await buildModule(spec, dir, toBuild, env, log);
      for (const name of toBuild) {
        result.binaries[name] = join(dir, name);
        result.sources[name] = 'built';
      }
    }
  }
  return result;
}

/** Resolves all four binaries or throws. */
export async function resolveAllBinaries(options: ResolveOptions = {}): Promise<Binaries> {
  const { binaries } = await resolveBinaries({ ...options, need: allBinaries });
  for (const name of allBinaries) {
    if (binaries[name] === undefined) throw new Error(`no ${name} binary`);
  }
  return binaries as Binaries;
}

async function goVersion(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await execFileAsync('go', ['version'], {
      env: { ...env, GOTOOLCHAIN: 'local' },
    });
    return stdout.trim();
  } catch {
    throw new Error(
      'the control-plane binaries are not built yet and Go (>= 1.26) is not on PATH. ' +
        'Install Go, or point KUBEBUILDER_ASSETS / TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, ' +
        'TEST_ASSET_KUBE_CONTROLLER_MANAGER and TEST_ASSET_KUBECTL at existing binaries, ' +
        'or set USE_EXISTING_CLUSTER=true with KUBECONFIG',
    );
  }
}

function moduleVersion(spec: GoModuleSpec, goMod: string): string {
  const escaped = spec.module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`${spec.dir}/go.mod does not require ${spec.module}`);
  return match[1];
}

/**
 * The cache folder of one wrapper module: named by the module's version and
 * keyed by go.mod, go.sum and the Go version, so any change rebuilds.
 */
async function moduleCacheDir(spec: GoModuleSpec, env: NodeJS.ProcessEnv): Promise<string> {
  const goMod = await readFile(join(modulesRoot, spec.dir, 'go.mod'), 'utf8');
  const goSum = await readFile(join(modulesRoot, spec.dir, 'go.sum'), 'utf8');
  const version = moduleVersion(spec, goMod);
  // The Go version only matters for a build; cached binaries from another Go are still valid
  // if go.mod and go.sum match, so it is not part of the key. The key folds in the flags.
  const key = createHash('sha256')
    .update(goMod)
    .update('\0')
    .update(goSum)
    .update('\0')
    .update(spec.ldflags(version))
    .digest('hex')
    .slice(0, 12);
  return join(cacheRoot(env), 'control-plane', `${spec.dir}-${version}-${key}`);
}

async function buildModule(
  spec: GoModuleSpec,
  dir: string,
  names: BinaryName[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  const go = await goVersion(env);
  await mkdir(dir, { recursive: true });
  const release = await acquireLock(join(dir, '.build.lock'), log);
  try {
    // Another process may have built them while we waited for the lock.
    const still: BinaryName[] = [];
    for (const name of names) if (!(await isExecutable(join(dir, name)))) still.push(name);
    if (still.length === 0) return;

    const goMod = await readFile(join(modulesRoot, spec.dir, 'go.mod'), 'utf8');
    const version = moduleVersion(spec, goMod);
    const staging = join(dir, `.staging-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const packages = still.map((name) => spec.packages[name] as string);
    log(
      `building ${still.join(', ')} from ${spec.module} ${version} with ${go} ` +
        `(once per version; a cold build takes several minutes)`,
    );
    const started = Date.now();
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        'go',
        // Several main packages are written under their own names; a single one is named here
        // (etcd's package path ends in /v3).
        [
          'build',
          '-trimpath',
          '-ldflags',
          spec.ldflags(version),
          '-o',
          still.length === 1 ? join(staging, still[0]!) : `${staging}/`,
          ...packages,
        ],
        {
          cwd: join(modulesRoot, spec.dir),
          env: { ...env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' },
          stdio: ['ignore', 'inherit', 'inherit'],
        },
      );
      child.once('error', reject);
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`go build of ${packages.join(' ')} failed with exit code ${code}`);
    }
    for (const name of still) await rename(join(staging, name), join(dir, name));
    await rm(staging, { recursive: true, force: true });
    log(`built ${still.join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s into ${dir}`);
  } finally {
    await release();
  }
}

/** Whether a process exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An exclusive lock file holding the owner's pid; a lock whose owner died is taken over. */
async function acquireLock(
  path: string,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  let told = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (!Number.isFinite(owner) || !pidAlive(owner)) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (!told) {
        log(`waiting for the build running in process ${owner}`);
        told = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
