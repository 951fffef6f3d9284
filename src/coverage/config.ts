/**
 * The coverage settings in effect: the `default` ScanConfiguration with its defaults applied,
 * its repository rules compiled, and its durations in milliseconds. Semantic problems the
 * schema cannot catch (a glob that is not one) are returned as messages naming the field.
 */
import type { SCAN_FREQUENCIES } from '../api/v1alpha1/scan-configuration.ts';
import {
  ScanConfigurationSpecSchema,
  type ScanConfigurationSpec,
  quantityToBytes,
} from '../api/v1alpha1/scan-configuration.ts';
import type { LabelSelector } from '../api/v1alpha1/common.ts';

export type ScanFrequency = (typeof SCAN_FREQUENCIES)[number];
export type ScanType = 'Node' | 'Image' | 'Workload';

export const DAY_MS = 86_400_000;

export interface RepositoryRule {
  filter: string;
  frequency: ScanFrequency;
  pattern: RegExp;
}

export interface CoverageConfig {
  /** False when there is no `default` ScanConfiguration: nothing is activated. */
  present: boolean;
  spec: ScanConfigurationSpec;
  scanTypes: ReadonlySet<ScanType>;
  namespaceSelector: LabelSelector | undefined;
  exclusionLabel: string;
  rules: RepositoryRule[];
  staleInventoryMs: number;
  notReadyGraceMs: number;
  /** Push window; undefined for LIFETIME. */
  pushWindowMs: number | undefined;
  pullWindowMs: number;
  pullDateMode: 'LAST_PULL_DATE' | 'LAST_IN_USE_AT';
  maxImageBytes: number;
  workloadEligibilityMs: number;
}

/** `DAYS_14` -> 14 days in ms; `LIFETIME` -> undefined. */
export function durationMs(value: string): number | undefined {
  const m = /^DAYS_(\d+)$/.exec(value);
  return m ? Number(m[1]) * DAY_MS : undefined;
}

const GLOB_CHARS = /^[A-Za-z0-9._\-/:*@]+$/;

/**
 * Compiles a repository glob over `registry/repository`: `*` matches within one path
 * segment, `**` across segments. Throws with the reason for anything else.
 */
export function compileGlob(glob: string): RegExp {
  if (!GLOB_CHARS.test(glob)) {
    throw new Error(
      `"${glob}" may contain only letters, digits, ".", "_", "-", "/", ":", "@" and "*"`,
    );
  }
  if (glob.includes('***')) throw new Error(`"${glob}" has "***"; use "*" or "**"`);
  if (glob.startsWith('/') || glob.endsWith('/') || glob.includes('//')) {
    throw new Error(`"${glob}" has an empty path segment`);
  }
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else source += c.replace(/[.-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The first rule whose filter matches `registry/repository`; CONTINUOUS_SCAN when none does. */
export function repositoryFrequency(
  rules: readonly RepositoryRule[],
  repository: string,
): ScanFrequency {
  return rules.find((r) => r.pattern.test(repository))?.frequency ?? 'CONTINUOUS_SCAN';
}

export interface ConfigResult {
  config: CoverageConfig;
  /** Problems a person must fix; the rules with problems are left out. */
  problems: string[];
}

/** The configuration in effect for a `default` ScanConfiguration spec (or none). */
export function coverageConfig(spec: unknown): ConfigResult {
  const present = spec !== undefined;
  const parsed = ScanConfigurationSpecSchema.safeParse(spec ?? {});
  const problems: string[] = [];
  let effective: ScanConfigurationSpec;
  if (parsed.success) effective = parsed.data;
  else {
    // The API server validates the same schema; this is an older CRD or a direct etcd write.
    problems.push(
      ...parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`.slice(0, 300)),
    );
    effective = ScanConfigurationSpecSchema.parse({});
  }
  const rules: RepositoryRule[] = [];
  (effective.image.repositoryRules ?? []).forEach((r, i) => {
    try {
      rules.push({ ...r, pattern: compileGlob(r.filter) });
    } catch (err) {
      problems.push(`spec.image.repositoryRules[${i}].filter: ${(err as Error).message}`);
    }
  });
  let maxImageBytes = 10 * 1024 ** 3;
  try {
    maxImageBytes = quantityToBytes(effective.image.maxImageSize);
  } catch (err) {
    problems.push(`spec.image.maxImageSize: ${(err as Error).message}`);
  }
  return {
    problems,
    config: {
      present,
      spec: effective,
      scanTypes: new Set(present ? effective.activation.scanTypes : []),
      namespaceSelector: effective.activation.namespaceSelector,
      exclusionLabel: effective.exclusionLabel,
      rules,
      staleInventoryMs: effective.node.staleInventoryDays * DAY_MS,
      notReadyGraceMs: effective.node.notReadyGraceSeconds * 1000,
      pushWindowMs: durationMs(effective.image.rescanDuration),
      pullWindowMs: durationMs(effective.image.pullDateRescanDuration) ?? 14 * DAY_MS,
      pullDateMode: effective.image.pullDateRescanMode,
      maxImageBytes,
      workloadEligibilityMs: effective.workload.eligibilityDays * DAY_MS,
    },
  };
}

/** Whether labels match a Kubernetes label selector (an absent selector matches everything). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (selector === undefined) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const value = l[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
