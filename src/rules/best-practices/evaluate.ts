/**
 * The `security-best-practices` rules package: every control of controls.ts evaluated on each
 * workload's pod template. One CONFIGURATION finding per workload and broken control, naming
 * every field that breaks it (as a path in the workload object) and what each holds.
 */
import {
  buildRuleFinding,
  sortFindings,
  type FindingProducer,
  type ProducedFindings,
} from '../producer.ts';
import { checkRule, type FieldViolation } from '../fields.ts';
import { workloadResource, type WorkloadFacts } from '../workload.ts';
import { CONTROLS, PSS_VERSION, type Control } from './controls.ts';

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

function prefixed(base: string, path: string): string {
  return base === '' ? path : `${base}.${path}`;
}

/** The fields of one workload that break one control (empty when it passes). */
export function controlViolations(control: Control, w: WorkloadFacts): FieldViolation[] {
  const root = {
    metadata: w.template.metadata ?? {},
    spec: w.template.spec ?? {},
    ...(w.serviceAccount !== undefined ? { serviceAccount: w.serviceAccount } : {}),
  };
  const out: FieldViolation[] = [];
  if (control.scope === 'pod') {
    for (const rule of control.rules) out.push(...checkRule(rule, root));
  } else {
    for (const list of CONTAINER_LISTS) {
      const containers = root.spec[list];
      if (!Array.isArray(containers)) continue;
      containers.forEach((c: unknown, i) => {
        for (const rule of control.rules)
          out.push(...checkRule(rule, c, `spec.${list}[${i}]`, root, ''));
      });
    }
  }
  return out.map((v) => ({
    path: v.path.startsWith('serviceAccount')
      ? `ServiceAccount ${v.path}`
      : prefixed(w.templatePath, v.path),
    found: v.found,
  }));
}

function containerNames(w: WorkloadFacts, violations: FieldViolation[]): string[] {
  const names = new Set<string>();
  for (const v of violations) {
    const m = /(containers|initContainers|ephemeralContainers)\[(\d+)\]/.exec(v.path);
    if (m === null) continue;
    const list = (w.template.spec ?? {})[m[1]!] as { name?: string }[] | undefined;
    const name = list?.[Number(m[2])]?.name;
    if (name !== undefined) names.add(name);
  }
  return [...names];
}

export const securityBestPractices: FindingProducer<readonly WorkloadFacts[]> = {
  rulesPackage: 'security-best-practices',
  findingType: 'CONFIGURATION',
  produce(workloads): ProducedFindings {
    const findings = workloads.flatMap((w) =>
      CONTROLS.flatMap((control) => {
        const violations = controlViolations(control, w);
        if (violations.length === 0) return [];
        const names = containerNames(w, violations);
        const where =
          names.length > 0 ? ` (container${names.length > 1 ? 's' : ''} ${names.join(', ')})` : '';
        const found = violations.map((v) => `${v.path}: ${v.found}`).join('; ');
        return [
          buildRuleFinding(securityBestPractices, workloadResource(w), {
            ruleId: control.id,
            identity: '',
            title: `${control.title} - ${w.kind} ${w.namespace}/${w.name}${where}`,
            description: control.description,
            severity: control.severity,
            recommendation: { text: control.remediation, url: control.source },
            details: {
              benchmark:
                control.level === 'hardening'
                  ? 'kube-inspector hardening rules'
                  : 'Pod Security Standards',
              ...(control.level === 'hardening' ? {} : { benchmarkVersion: PSS_VERSION }),
              level: control.level,
              fieldPaths: violations.map((v) => v.path),
              found,
              source: control.source,
            },
          }),
        ];
      }),
    );
    return { findings: sortFindings(findings), notEvaluated: [] };
  },
};
