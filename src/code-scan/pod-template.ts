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
