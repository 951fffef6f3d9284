/**
 * Just enough lexing of Python, JavaScript/TypeScript and shell for the code-flaw rules: where
 * the comments are (blanked, so a commented-out call is not code) and where the string
 * literals are (a match that starts inside one is text, not code; an argument made only of
 * literals is constant). Not a parser: heredocs, nested shell quoting and JavaScript regular
 * expressions after `)` are read approximately, and docs/code-scanning.md says so.
 */

export type FlawLanguage = 'python' | 'javascript' | 'shell';

/** A string literal: `[start, end)` including its prefix and quotes. */
export interface StringSpan {
  start: number;
  end: number;
  /** Its value is computed at run time: an f-string with a field, a template with `${`, a shell `"…$x…"`. */
  interpolated: boolean;
}

export interface Lexed {
  /** The text with every comment character but line breaks replaced by a space: same offsets. */
  code: string;
  /** String literals in order. */
  strings: StringSpan[];
}

interface Builder {
  text: string;
  comments: [number, number][];
  strings: StringSpan[];
}

function finish(b: Builder): Lexed {
  if (b.comments.length === 0) return { code: b.text, strings: b.strings };
  const parts: string[] = [];
  let at = 0;
  for (const [s, e] of b.comments) {
    parts.push(b.text.slice(at, s), b.text.slice(s, e).replace(/[^\n]/g, ' '));
    at = e;
  }
  parts.push(b.text.slice(at));
  return { code: parts.join(''), strings: b.strings };
}

function lineEnd(text: string, from: number): number {
  const j = text.indexOf('\n', from);
  return j < 0 ? text.length : j;
}

const QUOTE_STOPS: Record<string, RegExp> = {
  '"': /[\\\n"]/g,
  "'": /[\\\n']/g,
  '`': /[\\\n`]/g,
};

/** End of a quoted literal opened at `open` (the quote's offset) by `quote`. */
function quotedEnd(text: string, open: number, quote: string, multiline: boolean): number {
  const stops = QUOTE_STOPS[quote[0]!]!;
  let j = open + quote.length;
  for (;;) {
    stops.lastIndex = j;
    const m = stops.exec(text);
    if (m === null) return text.length;
    j = m.index;
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === '\n') {
      if (!multiline) return j;
      j++;
    } else if (text.startsWith(quote, j)) return j + quote.length;
    else j++;
  }
}

/** Offset of the next character of `stops` (a global expression) at or after `from`. */
function next(text: string, stops: RegExp, from: number): number {
  stops.lastIndex = from;
  return stops.exec(text)?.index ?? text.length;
}

const PY_PREFIX = /^[rRbBuUfF]{1,2}$/;

function lexPython(text: string): Lexed {
  const b: Builder = { text, comments: [], strings: [] };
  const stops = /[#'"]/g;
  let i = next(text, stops, 0);
  while (i < text.length) {
    const c = text[i]!;
    if (c === '#') {
      const e = lineEnd(text, i);
      b.comments.push([i, e]);
      i = next(text, stops, e);
    } else {
      let p = i;
      while (p > 0 && i - p < 2 && /[rRbBuUfF]/.test(text[p - 1]!)) p--;
      if (p > 0 && /[\w]/.test(text[p - 1]!)) p = i;
      const prefix = text.slice(p, i);
      const triple = text.startsWith(c.repeat(3), i);
      const end = quotedEnd(text, i, triple ? c.repeat(3) : c, triple);
      const fString = PY_PREFIX.test(prefix) && /f/i.test(prefix);
      const body = text.slice(i, end).replace(/\{\{|\}\}/g, '');
      b.strings.push({ start: p, end, interpolated: fString && body.includes('{') });
      i = next(text, stops, end);
    }
  }
  return finish(b);
}

const JS_REGEX_AFTER = new Set([...'(,=:[!&|?{};+-*%<>~^']);
const JS_REGEX_AFTER_WORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'yield',
  'await',
]);

/** Whether a `/` at `i` opens a regular expression literal rather than dividing. */
function regexAllowed(text: string, i: number): boolean {
  let p = i - 1;
  while (p >= 0 && /\s/.test(text[p]!)) p--;
  if (p < 0) return true;
  const prev = text[p]!;
  if (JS_REGEX_AFTER.has(prev)) return true;
  if (!/[A-Za-z_$]/.test(prev)) return false;
  let s = p;
  while (s > 0 && /[\w$]/.test(text[s - 1]!)) s--;
  return JS_REGEX_AFTER_WORDS.has(text.slice(s, p + 1));
}

function regexEnd(text: string, open: number): number {
  let j = open + 1;
  let inClass = false;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === '\n') return j;
    else if (c === '/' && !inClass) return j + 1;
    else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      j++;
    }
  }
  return text.length;
}

/** End of a template literal opened at `open`, and whether it has a `${…}` field. */
function templateEnd(text: string, open: number): { end: number; interpolated: boolean } {
  let j = open + 1;
  let interpolated = false;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') j += 2;
    else if (c === '`') return { end: j + 1, interpolated };
    else if (c === '$' && text[j + 1] === '{') {
      interpolated = true;
      j = expressionEnd(text, j + 2);
    } else j++;
  }
  return { end: text.length, interpolated };
}

/** End (after the closing brace) of a template field's expression starting at `from`. */
function expressionEnd(text: string, from: number): number {
  let depth = 0;
  let j = from;
  while (j < text.length) {
    const c = text[j];
    if (c === '"' || c === "'") j = quotedEnd(text, j, c, false);
    else if (c === '`') j = templateEnd(text, j).end;
    else if (c === '{') {
      depth++;
      j++;
    } else if (c === '}') {
      if (depth === 0) return j + 1;
      depth--;
      j++;
    } else j++;
  }
  return text.length;
}

function lexJavaScript(text: string): Lexed {
  const b: Builder = { text, comments: [], strings: [] };
  const stops = /[/'"`]/g;
  let i = next(text, stops, 0);
  while (i < text.length) {
    const c = text[i];
    const after = text[i + 1];
    if (c === '/' && after === '/') {
      const e = lineEnd(text, i);
      b.comments.push([i, e]);
      i = e;
    } else if (c === '/' && after === '*') {
      const close = text.indexOf('*/', i + 2);
      const e = close < 0 ? text.length : close + 2;
      b.comments.push([i, e]);
      i = e;
    } else if (c === '"' || c === "'") {
      const e = quotedEnd(text, i, c, false);
      b.strings.push({ start: i, end: e, interpolated: false });
      i = e;
    } else if (c === '`') {
      const t = templateEnd(text, i);
      // A tagged template (sql`…${x}`) hands its parts to the tag: not a string built here.
      const tagged = /[\w$)\]]\s*$/.test(text.slice(Math.max(0, i - 40), i));
      b.strings.push({ start: i, end: t.end, interpolated: t.interpolated && !tagged });
      i = t.end;
    } else if (c === '/' && regexAllowed(text, i)) {
      const e = regexEnd(text, i);
      b.strings.push({ start: i, end: e, interpolated: false });
      i = e;
    } else i++;
    i = next(text, stops, i);
  }
  return finish(b);
}

/** Whether a shell double-quoted body expands something other than `$(` a fixed command `)`. */
export function shellExpands(body: string): boolean {
  const fixed = body.replace(/\$\(([^$()`]*)\)/g, '');
  return /(?<!\\)(?:\$[\w{@*#?!-]|`)/.test(fixed);
}

function lexShell(text: string): Lexed {
  const b: Builder = { text, comments: [], strings: [] };
  const stops = /[\\#'"]/g;
  let i = next(text, stops, 0);
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === '#') {
      if (i === 0 || /[\s;&|(]/.test(text[i - 1]!)) {
        const e = lineEnd(text, i);
        b.comments.push([i, e]);
        i = e;
      } else i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      const e = close < 0 ? text.length : close + 1;
      b.strings.push({ start: i, end: e, interpolated: false });
      i = e;
    } else {
      const e = quotedEnd(text, i, '"', true);
      b.strings.push({ start: i, end: e, interpolated: shellExpands(text.slice(i + 1, e - 1)) });
      i = e;
    }
    i = next(text, stops, i);
  }
  return finish(b);
}

export function lex(text: string, language: FlawLanguage): Lexed {
  switch (language) {
    case 'python':
      return lexPython(text);
    case 'javascript':
      return lexJavaScript(text);
    case 'shell':
      return lexShell(text);
  }
}

/** The string literal holding `offset`, by binary search. */
export function stringAt(strings: readonly StringSpan[], offset: number): StringSpan | undefined {
  let lo = 0;
  let hi = strings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = strings[mid]!;
    if (offset < s.start) hi = mid - 1;
    else if (offset >= s.end) lo = mid + 1;
    else return s;
  }
  return undefined;
}

/** Index of the first string literal starting at or after `offset`. */
export function firstStringFrom(strings: readonly StringSpan[], offset: number): number {
  let lo = 0;
  let hi = strings.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (strings[mid]!.start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
