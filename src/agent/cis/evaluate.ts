/**
 * Evaluation of the `cis` node checks (checks.ts) on a host's root filesystem: read-only reads
 * of files, /proc/sys and /proc/1/mounts (the mounts of the host's init, not of the reading
 * process, which may sit in a container's mount namespace) under `root`. Each check gives one result:
 * PASSED, FAILED, NOT_APPLICABLE (what it reads does not exist on this node, for example no
 * kubelet service drop-in) or ERROR (it could not be read or parsed), with what was found.
 * These results are the facts the agent reports; findings are built from them elsewhere.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { CisCheck, CisRule, CisTarget } from './checks.ts';

export type CisStatus = 'PASSED' | 'FAILED' | 'NOT_APPLICABLE' | 'ERROR';

export interface CisResult {
  id: string;
  status: CisStatus;
  /** What was read, as text ("absent" when the field is not set). */
  found: string;
}

type Read =
  { value: string | number | boolean | undefined } | { missing: string } | { error: string };

function isMissing(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Sysctls as `name=value` pairs; the ones that do not exist are left out. */
async function readSysctls(root: string, names: readonly string[]): Promise<Read> {
  const pairs: string[] = [];
  for (const name of names) {
    try {
      const v = await readFile(join(root, 'proc/sys', ...name.split('.')), 'utf8');
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

/** The kubelet's configuration file, parsed once per evaluation. */
async function kubeletConfig(
  root: string,
  path: string,
  cache: Map<string, unknown>,
): Promise<unknown> {
  let doc = cache.get(path);
  if (doc === undefined) {
    doc = parse(await readFile(join(root, path), 'utf8')) as unknown;
    cache.set(path, doc ?? null);
  }
  return doc;
}

function dig(obj: unknown, key: string): unknown {
  let v = obj;
  for (const k of key.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

async function readTarget(root: string, t: CisTarget, cache: Map<string, unknown>): Promise<Read> {
  try {
    switch (t.read) {
      case 'file-mode':
        return { value: (await stat(join(root, t.path))).mode & 0o7777 };
      case 'file-owner': {
        const s = await stat(join(root, t.path));
        return { value: `${s.uid}:${s.gid}` };
      }
      case 'kubelet-config-keys': {
        const doc = await kubeletConfig(root, t.path, cache);
        return {
          value: t.keys
            .map((k) => {
              const v = dig(doc, k);
              if (v === undefined || v === '') return `${k} absent`;
              return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
            })
            .join(', '),
        };
      }
      case 'kubelet-config': {
        const doc = await kubeletConfig(root, t.path, cache);
        const v = dig(doc, t.key);
        if (
          v !== undefined &&
          typeof v !== 'string' &&
          typeof v !== 'number' &&
          typeof v !== 'boolean'
        )
          return { error: `${t.key} is not a scalar in ${t.path}` };
        return { value: v };
      }
      case 'sysctl':
        return await readSysctls(root, t.names);
      case 'mount-options': {
        const mounts = await readFile(join(root, 'proc/1/mounts'), 'utf8');
        const line = mounts
          .split('\n')
          .map((l) => l.split(' '))
          .filter((f) => f[1] === t.mountPoint)
          .at(-1);
        if (line === undefined) return { missing: `${t.mountPoint} is not a separate mount` };
        return { value: line[3] ?? '' };
      }
    }
  } catch (err) {
    if (isMissing(err))
      return {
        missing: `${'path' in t ? t.path : 'proc/1/mounts'} does not exist`,
      };
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function show(t: CisTarget, v: string | number | boolean | undefined): string {
  if (v === undefined) return 'absent';
  if (t.read === 'file-mode' && typeof v === 'number')
    return `mode ${v.toString(8).padStart(3, '0')}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
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
    case 'equals-or-default':
      return (v ?? rule.default) === rule.value;
    case 'includes':
      return typeof v === 'string' && v.split(',').includes(rule.value);
    case 'all-set':
      return typeof v === 'string' && v.split(', ').every((pair) => !pair.endsWith(' absent'));
    case 'all-equal':
      return (
        typeof v === 'string' &&
        v.split(', ').every((pair) => pair.slice(pair.indexOf('=') + 1) === rule.value)
      );
    case 'not-zero-duration':
      return v === undefined || !isZeroDuration(v);
  }
}

/** The results of the checks on the host mounted at `root`, in the checks' order. */
export async function evaluateCis(root: string, checks: readonly CisCheck[]): Promise<CisResult[]> {
  const cache = new Map<string, unknown>();
  const out: CisResult[] = [];
  for (const c of checks) {
    const r = await readTarget(root, c.target, cache);
    if ('missing' in r) out.push({ id: c.id, status: 'NOT_APPLICABLE', found: r.missing });
    else if ('error' in r) out.push({ id: c.id, status: 'ERROR', found: r.error });
    else
      out.push({
        id: c.id,
        status: follows(c.rule, r.value) ? 'PASSED' : 'FAILED',
        found: show(c.target, r.value),
      });
  }
  return out;
}
