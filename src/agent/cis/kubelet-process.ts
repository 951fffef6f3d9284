/**
 * The kubelet's command line, read through procfs: the process whose executable is the kubelet
 * (the target of /proc/PID/exe, or its `comm` where the link cannot be read), its arguments
 * from /proc/PID/cmdline, and its flags. A flag given on the command line overrides the
 * configuration file named by `--config`, so the checks that the benchmark states as flags
 * judge the flag first. Reading another process's command line needs its PID namespace: an
 * agent without the host's (no `hostPID`) sees no kubelet and reads the configuration file
 * alone.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface KubeletProcess {
  pid: number;
  /** Every flag given, by name with its dashes (`--config`); the last one given wins. */
  flags: Map<string, string>;
}

/**
 * The flags of a kubelet command line (argv without the program): `--flag=value`,
 * `--flag value` and a bare boolean `--flag` (value `true`). A word that does not start with
 * `-` is the value of the flag before it when that flag has no `=`; the kubelet takes no
 * positional arguments, so nothing else is lost. Single-dash flags are read like double-dash
 * ones (Go's flag packages accept both) and stored with two dashes.
 */
export function parseKubeletFlags(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') continue;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    if (eq >= 0) {
      flags.set(`--${body.slice(0, eq)}`, body.slice(eq + 1));
      continue;
    }
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('-')) {
      flags.set(`--${body}`, next);
      i++;
    } else {
      flags.set(`--${body}`, 'true');
    }
  }
  return flags;
}

/** A feature gate's value in `--feature-gates` (`A=true,B=false`), if it is named there. */
export function featureGate(flags: Map<string, string>, gate: string): string | undefined {
  const all = flags.get('--feature-gates');
  if (all === undefined) return undefined;
  let value: string | undefined;
  for (const pair of all.split(',')) {
    const [name, v] = pair.split('=');
    if (name?.trim() === gate) value = (v ?? '').trim();
  }
  return value;
}

/** Whether the process `pid` under `proc` runs the kubelet. */
async function isKubelet(proc: string, pid: string, argv0: string): Promise<boolean> {
  try {
    const exe = await readlink(join(proc, pid, 'exe'));
    return basename(exe.replace(/ \(deleted\)$/, '')) === 'kubelet';
  } catch {
    // The link needs ptrace access to the process; the command name and argv[0] do not.
    const comm = (await readFile(join(proc, pid, 'comm'), 'utf8').catch(() => '')).trim();
    return comm === 'kubelet' && basename(argv0) === 'kubelet';
  }
}

/** The process `pid` under `proc` when it runs the kubelet, with its flags. */
export async function readKubelet(
  proc: string,
  pid: number | string,
): Promise<KubeletProcess | undefined> {
  const dir = String(pid);
  const cmdline = await readFile(join(proc, dir, 'cmdline'), 'utf8').catch(() => '');
  if (cmdline === '') return undefined; // kernel threads, zombies, processes already gone
  const argv = cmdline.replace(/\0$/, '').split('\0');
  const argv0 = argv[0] ?? '';
  // Cheap filter first: the command name is the executable's base name (up to 15 bytes).
  const comm = (await readFile(join(proc, dir, 'comm'), 'utf8').catch(() => '')).trim();
  if (comm !== 'kubelet' && basename(argv0) !== 'kubelet') return undefined;
  if (!(await isKubelet(proc, dir, argv0))) return undefined;
  return { pid: Number(pid), flags: parseKubeletFlags(argv.slice(1)) };
}

/**
 * The kubelet process visible under `proc` (a procfs mount), or undefined when there is none:
 * no procfs there, or the kubelet runs in another PID namespace. With several, the oldest
 * (lowest PID) is taken.
 */
export async function findKubelet(proc: string): Promise<KubeletProcess | undefined> {
  let entries: string[];
  try {
    entries = await readdir(proc);
  } catch {
    return undefined;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b));
  for (const pid of pids) {
    const found = await readKubelet(proc, pid);
    if (found !== undefined) return found;
  }
  return undefined;
}
