// What a worker node changes on its host, recorded before it starts and
// compared after it stops: processes, mounts, network namespaces and links,
// iptables chains and rules, cgroups, sysctls and files in the system folders
// a kubelet and containerd write to. `leftovers` names every difference;
// `restoreNetfilter` removes the iptables chains and rules added since a
// snapshot (and only those: rules another program adds meanwhile stay).
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { endInput } from '../../test/support/child-input.ts';

const execFileAsync = promisify(execFile);

/** Process names a node runs; one of these that appears after a snapshot is a leftover. */
export const nodeProcessNames = [
  'containerd',
  'containerd-shim',
  'containerd-shim-runc-v2',
  'runc',
  'pause',
  'kubelet',
  'kube-proxy',
  'kube-scheduler',
  'docker-registry',
];

/** sysctls a node may change (the bridge plugin turns on forwarding, for one). */
export const watchedSysctls = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
];

/** System folders whose entries are compared (a kubelet or CNI plugin writes some of them). */
export const watchedFolders = [
  '/run',
  '/run/netns',
  '/var/run',
  '/var/lib',
  '/var/log',
  '/etc',
  '/etc/cni',
  '/lib',
  '/var/lib/containers',
  '/opt',
  '/opt/cni',
];

/**
 * Folders the image tools (buildah, skopeo: Debian's packages) create on their first use as root
 * and keep for every later use: containers/image's blob-info cache and the lock of buildah's
 * network set-up (made even with `--network host`). They are the tools' state, not the node's.
 */
export const imageToolFolders = ['/var/lib/containers/cache', '/etc/cni/net.d'];

/**
 * Creates the image tools' folders (as the tools would, mode 0700) before the host is recorded,
 * so that the first run on a machine does not count them as left behind by the node.
 */
export async function prepareImageToolFolders(): Promise<void> {
  for (const folder of imageToolFolders) await mkdir(folder, { recursive: true, mode: 0o700 });
}

export interface HostState {
  /** pid -> "name cmdline" of the node's kind of processes. */
  processes: Record<string, string>;
  mounts: string[];
  links: string[];
  /** "iptables filter :CHAIN" and "iptables nat -A ..." lines. */
  netfilter: string[];
  /** Child folders of every cgroup hierarchy's root ("memory/kubepods"). */
  cgroups: string[];
  sysctls: Record<string, string>;
  /** Entries of the watched folders ("/var/log/containers"). */
  files: string[];
}

const netfilterTables = ['filter', 'nat', 'mangle', 'raw'];

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).map((e) => join(dir, e));
}

/** The node's kind of processes, and every process in a pod's cgroup (marked [kubepods]). */
async function processes(): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    const inPod = (await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '')).includes(
      '/kubepods',
    );
    if (!inPod && !nodeProcessNames.includes(comm)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    found[pid] = `${comm} ${cmdline.split('\0').join(' ').trim()}${inPod ? ' [kubepods]' : ''}`;
  }
  return found;
}

async function netfilter(): Promise<string[]> {
  const lines: string[] = [];
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    for (const table of netfilterTables) {
      const { stdout } = await execFileAsync(tool, ['-t', table]).catch(() => ({ stdout: '' }));
      for (const line of stdout.split('\n')) {
        // ":CHAIN POLICY [packets:bytes]": the counters change all the time.
        if (line.startsWith(':')) lines.push(`${tool} ${table} ${line.split(' ')[0]}`);
        else if (line.startsWith('-A ')) lines.push(`${tool} ${table} ${line}`);
      }
    }
  }
  return lines;
}

async function cgroups(): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await entries('/sys/fs/cgroup')) {
    for (const child of await readdir(hierarchy, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory()) found.push(join(hierarchy, child.name));
    }
  }
  return found;
}

/** Records the host's state. */
export async function snapshotHost(): Promise<HostState> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const sysctls: Record<string, string> = {};
  for (const name of watchedSysctls) {
    sysctls[name] = (await readFile(`/proc/sys/${name}`, 'utf8').catch(() => '')).trim();
  }
  const files: string[] = [];
  for (const dir of watchedFolders) files.push(...(await entries(dir)));
  return {
    processes: await processes(),
    mounts: mountinfo
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ')[4]!),
    links: (await readdir('/sys/class/net').catch(() => [])).sort(),
    netfilter: await netfilter(),
    cgroups: await cgroups(),
    sysctls,
    files,
  };
}

function added(before: readonly string[], after: readonly string[]): string[] {
  const old = new Set(before);
  return after.filter((x) => !old.has(x));
}

/**
 * Everything in `after` that `before` did not have, one line each; empty when nothing is left.
 * With `markers` (the node's folders), a new process counts when it runs in a pod's cgroup or its
 * command line names a marker: other programs on a shared machine start processes meanwhile.
 */
export function leftovers(before: HostState, after: HostState, markers?: string[]): string[] {
  const found: string[] = [];
  for (const [pid, what] of Object.entries(after.processes)) {
    if (before.processes[pid] === what) continue;
    const ours =
      markers === undefined ||
      what.endsWith(' [kubepods]') ||
      markers.some((m) => what.includes(m));
    if (ours) found.push(`process ${pid}: ${what}`);
  }
  for (const m of added(before.mounts, after.mounts)) found.push(`mount ${m}`);
  for (const l of added(before.links, after.links)) found.push(`network link ${l}`);
  for (const r of added(before.netfilter, after.netfilter)) found.push(`netfilter ${r}`);
  for (const c of added(before.cgroups, after.cgroups)) found.push(`cgroup ${c}`);
  for (const [name, value] of Object.entries(after.sysctls)) {
    if (before.sysctls[name] !== value) {
      found.push(`sysctl ${name}=${value} (was ${before.sysctls[name] ?? 'absent'})`);
    }
  }
  for (const f of added(before.files, after.files)) found.push(`file ${f}`);
  return found;
}

/**
 * An iptables-restore --noflush script per tool that deletes the rules added since `before`
 * from chains that existed then, and flushes and deletes the chains added since.
 */
export function netfilterRestoreScripts(
  before: readonly string[],
  after: readonly string[],
): Record<string, string> {
  const newLines = added(before, after);
  const scripts: Record<string, string> = {};
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const blocks: string[] = [];
    for (const table of netfilterTables) {
      const prefix = `${tool} ${table} `;
      const mine = newLines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
      const newChains = mine.filter((l) => l.startsWith(':')).map((l) => l.slice(1));
      const isNew = (rule: string): boolean => newChains.includes(rule.split(' ')[1]!);
      const deletes = mine
        .filter((l) => l.startsWith('-A ') && !isNew(l))
        .map((l) => `-D ${l.slice(3)}`);
      if (deletes.length === 0 && newChains.length === 0) continue;
      blocks.push(
        `*${table}`,
        ...deletes,
        ...newChains.map((c) => `-F ${c}`),
        ...newChains.map((c) => `-X ${c}`),
        'COMMIT',
      );
    }
    if (blocks.length > 0) scripts[tool.replace('-save', '-restore')] = `${blocks.join('\n')}\n`;
  }
  return scripts;
}

/** Removes the iptables chains and rules added since `before`. */
export async function restoreNetfilter(before: HostState): Promise<void> {
  const scripts = netfilterRestoreScripts(before.netfilter, await netfilter());
  for (const [tool, script] of Object.entries(scripts)) {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(tool, ['--noflush'], (err, _out, stderr) =>
        err ? reject(new Error(`${tool} --noflush failed: ${stderr || err.message}`)) : resolve(),
      );
      endInput(child, script, reject);
    });
  }
}

/** Puts the watched sysctls back to their values in `before`. */
export async function restoreSysctls(before: HostState): Promise<void> {
  for (const [name, value] of Object.entries(before.sysctls)) {
    if (value === '') continue;
    const now = (await readFile(`/proc/sys/${name}`, 'utf8').catch(() => '')).trim();
    if (now !== value) await writeFile(`/proc/sys/${name}`, value);
  }
}

/** Where a symlink points, or undefined. */
export async function linkTarget(path: string): Promise<string | undefined> {
  return readlink(path).catch(() => undefined);
}
