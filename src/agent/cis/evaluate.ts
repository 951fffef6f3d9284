/**
 * Evaluation of the `cis` node checks (checks.ts) on a host's root filesystem: read-only reads
 * of files under `root`, and of a procfs (`proc`, by default `root`/proc): the kubelet's
 * command line (kubelet-process.ts), /proc/sys and /proc/1/mounts (the mounts of the host's
 * init, not of the reading process, which may sit in a container's mount namespace). Each check
 * gives one result: PASSED, FAILED, NOT_APPLICABLE (what it reads does not exist on this node,
 * for example no kubelet service drop-in) or ERROR (it could not be read or parsed), with what
 * was found. These results are the facts the agent reports; findings are built from them
 * elsewhere.
 *
 * With the kubelet's process in sight, its files are the ones its flags name (`--config`,
 * `--kubeconfig`, `--client-ca-file`) and a flag given overrides the configuration file's field,
 * as in the kubelet itself. Without it (no host PID namespace), the files are kubeadm's and what
 * was found says that the command line was not read.
 */
import type { Stats } from 'node:fs';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { parse } from 'yaml';
import type { CisCheck, CisRule, CisTarget, KubeletFile, KubeletFlag } from './checks.ts';
import { featureGate, findKubelet, type KubeletProcess } from './kubelet-process.ts';

/** Appended to what was found by a check the kubelet's command line could change. */
export const FLAGS_NOT_READ = 'kubelet command line not read';

export type CisStatus = 'PASSED' | 'FAILED' | 'NOT_APPLICABLE' | 'ERROR';

export interface CisResult {
  id: string;
  status: CisStatus;
  /** What was read, as text ("absent" when the field is not set). */
  found: string;
}

type Read =
  | { value: string | number | boolean | undefined; flag?: string; file?: string }
  | { missing: string }
  | { error: string };

function isMissing(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Sysctls as `name=value` pairs; the ones that do not exist are left out. */
async function readSysctls(proc: string, names: readonly string[]): Promise<Read> {
  const pairs: string[] = [];
  for (const name of names) {
    try {
      const v = await readFile(join(proc, 'sys', ...name.split('.')), 'utf8');
      pairs.push(`${name}=${v.trim()}`);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
  if (pairs.length === 0) return { missing: `${names.join(', ')} do not exist` };
  return { value: pairs.join(', ') };
}

/** Whether a Go duration (or a bare number of seconds) is zero: 0, 0s, 0m0s, 0.0h... */
function isZeroDuration(v: string | number | boolean): boolean {
  if (typeof v === 'number') return v === 0;
  if (typeof v !== 'string') return false;
  const numbers = v
    .trim()
    .split(/[a-zµ]+/i)
    .filter((n) => n !== '');
  return numbers.length > 0 && numbers.every((n) => Number(n) === 0);
}

/** What one evaluation knows of the node: where things are, the kubelet, parsed files. */
interface Context {
  root: string;
  proc: string;
  /** The kubelet's process, when its PID namespace is visible. */
  kubelet: KubeletProcess | undefined;
  docs: Map<string, unknown>;
}

/** The kubelet's configuration file: the one `--config` names, kubeadm's when not seen. */
function configPath(ctx: Context, fixed: string): string | undefined {
  return ctx.kubelet === undefined ? fixed : ctx.kubelet.flags.get('--config');
}

/** The kubelet's configuration (YAML or JSON), parsed once per evaluation; none: `{}`. */
async function kubeletConfig(ctx: Context, path: string | undefined): Promise<unknown> {
  if (path === undefined) return {};
  let doc = ctx.docs.get(path);
  if (doc === undefined) {
    doc = parse(await readFile(join(ctx.root, path), 'utf8')) as unknown;
    ctx.docs.set(path, doc ?? null);
  }
  return doc;
}

function dig(obj: unknown, key: string): unknown {
  let v = obj;
  for (const k of key.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** A flag's text as the configuration field would hold it: `true`, `false`, numbers. */
function typed(raw: string): string | number | boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

function flagValue(k: KubeletProcess, f: KubeletFlag): string | undefined {
  return f.gate !== undefined ? featureGate(k.flags, f.gate) : k.flags.get(f.flag);
}

/**
 * The host path of a kubelet file: the one its command line names (a path in the configuration
 * file is relative to that file's folder, as the kubelet reads it); undefined: none named.
 */
async function kubeletFilePath(
  ctx: Context,
  file: KubeletFile,
  fixed: string,
  config: string,
): Promise<{ path: string } | { none: string }> {
  const k = ctx.kubelet;
  if (k === undefined) return { path: fixed };
  const flag = { config: '--config', kubeconfig: '--kubeconfig', 'client-ca': '--client-ca-file' }[
    file
  ];
  const named = k.flags.get(flag);
  if (named !== undefined && named !== '') return { path: posix.resolve('/', named) };
  if (file === 'client-ca') {
    const path = configPath(ctx, config);
    const ca = dig(await kubeletConfig(ctx, path), 'authentication.x509.clientCAFile');
    if (typeof ca === 'string' && ca !== '' && path !== undefined)
      return { path: posix.resolve(dirname(posix.resolve('/', path)), ca) };
    return { none: `the kubelet names no client CA file (${flag}, clientCAFile)` };
  }
  return { none: `the kubelet runs without ${flag}` };
}

/** The kubelet's configuration file, for a located file check: kubeadm's path when not seen. */
const KUBEADM_CONFIG = '/var/lib/kubelet/config.yaml';

type Target<R extends CisTarget['read']> = Extract<CisTarget, { read: R }>;

async function readFileTarget(ctx: Context, t: Target<'file-mode' | 'file-owner'>): Promise<Read> {
  let path = t.path;
  if (t.kubeletFile !== undefined) {
    const where = await kubeletFilePath(ctx, t.kubeletFile, t.path, KUBEADM_CONFIG);
    if ('none' in where) return { missing: where.none };
    path = where.path;
  }
  const s = await statOrMissing(join(ctx.root, path), path);
  if ('missing' in s) return s;
  const value = t.read === 'file-mode' ? s.mode & 0o7777 : `${s.uid}:${s.gid}`;
  // The file the kubelet named is said; kubeadm's fixed one is the check's own.
  return path !== t.path ? { value, file: path } : { value };
}

async function statOrMissing(at: string, path: string): Promise<Stats | { missing: string }> {
  try {
    return await stat(at);
  } catch (err) {
    if (isMissing(err)) return { missing: `${path} does not exist` };
    throw err;
  }
}

async function readConfigKeys(ctx: Context, t: Target<'kubelet-config-keys'>): Promise<Read> {
  const doc = await kubeletConfig(ctx, configPath(ctx, t.path));
  const pairs = t.keys.map((k, i) => {
    const flag = t.flags?.[i];
    const fromFlag = flag !== undefined ? ctx.kubelet?.flags.get(flag) : undefined;
    if (fromFlag !== undefined) return `${flag}=${fromFlag}`;
    const v = dig(doc, k);
    if (v === undefined || v === '') return `${k} absent`;
    return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
  });
  return { value: pairs.join(', ') };
}

async function readConfigKey(ctx: Context, t: Target<'kubelet-config'>): Promise<Read> {
  const raw =
    t.flag !== undefined && ctx.kubelet !== undefined ? flagValue(ctx.kubelet, t.flag) : undefined;
  if (raw !== undefined && t.flag !== undefined)
    return { value: typed(raw), flag: t.flag.gate ?? t.flag.flag };
  const path = configPath(ctx, t.path);
  let v = dig(await kubeletConfig(ctx, path), t.key);
  // A list of strings (tlsCipherSuites) reads as the flag spells it: joined by commas.
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) v = v.join(',');
  if (v !== undefined && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
    return { error: `${t.key} is not a scalar in ${path ?? t.path}` };
  return { value: v };
}

async function readMountOptions(ctx: Context, t: Target<'mount-options'>): Promise<Read> {
  const mounts = await readFile(join(ctx.proc, '1/mounts'), 'utf8');
  const line = mounts
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[1] === t.mountPoint)
    .at(-1);
  if (line === undefined) return { missing: `${t.mountPoint} is not a separate mount` };
  return { value: line[3] ?? '' };
}

/** The host's group names by gid, from its /etc/group (none readable: no names). */
async function groupNames(ctx: Context): Promise<Map<number, string>> {
  const cached = ctx.docs.get('/etc/group#names');
  if (cached instanceof Map) return cached as Map<number, string>;
  const names = new Map<number, string>();
  try {
    for (const line of (await readFile(join(ctx.root, 'etc/group'), 'utf8')).split('\n')) {
      const [name, , gid] = line.split(':');
      if (name !== undefined && name !== '' && gid !== undefined && /^\d+$/.test(gid))
        names.set(Number(gid), name);
    }
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
  ctx.docs.set('/etc/group#names', names);
  return names;
}

async function readPermissions(ctx: Context, t: Target<'file-permissions'>): Promise<Read> {
  const s = await statOrMissing(join(ctx.root, t.path), t.path);
  if ('missing' in s) return s;
  const mode = (s.mode & 0o7777).toString(8).padStart(4, '0');
  const group = (await groupNames(ctx)).get(s.gid) ?? '-';
  return { value: `${mode} ${s.uid}:${s.gid} ${group}` };
}

/** The units linked from the `*.wants` and `*.requires` folders of /etc/systemd/system. */
async function readEnabledServices(ctx: Context, t: Target<'systemd-enabled'>): Promise<Read> {
  const units = join(ctx.root, 'etc/systemd/system');
  let folders: string[];
  try {
    folders = await readdir(units);
  } catch (err) {
    if (isMissing(err)) return { missing: '/etc/systemd/system does not exist (no systemd)' };
    throw err;
  }
  const linked = new Set<string>();
  for (const f of folders) {
    if (!f.endsWith('.wants') && !f.endsWith('.requires')) continue;
    try {
      for (const unit of await readdir(join(units, f))) linked.add(unit);
    } catch (err) {
      if (!isMissing(err) && (err as { code?: string }).code !== 'ENOTDIR') throw err;
    }
  }
  const enabled: string[] = [];
  for (const name of t.services) {
    for (const unit of [`${name}.service`, `${name}.socket`]) {
      if (!linked.has(unit)) continue;
      // A unit linked to /dev/null in /etc/systemd/system is masked: it cannot start.
      const masked = await readlink(join(units, unit)).then(
        (to) => to === '/dev/null',
        () => false,
      );
      if (!masked) enabled.push(unit);
    }
  }
  return { value: enabled.length > 0 ? enabled.join(', ') : undefined };
}

/** The file a read failing as missing names: the configuration file for its fields. */
function missingPath(ctx: Context, t: CisTarget): string {
  if (t.read === 'kubelet-config' || t.read === 'kubelet-config-keys')
    return configPath(ctx, t.path) ?? t.path;
  if (t.read === 'systemd-enabled') return '/etc/systemd/system';
  return 'path' in t ? t.path : `${ctx.proc}/1/mounts`;
}

async function readTarget(ctx: Context, t: CisTarget): Promise<Read> {
  try {
    switch (t.read) {
      case 'file-mode':
      case 'file-owner':
        return await readFileTarget(ctx, t);
      case 'kubelet-config-keys':
        return await readConfigKeys(ctx, t);
      case 'kubelet-config':
        return await readConfigKey(ctx, t);
      case 'kubelet-flag': {
        if (ctx.kubelet === undefined)
          return { missing: `${FLAGS_NOT_READ}: no kubelet process visible` };
        const v = ctx.kubelet.flags.get(t.flag);
        return { value: v === undefined ? undefined : `${t.flag}=${v}` };
      }
      case 'sysctl':
        return await readSysctls(ctx.proc, t.names);
      case 'mount-options':
        return await readMountOptions(ctx, t);
      case 'file-permissions':
        return await readPermissions(ctx, t);
      case 'systemd-enabled':
        return await readEnabledServices(ctx, t);
    }
  } catch (err) {
    if (isMissing(err)) return { missing: `${missingPath(ctx, t)} does not exist` };
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function show(t: CisTarget, v: string | number | boolean | undefined): string {
  if (t.read === 'systemd-enabled') return v === undefined ? 'none enabled' : `enabled: ${v}`;
  if (t.read === 'file-permissions' && typeof v === 'string') {
    const [mode, owner, group] = v.split(' ');
    return `mode ${mode}, owner ${owner}${group !== '-' ? ` (group ${group})` : ''}`;
  }
  if (v === undefined) return 'absent';
  if (t.read === 'file-mode' && typeof v === 'number')
    return `mode ${v.toString(8).padStart(3, '0')}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Whether a `file-permissions` value (`<mode> <uid>:<gid> <group>`) has no bits wider than
 * `mode` (set-id and sticky bits included), is owned by root, and has group root or a group
 * named in `groups`.
 */
function permitted(value: string, mode: number, groups: readonly string[]): boolean {
  const [bits, owner, group] = value.split(' ');
  const [uid, gid] = (owner ?? '').split(':');
  return (
    (parseInt(bits ?? '', 8) & ~mode & 0o7777) === 0 &&
    uid === '0' &&
    (gid === '0' || (group !== undefined && groups.includes(group)))
  );
}

type ListRule = Extract<CisRule, { op: 'includes' | 'all-set' | 'all-equal' | 'subset-of' }>;

/** The rules on text that lists several things: options, pairs, values. */
function followsList(rule: ListRule, v: string): boolean {
  switch (rule.op) {
    case 'includes':
      return v.split(',').includes(rule.value);
    case 'all-set':
      return v.split(', ').every((pair) => !pair.endsWith(' absent'));
    case 'all-equal':
      return v.split(', ').every((pair) => pair.slice(pair.indexOf('=') + 1) === rule.value);
    case 'subset-of':
      return v !== '' && v.split(',').every((x) => rule.values.includes(x.trim()));
  }
}

function follows(rule: CisRule, v: string | number | boolean | undefined): boolean {
  switch (rule.op) {
    case 'mode-at-most':
      return typeof v === 'number' && (v & ~rule.mode & 0o777) === 0;
    case 'equals':
      return v === rule.value;
    case 'not-equals':
      return v !== rule.value;
    case 'set':
      return v !== undefined && v !== '';
    case 'not-set':
      return v === undefined;
    case 'equals-or-default':
      return (v ?? rule.default) === rule.value;
    case 'includes':
    case 'all-set':
    case 'all-equal':
    case 'subset-of':
      return typeof v === 'string' && followsList(rule, v);
    case 'not-zero-duration':
      return v === undefined || !isZeroDuration(v);
    case 'permissions':
      return typeof v === 'string' && permitted(v, rule.mode, rule.groups ?? []);
    case 'absent-or-at-least':
      return v === undefined || (typeof v === 'number' && v >= rule.value);
  }
}

export interface EvaluateOptions {
  /** Where a procfs of the host's PID namespace is mounted (default `root`/proc). */
  proc?: string;
}

/** Whether what a check reads could come from the kubelet's command line. */
function readsKubelet(t: CisTarget): boolean {
  return (
    t.read === 'kubelet-config' ||
    t.read === 'kubelet-config-keys' ||
    ((t.read === 'file-mode' || t.read === 'file-owner') && t.kubeletFile !== undefined)
  );
}

/** The results of the checks on the host mounted at `root`, in the checks' order. */
export async function evaluateCis(
  root: string,
  checks: readonly CisCheck[],
  options: EvaluateOptions = {},
): Promise<CisResult[]> {
  const proc = options.proc ?? join(root, 'proc');
  const ctx: Context = { root, proc, kubelet: await findKubelet(proc), docs: new Map() };
  const out: CisResult[] = [];
  for (const c of checks) {
    const r = await readTarget(ctx, c.target);
    const note = ctx.kubelet === undefined && readsKubelet(c.target) ? ` (${FLAGS_NOT_READ})` : '';
    if ('missing' in r) out.push({ id: c.id, status: 'NOT_APPLICABLE', found: r.missing + note });
    else if ('error' in r) out.push({ id: c.id, status: 'ERROR', found: r.error + note });
    else
      out.push({
        id: c.id,
        status: follows(c.rule, r.value) ? 'PASSED' : 'FAILED',
        found:
          (r.flag !== undefined
            ? `${r.flag}=${show(c.target, r.value)} (command line)`
            : r.file !== undefined
              ? `${show(c.target, r.value)} (${r.file})`
              : show(c.target, r.value)) + note,
      });
  }
  return out;
}
