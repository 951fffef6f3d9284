/**
 * Rules over fields of an object, as data: a field path (`spec.volumes[*].hostPath`) and what
 * its values may be. The security-best-practices controls are lists of these; evaluating one
 * gives every concrete field that breaks it (`spec.volumes[2].hostPath`) and what it holds.
 *
 * Paths are dotted; `[*]` after a segment means every item of that list; a missing list has no
 * items (nothing to check), a missing scalar is `null` (absent). Values compare with `===`;
 * `null` in a list of values stands for "absent".
 */

export type Scalar = string | number | boolean | null;

export type FieldRule =
  /** Each value at `path` is one of `values`. */
  | { op: 'oneOf'; path: string; values: readonly Scalar[] }
  /** No value at `path` is one of `values`. */
  | { op: 'noneOf'; path: string; values: readonly Scalar[] }
  /** The list at `path` contains `value` (an absent list does not). */
  | { op: 'contains'; path: string; value: Scalar }
  /** Each object at `path` has no key but `keys` (and the ones in `ignore`). */
  | { op: 'onlyKeys'; path: string; keys: readonly string[]; ignore: readonly string[] }
  /** Each value at `path` is a string matching `pattern` (an absent one does not). */
  | { op: 'matches'; path: string; pattern: string }
  /** Each value at `path` is present and not empty. */
  | { op: 'present'; path: string }
  /**
   * The value at `path`, or when absent the one at `fallback` (from the root the rule set names
   * as the fallback root, for example the pod for a container), or `otherwise`, is one of
   * `values`.
   */
  | {
      op: 'inherits';
      path: string;
      fallback: string;
      otherwise?: Scalar;
      values: readonly Scalar[];
    }
  /** Each entry of the map at `path` whose key starts with `keyPrefix` has a value in `values` or starting with one of `valuePrefixes`. */
  | {
      op: 'mapValues';
      path: string;
      keyPrefix: string;
      values: readonly Scalar[];
      valuePrefixes?: readonly string[];
    };

/** One field that breaks a rule. */
export interface FieldViolation {
  /** Concrete dotted path from the evaluated root, for example containers[0].image. */
  path: string;
  /** What the field holds, as text ("absent" when it is not set). */
  found: string;
}

interface Leaf {
  path: string;
  value: unknown;
}

type Obj = Record<string, unknown>;

function join(prefix: string, seg: string): string {
  return prefix === '' ? seg : `${prefix}.${seg}`;
}

/** Every concrete field a path names, with its value (undefined when absent). */
export function expand(root: unknown, path: string, prefix = ''): Leaf[] {
  let leaves: Leaf[] = [{ path: prefix, value: root }];
  for (const seg of path.split('.')) {
    const list = seg.endsWith('[*]');
    const key = list ? seg.slice(0, -3) : seg;
    const next: Leaf[] = [];
    for (const l of leaves) {
      const v = l.value !== null && typeof l.value === 'object' ? (l.value as Obj)[key] : undefined;
      const p = join(l.path, key);
      if (!list) next.push({ path: p, value: v });
      else if (Array.isArray(v))
        v.forEach((item, i) => next.push({ path: `${p}[${i}]`, value: item }));
    }
    leaves = next;
  }
  return leaves;
}

function asScalar(v: unknown): Scalar | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return undefined;
}

/** A value as a finding shows it. */
export function show(v: unknown): string {
  if (v === undefined || v === null) return 'absent';
  if (typeof v === 'string') return JSON.stringify(v);
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

const within = (values: readonly Scalar[], v: unknown): boolean => {
  const s = asScalar(v);
  return s !== undefined && values.includes(s);
};

const bad = (path: string, value: unknown): FieldViolation => ({ path, found: show(value) });

function checkInherits(
  rule: Extract<FieldRule, { op: 'inherits' }>,
  root: unknown,
  prefix: string,
  fallbackRoot: unknown,
  fallbackPrefix: string,
): FieldViolation[] {
  const fallback = expand(fallbackRoot, rule.fallback, fallbackPrefix)[0];
  const out: FieldViolation[] = [];
  for (const l of expand(root, rule.path, prefix)) {
    if (l.value !== undefined && l.value !== null) {
      if (!within(rule.values, l.value)) out.push(bad(l.path, l.value));
      continue;
    }
    const inherited = fallback?.value ?? rule.otherwise ?? null;
    if (!within(rule.values, inherited)) {
      out.push({
        path: l.path,
        found:
          fallback?.value === undefined || fallback.value === null
            ? `absent (default ${show(rule.otherwise ?? null)})`
            : `absent, ${fallback.path} is ${show(fallback.value)}`,
      });
    }
  }
  return out;
}

function checkMap(
  rule: Extract<FieldRule, { op: 'mapValues' }>,
  root: unknown,
  prefix: string,
): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const l of expand(root, rule.path, prefix)) {
    if (l.value === null || typeof l.value !== 'object') continue;
    for (const [k, v] of Object.entries(l.value as Obj)) {
      if (!k.startsWith(rule.keyPrefix)) continue;
      const ok =
        within(rule.values, v) ||
        (typeof v === 'string' && (rule.valuePrefixes ?? []).some((p) => v.startsWith(p)));
      if (!ok) out.push(bad(`${l.path}['${k}']`, v));
    }
  }
  return out;
}

/**
 * The fields under `root` that break `rule`. `fallbackRoot` (default: `root`) is where an
 * `inherits` rule looks when the field is absent.
 */
export function checkRule(
  rule: FieldRule,
  root: unknown,
  prefix = '',
  fallbackRoot: unknown = root,
  fallbackPrefix = prefix,
): FieldViolation[] {
  switch (rule.op) {
    case 'oneOf':
      return expand(root, rule.path, prefix)
        .filter((l) => !within(rule.values, l.value))
        .map((l) => bad(l.path, l.value));
    case 'noneOf':
      return expand(root, rule.path, prefix)
        .filter((l) => {
          const s = asScalar(l.value);
          return s !== undefined && rule.values.includes(s);
        })
        .map((l) => bad(l.path, l.value));
    case 'contains':
      return expand(root, rule.path, prefix)
        .filter((l) => !(Array.isArray(l.value) && l.value.includes(rule.value)))
        .map((l) => bad(l.path, l.value));
    case 'onlyKeys':
      return expand(root, rule.path, prefix).flatMap((l) =>
        l.value === null || typeof l.value !== 'object'
          ? []
          : Object.keys(l.value as Obj)
              .filter((k) => !rule.keys.includes(k) && !rule.ignore.includes(k))
              .map((k) => bad(join(l.path, k), (l.value as Obj)[k])),
      );
    case 'matches': {
      const re = new RegExp(rule.pattern);
      return expand(root, rule.path, prefix)
        .filter((l) => !(typeof l.value === 'string' && re.test(l.value)))
        .map((l) => bad(l.path, l.value));
    }
    case 'present':
      return expand(root, rule.path, prefix)
        .filter((l) => l.value === undefined || l.value === null || l.value === '')
        .map((l) => bad(l.path, l.value));
    case 'inherits':
      return checkInherits(rule, root, prefix, fallbackRoot, fallbackPrefix);
    case 'mapValues':
      return checkMap(rule, root, prefix);
  }
}
