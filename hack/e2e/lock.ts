// One end-to-end run per host: a node takes host-wide names (the bridge, the pod CIDR, the
// node's host name, iptables chains, /var/log/containers) and the teardown compares the whole
// host with what it was before, so a second run at the same time would break both. A run
// holds a lock file naming itself; another run refuses to start and names the holder. A lock
// whose process is gone is stale and taken over.
import { readFile, rm, writeFile } from 'node:fs/promises';

/** Where the lock lives: host-wide, outside the folders the host-state check compares. */
export const DEFAULT_LOCK_PATH = '/run/lock/kube-inspector-e2e.lock';

export interface LockHolder {
  pid: number;
  /** ISO time the run started. */
  started: string;
  /** The working folder of the run (its checkout). */
  cwd: string;
}

/** Raised when another live run holds the lock. */
export class RunLockedError extends Error {
  override name = 'RunLockedError';
  readonly path: string;
  readonly holder: LockHolder;
  constructor(path: string, holder: LockHolder) {
    super(
      `another end-to-end run holds ${path}: pid ${holder.pid}, started ${holder.started} in ` +
        `${holder.cwd}. Two runs on one host would collide (node name, bridge, pod network, ` +
        `iptables chains); wait for it to finish, or stop it and run again.`,
    );
    this.path = path;
    this.holder = holder;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || !Number.isInteger(h.pid) || h.pid <= 0) return undefined;
    return { pid: h.pid, started: String(h.started ?? '?'), cwd: String(h.cwd ?? '?') };
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock for this process, or throws {@link RunLockedError} naming the live holder.
 * Returns the function that releases it (only while this process still holds it).
 */
export async function acquireRunLock(
  path = DEFAULT_LOCK_PATH,
  log: (line: string) => void = () => undefined,
): Promise<() => Promise<void>> {
  const me: LockHolder = {
    pid: process.pid,
    started: new Date().toISOString(),
    cwd: process.cwd(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, `${JSON.stringify(me)}\n`, { flag: 'wx', mode: 0o644 });
      return async () => {
        const now = parseHolder(await readFile(path, 'utf8').catch(() => ''));
        if (now?.pid === me.pid) await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const holder = parseHolder(text);
    if (holder !== undefined && alive(holder.pid)) throw new RunLockedError(path, holder);
    log(
      holder === undefined
        ? `removing the unreadable lock file ${path}`
        : `removing the stale lock of pid ${holder.pid} (started ${holder.started}), which is gone`,
    );
    await rm(path, { force: true });
  }
  throw new Error(`could not take the lock ${path}: it keeps coming back`);
}
