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
export type ScanType = 'Node' | 'Image' | 'Workload' | 'WorkloadCode';

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

/**
 * The spec without the repository rules whose filter is not a glob, and a problem naming each:
 * the schema refuses them too, but a problem should name the rule, and leave the others.
 */
function withoutBadGlobs(spec: unknown): { rest: unknown; problems: string[] } {
  const rules = (spec as { image?: { repositoryRules?: unknown } } | null)?.image?.repositoryRules;
  if (!Array.isArray(rules)) return { rest: spec, problems: [] };
  const problems: string[] = [];
  const kept = rules.filter((r: unknown, i) => {
    const filter = (r as { filter?: unknown } | null)?.filter;
    if (typeof filter !== 'string') return true;
    try {
      compileGlob(filter);
      return true;
    } catch (err) {
      problems.push(`spec.image.repositoryRules[${i}].filter: ${(err as Error).message}`);
      return false;
    }
  });
  if (problems.length === 0) return { rest: spec, problems };
  const s = spec as { image: Record<string, unknown> };
  return { rest: { ...s, image: { ...s.image, repositoryRules: kept } }, problems };
}

/**
 * The configuration one `default` ScanConfiguration spec (or none) describes, with the rules
 * that have problems left out. What is in effect is effectiveConfiguration's decision.
 */
export function coverageConfig(spec: unknown): ConfigResult {
  const present = spec !== undefined;
  const { rest, problems } = withoutBadGlobs(spec ?? {});
  const parsed = ScanConfigurationSpecSchema.safeParse(rest);
  let effective: ScanConfigurationSpec;
  if (parsed.success) effective = parsed.data;
  else {
    // The API server validates the same schema; this is an older CRD or a direct etcd write.
    problems.push(
      ...parsed.error.issues.map((i) =>
        `${fieldPath(['spec', ...i.path])}: ${i.message}`.slice(0, 300),
      ),
    );
    effective = ScanConfigurationSpecSchema.parse({});
  }
  // Every filter left compiles: withoutBadGlobs took out the others.
  const rules: RepositoryRule[] = (effective.image.repositoryRules ?? []).map((r) => ({
    ...r,
    pattern: compileGlob(r.filter),
  }));
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

/** `spec.image.repositoryRules[3].filter`, as the API server names fields. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`))
    .join('');
}

/** The part of a ScanConfiguration the configuration in effect is worked out from. */
export interface ScanConfigurationObject {
  metadata: { generation?: number | undefined };
  spec?: unknown;
  status?:
    { configurationInEffect?: { generation: number; spec: unknown } | undefined } | undefined;
}

export interface EffectiveConfiguration extends ConfigResult {
  /**
   * Where the configuration in effect comes from: `spec` (it validates), `lastValid` (it does
   * not; the last spec that did, kept in status, stays in effect) or `none` (no configuration,
   * or none ever validated: nothing is activated).
   */
  source: 'spec' | 'lastValid' | 'none';
  /** metadata.generation of the spec in effect (spec or lastValid). */
  generation?: number;
}

/**
 * The configuration in effect for the `default` ScanConfiguration: its spec when it validates;
 * otherwise the last valid spec the controller kept in status.configurationInEffect (so a
 * broken edit never drops a rule: images set to MANUAL are not scanned because a later rule
 * broke); otherwise nothing is activated. `problems` are always the spec's own.
 */
export function effectiveConfiguration(
  sc: ScanConfigurationObject | undefined,
): EffectiveConfiguration {
  if (sc === undefined) return { ...coverageConfig(undefined), source: 'none' };
  const generation = sc.metadata.generation;
  const own = coverageConfig(sc.spec);
  if (own.problems.length === 0) {
    return { ...own, source: 'spec', ...(generation !== undefined ? { generation } : {}) };
  }
  const kept = sc.status?.configurationInEffect;
  if (kept !== undefined) {
    const last = coverageConfig(kept.spec);
    if (last.problems.length === 0) {
      return {
        config: last.config,
        problems: own.problems,
        source: 'lastValid',
        generation: kept.generation,
      };
    }
  }
  return { config: coverageConfig(undefined).config, problems: own.problems, source: 'none' };
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
