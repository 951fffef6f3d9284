/**
 * Finds code flaws with the rules of flaws-rules.ts in the interpreted code an image ships:
 * which files are code of which language (not installed dependencies, not tests, not minified
 * bundles), and where each rule matches. A match leaves this module as a rule id, a position
 * and a fingerprint of the line: the code itself is never returned.
 */
import { createHash } from 'node:crypto';
import type { CodeMatch } from '../scanner/analyzers/analyzer.ts';
import { DEPENDENCY_DIRS } from './files.ts';
import {
  firstStringFrom,
  lex,
  shellExpands,
  type FlawLanguage,
  type Lexed,
  type StringSpan,
} from './flaws-lexer.ts';
import { FLAW_RULES, flawRule, type ArgumentTest, type FlawRule } from './flaws-rules.ts';
import { secretRule, type RuleSeverity } from './rules.ts';

export type { FlawLanguage } from './flaws-lexer.ts';

/** Characters of a call's arguments read; a longer call is not judged. */
export const MAX_CALL_CHARS = 4000;
/** Lines longer than this are minified or generated code: not judged. */
export const MAX_FLAW_LINE_LENGTH = 1000;
/** Matches reported per file; the rest are dropped (the file needs a review as a whole). */
export const MAX_FLAWS_PER_FILE = 100;

const EXTENSIONS: Readonly<Record<string, FlawLanguage>> = {
  py: 'python',
  pyw: 'python',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  ts: 'javascript',
  mts: 'javascript',
  cts: 'javascript',
  tsx: 'javascript',
  sh: 'shell',
  bash: 'shell',
  ksh: 'shell',
  zsh: 'shell',
};

const TEST_DIRS = new Set(['test', 'tests', '__tests__', 'spec', 'specs', 'testing', 'e2e']);
const TEST_FILE =
  /^(?:test_.+\.py|.+_test\.py|conftest\.py|.+\.(?:test|spec)\.[cm]?[jt]sx?|.+_(?:test|spec)\.[cm]?[jt]sx?)$/;

/** The language of a file from its name or its `#!` line; undefined for files the rules skip. */
export function flawLanguage(path: string, head: string): FlawLanguage | undefined {
  const parts = path.split('/');
  const base = parts[parts.length - 1]!;
  if (parts.some((p) => DEPENDENCY_DIRS.includes(p))) return undefined;
  if (parts.slice(0, -1).some((p) => TEST_DIRS.has(p)) || TEST_FILE.test(base)) return undefined;
  if (/\.min\.[cm]?js$|\.d\.[cm]?ts$/.test(base)) return undefined;
  const dot = base.lastIndexOf('.');
  if (dot > 0) return EXTENSIONS[base.slice(dot + 1).toLowerCase()];
  const shebang = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(head);
  if (shebang === null) return undefined;
  const program = (shebang[1]!.endsWith('/env') ? (shebang[2] ?? '') : shebang[1]!)
    .split('/')
    .pop()!;
  if (/^python[\d.]*$/.test(program)) return 'python';
  if (/^(?:node|nodejs|deno|bun|ts-node|tsx)$/.test(program)) return 'javascript';
  if (/^(?:sh|bash|dash|ash|ksh|zsh|busybox)$/.test(program)) return 'shell';
  return undefined;
}

interface Span {
  start: number;
  end: number;
}

/** A call's arguments from its `(` at `open`, split at top-level commas; undefined if too long. */
function callArguments(lx: Lexed, open: number): { args: Span[]; end: number } | undefined {
  const { code, strings } = lx;
  const args: Span[] = [];
  let k = firstStringFrom(strings, open + 1);
  let depth = 0;
  let from = open + 1;
  const limit = Math.min(code.length, open + MAX_CALL_CHARS);
  for (let j = open + 1; j < limit; j++) {
    if (k < strings.length && strings[k]!.start === j) {
      j = strings[k++]!.end - 1;
      continue;
    }
    const c = code[j]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth > 0) depth--;
      else if (c !== ')') return undefined;
      else {
        if (code.slice(from, j).trim() !== '') args.push({ start: from, end: j });
        return { args, end: j + 1 };
      }
    } else if (c === ',' && depth === 0) {
      args.push({ start: from, end: j });
      from = j + 1;
    }
  }
  return undefined;
}

/** A shell command's words from `from` to the end of the command (`;`, `|`, `&`, `)`, a line end). */
function commandArguments(lx: Lexed, from: number): { args: Span[]; end: number } | undefined {
  const { code, strings } = lx;
  let k = firstStringFrom(strings, from);
  const limit = Math.min(code.length, from + MAX_CALL_CHARS);
  let j = from;
  for (; j < limit; j++) {
    if (k < strings.length && strings[k]!.start === j) {
      j = strings[k++]!.end - 1;
      continue;
    }
    const c = code[j]!;
    if (c === '\\') j++;
    else if (c === '\n' || c === ';' || c === '|' || c === '&' || c === ')') break;
  }
  if (j === limit && limit < code.length) return undefined;
  return { args: [{ start: from, end: j }], end: j };
}

function literalsIn(lx: Lexed, span: Span): StringSpan[] {
  const out: StringSpan[] = [];
  for (let k = firstStringFrom(lx.strings, span.start); k < lx.strings.length; k++) {
    const s = lx.strings[k]!;
    if (s.start >= span.end) break;
    out.push(s);
  }
  return out;
}

/** The span's code with its string literals cut out (each replaced by one space). */
function withoutLiterals(lx: Lexed, span: Span, literals: readonly StringSpan[]): string {
  let out = '';
  let at = span.start;
  for (const s of literals) {
    out += `${lx.code.slice(at, s.start)} `;
    at = s.end;
  }
  return out + lx.code.slice(at, span.end);
}

/** The text between a literal's quotes. */
function literalBody(text: string, s: StringSpan): string {
  return text.slice(s.start, s.end).replace(/^[rRbBuUfF]{0,2}(?:"""|'''|["'`/])/, '');
}

const SQL =
  /^\s*(?:select|insert|update|delete|replace|merge|upsert|with|create|drop|alter|truncate|grant|revoke|call|exec|pragma)\b|\bwhere\b/i;
/** Safe composition: psycopg's sql.SQL(…).format(sql.Identifier(…)). */
const SAFE_SQL_COMPOSITION = /\bsql\.(?:SQL|Identifier|Literal|Placeholder|Composed)\b/;

/** Field expressions of an interpolated literal; undefined when they cannot be told apart. */
function fields(text: string, s: StringSpan, language: FlawLanguage): string[] | undefined {
  const body = text.slice(s.start, s.end);
  const found =
    language === 'python'
      ? [...body.replace(/\{\{|\}\}/g, '').matchAll(/\{([^{}]*)\}/g)].map((m) =>
          m[1]!.replace(/(?:![rsa])?(?::[^}]*)?$/, ''),
        )
      : [...body.matchAll(/\$\{([^{}]*)\}/g)].map((m) => m[1]!);
  return found.length === 0 ? undefined : found;
}

/**
 * Whether every name a value is built from is an UPPER_CASE constant (or there is none):
 * `"SELECT … " + TABLE`, `` `…${MIGRATION_LOCK}` ``, `eval(CODE)` are constant by convention.
 */
function onlyConstants(
  lx: Lexed,
  span: Span,
  literals: readonly StringSpan[],
  text: string,
  language: FlawLanguage,
): boolean {
  const parts = [withoutLiterals(lx, span, literals)];
  for (const s of literals) {
    if (!s.interpolated) continue;
    const f = fields(text, s, language);
    if (f === undefined) return false;
    parts.push(...f);
  }
  const names = parts.flatMap(
    (p) => p.replace(/\.(?:format|concat|join|replace)\b/g, '').match(/[A-Za-z_$][\w$]*/g) ?? [],
  );
  return names.every((n) => /^[A-Z][A-Z0-9_]*$/.test(n));
}

function isLiteral(lx: Lexed, span: Span, text: string, language: FlawLanguage): boolean {
  const literals = literalsIn(lx, span);
  const rest = withoutLiterals(lx, span, literals);
  if (language === 'shell') return !literals.some((s) => s.interpolated) && !shellExpands(rest);
  if (literals.length > 0 && !literals.some((s) => s.interpolated) && /^[\s+()\\]*$/.test(rest))
    return true;
  return onlyConstants(lx, span, literals, text, language);
}

function isBuilt(
  lx: Lexed,
  span: Span,
  text: string,
  sql: boolean,
  language: FlawLanguage,
): boolean {
  const literals = literalsIn(lx, span);
  if (literals.length === 0) return false;
  if (sql && !literals.some((s) => SQL.test(literalBody(text, s)))) return false;
  const rest = withoutLiterals(lx, span, literals);
  if (sql && SAFE_SQL_COMPOSITION.test(rest)) return false;
  if (onlyConstants(lx, span, literals, text, language)) return false;
  if (literals.some((s) => s.interpolated)) return true;
  return /[+%]|\.(?:format|concat|join|replace)\s*\(/.test(rest);
}

function argumentHolds(lx: Lexed, text: string, args: readonly Span[], rule: FlawRule): boolean {
  const want = rule.argument!;
  const span = want.index === 'last' ? args[args.length - 1] : args[want.index];
  if (span === undefined) return false;
  const test: ArgumentTest = want.test;
  if (test === 'non-literal') {
    if (lx.code.slice(span.start, span.end).trim() === '') return false;
    return !isLiteral(lx, span, text, rule.language);
  }
  return isBuilt(lx, span, text, test === 'built-sql', rule.language);
}

/** The construct's code with the inside of every string literal blanked. */
function blankLiterals(lx: Lexed, span: Span): string {
  const literals = literalsIn(lx, span);
  let out = '';
  let at = span.start;
  for (const s of literals) {
    const from = Math.max(s.start, span.start);
    out += lx.code.slice(at, from);
    out += lx.code.slice(from, Math.min(s.end, span.end)).replace(/[^\n]/g, ' ');
    at = Math.min(s.end, span.end);
  }
  return out + lx.code.slice(at, span.end);
}

/** Line starts, for offsets to lines and columns. */
class Lines {
  readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  index(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  text(text: string, index: number): string {
    const end = index + 1 < this.starts.length ? this.starts[index + 1]! - 1 : text.length;
    return text.slice(this.starts[index], end);
  }
}

interface Judged {
  rule: FlawRule;
  start: number;
  end: number;
}

/** What follows a function's parameter list where it is defined rather than called. */
const DEFINITION = /^\s*(?::[^;{}\n]{1,200})?\{/;

/** Whether the match at `start` (text `matched`) is a flaw by the rule's tests. */
function judge(
  lx: Lexed,
  text: string,
  rule: FlawRule,
  start: number,
  matched: string,
): Judged | undefined {
  if (rule.argument === undefined && rule.requires === undefined && rule.unless === undefined)
    return { rule, start, end: start + matched.length };
  // What the construct must hold is in the text after the match, if anywhere: a cheap first look.
  if (rule.requires?.test(lx.code.slice(start, start + MAX_CALL_CHARS)) === false) return undefined;
  let call: { args: Span[]; end: number } | undefined;
  if (rule.language === 'shell') call = commandArguments(lx, start + matched.length);
  else {
    const open = matched.indexOf('(');
    call = open < 0 ? { args: [], end: start + matched.length } : callArguments(lx, start + open);
  }
  if (call === undefined) return undefined;
  // `exec(cmd) {` or `exec(cmd): string {` defines a function or method of that name.
  if (rule.language === 'javascript' && DEFINITION.test(lx.code.slice(call.end, call.end + 220)))
    return undefined;
  if (rule.argument !== undefined && !argumentHolds(lx, text, call.args, rule)) return undefined;
  const construct = blankLiterals(lx, { start, end: call.end });
  if (rule.requires !== undefined && !rule.requires.test(construct)) return undefined;
  if (rule.unless?.test(construct) === true) return undefined;
  return { rule, start, end: call.end };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface LanguageRules {
  rules: FlawRule[];
  words: string[];
  /** Finds any of `words` in lower-case text, longest first. */
  any: RegExp;
}

const byLanguage = new Map<FlawLanguage, LanguageRules>();

function rulesFor(language: FlawLanguage): LanguageRules {
  let entry = byLanguage.get(language);
  if (entry === undefined) {
    const rules = FLAW_RULES.filter((r) => r.language === language);
    const words = [...new Set(rules.flatMap((r) => r.keywords))].sort(
      (x, y) => y.length - x.length,
    );
    entry = { rules, words, any: new RegExp(words.map(escapeRegex).join('|'), 'g') };
    byLanguage.set(language, entry);
  }
  return entry;
}

/** The rules of `language` whose keywords occur in `text`. */
function candidates(text: string, language: FlawLanguage): FlawRule[] {
  const { rules, words, any } = rulesFor(language);
  const found = new Set<string>();
  const lower = text.toLowerCase();
  any.lastIndex = 0;
  for (let m = any.exec(lower); m !== null && found.size < words.length; m = any.exec(lower))
    found.add(m[0]);
  // The expression reports one word per position, the longest: it stands for those it holds.
  const seen = new Set(words.filter((w) => [...found].some((f) => f.includes(w))));
  return rules.filter((r) => r.keywords.some((k) => seen.has(k)));
}

/** First 20 hex digits of SHA-256 of the rule, the line's code (spaces collapsed) and its occurrence. */
function lineFingerprint(ruleId: string, line: string, occurrence: number): string {
  const normal = line.trim().replace(/\s+/g, ' ');
  return createHash('sha256')
    .update(`${ruleId}\u0000${normal}\u0000${occurrence}`)
    .digest('hex')
    .slice(0, 20);
}

/** Every flaw in `text`, code of `language`, in order of position (at most {@link MAX_FLAWS_PER_FILE}). */
export function findFlaws(text: string, language: FlawLanguage): CodeMatch[] {
  // Rules whose pattern matches the raw text: blanking comments only takes matches away, so
  // most files are done before the lexer runs.
  const todo = candidates(text, language).filter((r) => {
    r.pattern.lastIndex = 0;
    return r.pattern.test(text);
  });
  if (todo.length === 0) return [];
  const lx = lex(text, language);
  let lines: Lines | undefined;
  const found: Judged[] = [];
  for (const rule of todo) {
    rule.pattern.lastIndex = 0;
    for (const m of lx.code.matchAll(rule.pattern)) {
      if (found.length >= MAX_FLAWS_PER_FILE * 2) break;
      if (isInside(lx.strings, m.index)) continue;
      lines ??= new Lines(text);
      if (lines.text(text, lines.index(m.index)).length > MAX_FLAW_LINE_LENGTH) continue;
      const j = judge(lx, text, rule, m.index, m[0]);
      if (j !== undefined) found.push(j);
    }
  }
  found.sort((a, b) => a.start - b.start || (a.rule.id < b.rule.id ? -1 : 1));
  const occurrences = new Map<string, number>();
  return found.slice(0, MAX_FLAWS_PER_FILE).map((f) => {
    const l = lines!;
    const i = l.index(f.start);
    const code = l.text(lx.code, i);
    const key = `${f.rule.id}\u0000${code.trim()}`;
    const n = occurrences.get(key) ?? 0;
    occurrences.set(key, n + 1);
    return {
      ruleId: f.rule.id,
      line: i + 1,
      column: f.start - l.starts[i]! + 1,
      endLine: l.index(Math.max(f.start, f.end - 1)) + 1,
      fingerprint: lineFingerprint(f.rule.id, code, n),
    };
  });
}

function isInside(strings: readonly StringSpan[], offset: number): boolean {
  const k = firstStringFrom(strings, offset + 1) - 1;
  return k >= 0 && strings[k]!.start <= offset && offset < strings[k]!.end;
}

/** The flaws of one file of an image; none for files that are not code the rules read. */
export function findFlawsInFile(path: string, text: string): CodeMatch[] {
  const language = flawLanguage(path, text.slice(0, 200));
  return language === undefined ? [] : findFlaws(text, language);
}

/** What findings, SARIF and the CLI need of any code-scanning rule, secret or flaw. */
export interface CodeRuleInfo {
  id: string;
  title: string;
  severity: RuleSeverity;
  cwes: readonly string[];
  remediation: string;
  kind: 'secret' | 'code-flaw';
  /** Code flaws: the language the rule reads. */
  language?: FlawLanguage;
}

/** Looks up a secret or code-flaw rule by id. */
export function codeRule(id: string): CodeRuleInfo | undefined {
  const s = secretRule(id);
  if (s !== undefined)
    return {
      id: s.id,
      title: s.title,
      severity: s.severity,
      cwes: s.cwes,
      remediation: s.remediation,
      kind: 'secret',
    };
  const f = flawRule(id);
  if (f === undefined) return undefined;
  return {
    id: f.id,
    title: f.title,
    severity: f.severity,
    cwes: f.cwes,
    remediation: f.remediation,
    kind: 'code-flaw',
    language: f.language,
  };
}
