/**
 * Finds secrets in text with the rules of rules.ts. A match leaves this module only as a
 * rule id, a position, a redacted form and a fingerprint: the secret itself is never
 * returned, so nothing downstream (findings, caches, logs, exports) can hold it.
 */
import { createHmac } from 'node:crypto';
import { SECRET_RULES, type SecretRule } from './rules.ts';

/** Where a rule matched, without the matched text. */
export interface SecretMatch {
  ruleId: string;
  /** 1-based line and column of the secret's first character (columns count bytes). */
  line: number;
  column: number;
  endLine: number;
  /** The secret with all but its public format prefix masked: `AKIA****************`. */
  redacted: string;
  /** {@link fingerprint} of the secret. */
  fingerprint: string;
}

/**
 * Fixed key of the fingerprint HMAC. Fixed on purpose: the same secret gets the same
 * fingerprint in every cluster and every release, so a person holding a secret can compute
 * its fingerprint (`kube-inspector` docs show how) and find every place it leaked.
 */
const FINGERPRINT_KEY = 'kubeinspector.io/secret-fingerprint/v1';

/** First 20 hex digits (80 bits) of HMAC-SHA256 of the secret under a fixed key. */
export function fingerprint(secret: string): string {
  return createHmac('sha256', FINGERPRINT_KEY).update(secret, 'utf8').digest('hex').slice(0, 20);
}

/** Masks all but the rule's public prefix; the mask's length says little about the secret's. */
export function redact(secret: string, publicPrefix: number): string {
  const shown = publicPrefix > 0 && secret.length > publicPrefix * 2 ? publicPrefix : 0;
  const hidden = Math.min(Math.max(secret.length - shown, 4), 16);
  return `${secret.slice(0, shown)}${'*'.repeat(hidden)}`;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Keyword → rules that need it, and one expression finding any keyword. */
interface Prefilter {
  byKeyword: Map<string, SecretRule[]>;
  any: RegExp;
}

const prefilters = new WeakMap<readonly SecretRule[], Prefilter>();

function prefilter(rules: readonly SecretRule[]): Prefilter {
  let p = prefilters.get(rules);
  if (p !== undefined) return p;
  const byKeyword = new Map<string, SecretRule[]>();
  for (const rule of rules) {
    for (const kw of rule.keywords) {
      const list = byKeyword.get(kw) ?? [];
      list.push(rule);
      byKeyword.set(kw, list);
    }
  }
  // The expression reports one keyword per position (the longest), so a keyword also stands
  // for the rules of every keyword it contains (`_password` for `password`).
  const words = [...byKeyword.keys()].sort((a, b) => b.length - a.length);
  for (const long of words) {
    const rulesOf = new Set(byKeyword.get(long));
    for (const short of words)
      if (short !== long && long.includes(short))
        for (const r of byKeyword.get(short)!) rulesOf.add(r);
    byKeyword.set(long, [...rulesOf]);
  }
  p = { byKeyword, any: new RegExp(words.map(escapeRegex).join('|'), 'gi') };
  prefilters.set(rules, p);
  return p;
}

/** The rules whose keywords occur in `text`, in rule order. */
function candidates(text: string, rules: readonly SecretRule[]): SecretRule[] {
  const { byKeyword, any } = prefilter(rules);
  const hit = new Set<SecretRule>();
  any.lastIndex = 0;
  for (const m of text.matchAll(any)) {
    for (const r of byKeyword.get(m[0].toLowerCase()) ?? []) hit.add(r);
    if (hit.size === rules.length) break;
  }
  return rules.filter((r) => hit.has(r));
}

/** Offsets of line starts, for turning offsets into line and column. */
class Lines {
  readonly #starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1))
      this.#starts.push(i + 1);
  }
  /** 0-based index of the line holding `offset`. */
  index(offset: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  start(index: number): number {
    return this.#starts[index]!;
  }
  length(index: number, textLength: number): number {
    const end = index + 1 < this.#starts.length ? this.#starts[index + 1]! - 1 : textLength;
    return end - this.#starts[index]!;
  }
}

interface Candidate {
  rule: SecretRule;
  order: number;
  start: number;
  end: number;
  secret: string;
}

function* ruleMatches(text: string, rule: SecretRule, lines: () => Lines): Generator<Candidate> {
  rule.regex.lastIndex = 0;
  for (const m of text.matchAll(rule.regex)) {
    let group = rule.group;
    let secret = m[group];
    if (secret === undefined && rule.altGroup !== undefined) {
      group = rule.altGroup;
      secret = m[group];
    }
    if (secret === undefined || secret === '') continue;
    const start = m.index + m[0].indexOf(secret);
    if (rule.maxLineLength !== undefined) {
      const l = lines();
      const i = l.index(start);
      if (l.length(i, text.length) > rule.maxLineLength) continue;
    }
    if (rule.accept !== undefined && !rule.accept(secret, m[0])) continue;
    const at = rule.locateAtMatch === true ? m.index : start;
    yield { rule, order: 0, start: at, end: start + secret.length, secret };
  }
}

/**
 * Every secret in `text`. Where matches of several rules overlap, the rule listed first wins
 * (specific formats come before the generic assignment rule), so one secret is one match.
 */
export function findSecrets(
  text: string,
  rules: readonly SecretRule[] = SECRET_RULES,
): SecretMatch[] {
  const todo = candidates(text, rules);
  if (todo.length === 0) return [];
  let lineIndex: Lines | undefined;
  const lines = (): Lines => (lineIndex ??= new Lines(text));
  const found: Candidate[] = [];
  todo.forEach((rule, order) => {
    for (const c of ruleMatches(text, rule, lines)) found.push({ ...c, order });
  });
  found.sort((a, b) => a.order - b.order || a.start - b.start);
  const kept: Candidate[] = [];
  for (const c of found) {
    if (kept.some((k) => c.start < k.end && k.start < c.end)) continue;
    kept.push(c);
  }
  kept.sort((a, b) => a.start - b.start);
  return kept.map((c) => {
    const l = lines();
    const i = l.index(c.start);
    return {
      ruleId: c.rule.id,
      line: i + 1,
      column: c.start - l.start(i) + 1,
      endLine: l.index(Math.max(c.start, c.end - 1)) + 1,
      redacted: redact(c.secret, c.rule.publicPrefix),
      fingerprint: fingerprint(c.secret),
    };
  });
}
