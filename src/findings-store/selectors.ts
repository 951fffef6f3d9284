// Label and field selectors as kube-apiserver parses them (k8s.io/apimachinery/pkg/labels and
// pkg/fields). Pure: parse from the query string, match an object; the SQLite store also
// translates them to SQL (sql-filter.ts).

/** One requirement of a label selector. */
export type LabelRequirement =
  | { key: string; operator: 'Equals' | 'NotEquals'; value: string }
  | { key: string; operator: 'In' | 'NotIn'; values: string[] }
  | { key: string; operator: 'Exists' | 'DoesNotExist' }
  /** `key>5`, `key<5`: the label exists and, read as an integer, is greater / less. */
  | { key: string; operator: 'GreaterThan' | 'LessThan'; value: string };

/** Requirements ANDed together; empty matches everything. */
export interface LabelSelector {
  requirements: LabelRequirement[];
}

/** One term of a field selector: `field=value`, `field==value` or `field!=value`. */
export interface FieldRequirement {
  field: string;
  operator: 'Equals' | 'NotEquals';
  value: string;
}

export interface FieldSelector {
  requirements: FieldRequirement[];
}

/** A selector that cannot be parsed; the message names what is wrong (the API answers 400). */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

// ---------------------------------------------------------------- label keys and values

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_RULE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** Why `key` is not a valid label key (Kubernetes' IsQualifiedName), or [] when it is. */
export function labelKeyErrors(key: string): string[] {
  const parts = key.split('/');
  if (parts.length > 2)
    return [
      `a qualified name ${NAME_RULE}, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  const errors: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') errors.push('prefix part must be non-empty');
    else if (prefix.length > 253) errors.push('prefix part must be no more than 253 characters');
    else if (!DNS1123_SUBDOMAIN.test(prefix))
      errors.push(
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      );
  }
  if (name === '') errors.push('name part must be non-empty');
  else if (name.length > 63) errors.push('name part must be no more than 63 characters');
  if (name !== '' && !QUALIFIED_NAME.test(name)) errors.push(`name part ${NAME_RULE}`);
  return errors;
}

/** Why `value` is not a valid label value, or [] when it is. */
export function labelValueErrors(value: string): string[] {
  const errors: string[] = [];
  if (value.length > 63) errors.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(value))
    errors.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    );
  return errors;
}

// ---------------------------------------------------------------- label selector lexer

type TokenKind =
  'end' | 'identifier' | 'in' | 'notin' | '=' | '==' | '!=' | '!' | '(' | ')' | ',' | '>' | '<';
interface Token {
  kind: TokenKind;
  text: string;
}

const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);
const SYMBOLS: TokenKind[] = ['!=', '==', '=', '!', '(', ')', ',', '>', '<'];
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);

/** Splits a label selector into tokens as apimachinery's lexer does. */
function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
    if (i >= text.length || text[i] === '\0') break;
    if (SPECIAL.has(text[i]!)) {
      const symbol = SYMBOLS.find((s) => text.startsWith(s, i))!;
      tokens.push({ kind: symbol, text: symbol });
      i += symbol.length;
      continue;
    }
    let j = i;
    while (
      j < text.length &&
      text[j] !== '\0' &&
      !SPECIAL.has(text[j]!) &&
      !WHITESPACE.has(text[j]!)
    )
      j++;
    const word = text.slice(i, j);
    tokens.push({ kind: word === 'in' || word === 'notin' ? word : 'identifier', text: word });
    i = j;
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

// ---------------------------------------------------------------- label selector parser

/** Parser state: tokens and a cursor. In value and key positions `in`/`notin` are words. */
class Cursor {
  private at = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }
  /** The next token; `asValue` reads the keywords as identifiers. */
  peek(asValue = true): Token {
    const t = this.tokens[this.at]!;
    return asValue && (t.kind === 'in' || t.kind === 'notin') ? { ...t, kind: 'identifier' } : t;
  }
  next(asValue = true): Token {
    const t = this.peek(asValue);
    if (t.kind !== 'end') this.at++;
    return t;
  }
}

function fail(message: string): never {
  throw new SelectorError(`unable to parse requirement: ${message}`);
}

function checkKey(key: string): void {
  const errors = labelKeyErrors(key);
  if (errors.length > 0) fail(`key "${key}": ${errors.join('; ')}`);
}

function checkValue(key: string, value: string): void {
  const errors = labelValueErrors(value);
  if (errors.length > 0) fail(`value "${value}" of key "${key}": ${errors.join('; ')}`);
}

/** `(a, b)`: the values of in/notin, with apimachinery's handling of empty items. */
function parseValues(c: Cursor): string[] {
  const open = c.next();
  if (open.kind !== '(') fail(`found '${open.text}', expected: '('`);
  const values = new Set<string>();
  if (c.peek().kind === ')') {
    c.next();
    return [''];
  }
  for (;;) {
    const t = c.next();
    if (t.kind === 'identifier') {
      values.add(t.text);
      const after = c.peek();
      if (after.kind === ')') break;
      if (after.kind !== ',') fail(`found '${after.text}', expected: ',' or ')'`);
    } else if (t.kind === ',') {
      if (values.size === 0) values.add('');
      const after = c.peek();
      if (after.kind === ')') {
        values.add('');
        break;
      }
      if (after.kind === ',') values.add('');
    } else fail(`found '${t.text}', expected: ',', ')' or identifier`);
  }
  c.next();
  return [...values].sort();
}

/** The single value after `=`, `==`, `!=`, `>` or `<`; empty at a comma or the end. */
function parseExactValue(c: Cursor): string {
  const t = c.peek();
  if (t.kind === 'end' || t.kind === ',') return '';
  c.next();
  if (t.kind !== 'identifier') fail(`found '${t.text}', expected: identifier`);
  return t.text;
}

function parseRequirement(c: Cursor): LabelRequirement {
  let t = c.next();
  const negated = t.kind === '!';
  if (negated) t = c.next();
  if (t.kind !== 'identifier') fail(`found '${t.text}', expected: identifier`);
  const key = t.text;
  checkKey(key);
  const after = c.peek().kind;
  if (negated) return { key, operator: 'DoesNotExist' };
  if (after === 'end' || after === ',') return { key, operator: 'Exists' };
  const op = c.next(false);
  switch (op.kind) {
    case 'in':
    case 'notin': {
      const values = parseValues(c);
      values.forEach((v) => checkValue(key, v));
      return { key, operator: op.kind === 'in' ? 'In' : 'NotIn', values };
    }
    case '=':
    case '==':
    case '!=': {
      const value = parseExactValue(c);
      checkValue(key, value);
      return { key, operator: op.kind === '!=' ? 'NotEquals' : 'Equals', value };
    }
    case '>':
    case '<': {
      const value = parseExactValue(c);
      checkValue(key, value);
      if (!/^[+-]?\d+$/.test(value) || !fitsInt64(value))
        fail(`for 'Gt', 'Lt' operators, the value must be an integer (key "${key}")`);
      return { key, operator: op.kind === '>' ? 'GreaterThan' : 'LessThan', value };
    }
    default:
      return fail(`found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`);
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
function fitsInt64(text: string): boolean {
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/**
 * Parses a label selector with the grammar of k8s.io/apimachinery/pkg/labels: `k=v`, `k==v`,
 * `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`, joined by commas. Keys and
 * values are checked with Kubernetes' rules. "" selects everything. Throws SelectorError.
 */
/**
 * A selector of labels equal to values the controllers set themselves (the names of
 * CoveredResources and assessment runs), made without parsing: such a name may be longer than
 * the 63 characters a label value typed by a person may have, and the store matches it exactly.
 * `extra` requirements are ANDed.
 */
export function labelsEqual(
  pairs: Readonly<Record<string, string>>,
  extra: LabelRequirement[] = [],
): LabelSelector {
  return {
    requirements: [
      ...Object.entries(pairs).map(([key, value]): LabelRequirement => ({
        key,
        operator: 'Equals',
        value,
      })),
      ...extra,
    ],
  };
}

export function parseLabelSelector(text: string): LabelSelector {
  const c = new Cursor(lex(text));
  const requirements: LabelRequirement[] = [];
  for (;;) {
    const t = c.peek();
    if (t.kind === 'end') return { requirements };
    if (t.kind !== 'identifier' && t.kind !== '!')
      throw new SelectorError(`found '${t.text}', expected: !, identifier, or 'end of string'`);
    requirements.push(parseRequirement(c));
    const sep = c.next();
    if (sep.kind === 'end') return { requirements };
    if (sep.kind !== ',')
      throw new SelectorError(`found '${sep.text}', expected: ',' or 'end of string'`);
    const after = c.peek();
    if (after.kind !== 'identifier' && after.kind !== '!')
      throw new SelectorError(`found '${after.text}', expected: identifier after ','`);
  }
}

/** Whether labels satisfy every requirement (a missing label fails all but !=, notin, !k). */
export function matchesLabels(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (selector === undefined) return true;
  return selector.requirements.every((r) => {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.operator) {
      case 'Equals':
        return has && value === r.value;
      case 'NotEquals':
        return !has || value !== r.value;
      case 'In':
        return has && r.values.includes(value!);
      case 'NotIn':
        return !has || !r.values.includes(value!);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      case 'GreaterThan':
      case 'LessThan': {
        if (!has || !/^[+-]?\d+$/.test(value!) || !fitsInt64(value!)) return false;
        const n = BigInt(value!);
        const bound = BigInt(r.value);
        return r.operator === 'GreaterThan' ? n > bound : n < bound;
      }
    }
  });
}

// ---------------------------------------------------------------- field selectors

/** Splits on commas not escaped with a backslash. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === ',') {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

/** Undoes `\\`, `\,` and `\=`; any other escape and unescaped `,` or `=` are errors. */
export function unescapeFieldValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\') {
      const next = value[i + 1];
      if (next === undefined)
        throw new SelectorError('invalid field selector: invalid escape sequence: \\');
      if (next !== '\\' && next !== ',' && next !== '=')
        throw new SelectorError(`invalid field selector: invalid escape sequence: \\${next}`);
      out += next;
      i++;
    } else if (ch === ',' || ch === '=') {
      throw new SelectorError(`invalid field selector: unescaped character ${ch}`);
    } else out += ch;
  }
  return out;
}

/** Escapes a value for a field selector (the inverse of unescapeFieldValue). */
export function escapeFieldValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

const FIELD_OPERATORS = ['!=', '==', '='] as const;

/**
 * Parses a field selector as k8s.io/apimachinery/pkg/fields does: comma-separated `f=v`,
 * `f==v`, `f!=v`, values unescaped (`\\`, `\,`, `\=`). "" selects everything. Which fields are
 * supported is the caller's check ({@link unsupportedFields}). Throws SelectorError.
 */
export function parseFieldSelector(text: string): FieldSelector {
  const requirements: FieldRequirement[] = [];
  for (const term of splitTerms(text).sort()) {
    if (term === '') continue;
    let found: { at: number; op: (typeof FIELD_OPERATORS)[number] } | undefined;
    for (let i = 0; i < term.length && found === undefined; i++) {
      const op = FIELD_OPERATORS.find((o) => term.startsWith(o, i));
      if (op !== undefined) found = { at: i, op };
    }
    if (found === undefined)
      throw new SelectorError(`invalid selector: '${text}'; can't understand '${term}'`);
    const value = unescapeFieldValue(term.slice(found.at + found.op.length));
    requirements.push({
      field: term.slice(0, found.at),
      operator: found.op === '!=' ? 'NotEquals' : 'Equals',
      value,
    });
  }
  return { requirements };
}

/** The fields a Finding can be selected on, as kube-apiserver's selectable fields. */
export const FINDING_SELECTABLE_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'status.severity',
  'status.status',
  'status.type',
  'status.vulnerabilityId',
  'status.resource.type',
  'status.resource.id',
  'status.rulesPackage',
] as const;
export type FindingSelectableField = (typeof FINDING_SELECTABLE_FIELDS)[number];

/**
 * The fields of a selector that cannot be selected on; the API refuses them with 400 and
 * `field label not supported: <field>`.
 */
export function unsupportedFields(selector: FieldSelector): string[] {
  const known = new Set<string>(FINDING_SELECTABLE_FIELDS);
  return selector.requirements.map((r) => r.field).filter((f) => !known.has(f));
}

function at(object: unknown, path: readonly string[]): unknown {
  let v = object;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** The selectable fields of an object as strings; a missing field is "" (as in Kubernetes). */
export function findingFields(object: unknown): Record<FindingSelectableField, string> {
  const fields = {} as Record<FindingSelectableField, string>;
  for (const f of FINDING_SELECTABLE_FIELDS) {
    const v = at(object, f.split('.'));
    fields[f] = typeof v === 'string' ? v : '';
  }
  return fields;
}

/** Whether the fields satisfy every term; a field not in the set reads as "". */
export function matchesFields(
  selector: FieldSelector | undefined,
  fields: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined) return true;
  return selector.requirements.every((r) => {
    const value = Object.hasOwn(fields, r.field) ? fields[r.field] : '';
    return r.operator === 'Equals' ? value === r.value : value !== r.value;
  });
}
