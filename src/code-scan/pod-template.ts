/**
 * Secret scanning of a workload's pod template: environment values, commands and arguments of
 * every container. A match names its field path with container and variable names (stable
 * when the lists are reordered), never the value.
 */
import { findSecrets } from './secrets.ts';

/** The parts of a Kubernetes container this reads (structurally typed: no client import). */
export interface TemplateContainer {
  name: string;
  command?: readonly string[];
  args?: readonly string[];
  env?: readonly { name: string; value?: string }[];
}

export interface TemplatePodSpec {
  containers?: readonly TemplateContainer[];
  initContainers?: readonly TemplateContainer[];
  ephemeralContainers?: readonly TemplateContainer[];
}

export interface TemplateMatch {
  ruleId: string;
  /** `spec.template.spec.containers[name=app].env[name=DB_URL].value`, `…args[3]`. */
  fieldPath: string;
  redacted: string;
  fingerprint: string;
}

const FLAG = /^--?[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function scanList(list: readonly string[], path: string, out: TemplateMatch[]): void {
  list.forEach((item, i) => {
    let found = findSecrets(item);
    // `--token VALUE` as two items reads like `--token=VALUE`.
    const prev = list[i - 1];
    if (found.length === 0 && prev !== undefined && FLAG.test(prev) && !item.startsWith('-')) {
      found = findSecrets(`${prev.replace(/^-+/, '')}=${item}`);
    }
    for (const m of found) {
      out.push({
        ruleId: m.ruleId,
        fieldPath: `${path}[${i}]`,
        redacted: m.redacted,
        fingerprint: m.fingerprint,
      });
    }
  });
}

/** Secrets in the pod spec at `base` (`spec` of a Pod, `spec.template.spec` of a Deployment). */
export function scanPodSpec(spec: TemplatePodSpec, base: string): TemplateMatch[] {
  const out: TemplateMatch[] = [];
  const groups = [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers],
    ['ephemeralContainers', spec.ephemeralContainers],
  ] as const;
  for (const [field, containers] of groups) {
    for (const c of containers ?? []) {
      const at = `${base}.${field}[name=${c.name}]`;
      for (const e of c.env ?? []) {
        if (e.value === undefined || e.value === '') continue;
        for (const m of findSecrets(`${e.name}=${e.value}`)) {
          out.push({
            ruleId: m.ruleId,
            fieldPath: `${at}.env[name=${e.name}].value`,
            redacted: m.redacted,
            fingerprint: m.fingerprint,
          });
        }
      }
      scanList(c.command ?? [], `${at}.command`, out);
      scanList(c.args ?? [], `${at}.args`, out);
    }
  }
  return out;
}

/** Where the pod spec sits in each workload kind. */
export function podSpecPath(kind: string): string {
  switch (kind) {
    case 'Pod':
      return 'spec';
    case 'CronJob':
      return 'spec.jobTemplate.spec.template.spec';
    default:
      return 'spec.template.spec';
  }
}

/**
 * The strings of a list that is one (a template read from the API is not trusted); anything
 * else in it reads as empty, so the indexes of field paths stay those of the object.
 */
function strings(list: unknown): string[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.map((x) => (typeof x === 'string' ? x : ''));
}

function container(raw: unknown): TemplateContainer | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  const env = Array.isArray(c.env)
    ? c.env
        .filter(
          (e): e is { name: string; value?: unknown } =>
            e !== null &&
            typeof e === 'object' &&
            typeof (e as { name?: unknown }).name === 'string',
        )
        .map((e) =>
          typeof e.value === 'string' ? { name: e.name, value: e.value } : { name: e.name },
        )
    : undefined;
  const command = strings(c.command);
  const args = strings(c.args);
  return {
    name: typeof c.name === 'string' ? c.name : '',
    ...(command !== undefined ? { command } : {}),
    ...(args !== undefined ? { args } : {}),
    ...(env !== undefined ? { env } : {}),
  };
}

function containers(list: unknown): TemplateContainer[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.map(container).filter((c): c is TemplateContainer => c !== undefined);
}

/**
 * Secrets in the pod template of a workload object of `kind` (Pod, Deployment, StatefulSet,
 * DaemonSet, Job, CronJob), each named by its field path from the object's root. Anything in
 * the object that is not the shape of a pod spec is passed over, never a crash.
 */
export function scanWorkloadTemplate(kind: string, obj: object): TemplateMatch[] {
  const path = podSpecPath(kind);
  let at: unknown = obj;
  for (const part of path.split('.')) {
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[part] : undefined;
  }
  if (at === null || typeof at !== 'object') return [];
  const spec = at as Record<string, unknown>;
  const podSpec: TemplatePodSpec = {};
  for (const field of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const list = containers(spec[field]);
    if (list !== undefined) podSpec[field] = list;
  }
  return scanPodSpec(podSpec, path);
}
