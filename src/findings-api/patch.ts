// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), the two patch formats a CRD accepts
// besides server-side apply. Pure: they return a new document and never change their input.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A patch that cannot be decoded (400) or applied (422), as kube-apiserver tells them apart. */
export class PatchError extends Error {
  readonly kind: 'decode' | 'apply';
  constructor(kind: 'decode' | 'apply', message: string) {
    super(message);
    this.name = 'PatchError';
    this.kind = kind;
  }
}

function isObject(v: unknown): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge key by key, null removes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: { [key: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: Json;
  from?: string;
}

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Decodes a JSON patch document: an array of operations with string paths. */
export function decodeJsonPatch(body: unknown): PatchOperation[] {
  if (!Array.isArray(body))
    throw new PatchError(
      'decode',
      'json: cannot unmarshal object into Go value of type jsonpatch.Patch',
    );
  return body.map((raw, i) => {
    if (!isObject(raw) || typeof raw.op !== 'string' || !OPS.has(raw.op)) {
      throw new PatchError('decode', `operation ${i}: unexpected op`);
    }
    if (typeof raw.path !== 'string')
      throw new PatchError('decode', `operation ${i}: missing path`);
    const needsValue = raw.op === 'add' || raw.op === 'replace' || raw.op === 'test';
    if (needsValue && !('value' in raw))
      throw new PatchError('decode', `operation ${i}: missing value`);
    const needsFrom = raw.op === 'move' || raw.op === 'copy';
    if (needsFrom && typeof raw.from !== 'string')
      throw new PatchError('decode', `operation ${i}: missing from`);
    return raw as unknown as PatchOperation;
  });
}

/** RFC 6901 pointer to its reference tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new PatchError('apply', `invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Json[] | { [key: string]: Json };

/** The parent container of a pointer and the last token; throws when the parent is missing. */
function parentOf(doc: Json, tokens: string[], pointer: string): [Container, string] {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur)
      ? cur[arrayIndex(cur, t, false, pointer)]
      : isObject(cur)
        ? cur[t]
        : undefined;
    if (next === undefined) throw new PatchError('apply', `doc is missing path: ${pointer}`);
    cur = next;
  }
  if (!Array.isArray(cur) && !isObject(cur))
    throw new PatchError('apply', `doc is missing path: ${pointer}`);
  return [cur, tokens[tokens.length - 1]!];
}

function arrayIndex(arr: Json[], token: string, forAdd: boolean, pointer: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw new PatchError('apply', `invalid index in ${pointer}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length))
    throw new PatchError('apply', `index out of range in ${pointer}`);
  return i;
}

function getAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const [parent, last] = parentOf(doc, tokens, pointer);
  const value = Array.isArray(parent)
    ? parent[arrayIndex(parent, last, false, pointer)]
    : parent[last];
  if (value === undefined) throw new PatchError('apply', `doc is missing path: ${pointer}`);
  return value;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError('apply', 'cannot remove the whole document');
  const [parent, last] = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false, pointer), 1)[0]!;
  if (!(last in parent))
    throw new PatchError('apply', `unable to remove nonexistent key: ${last}: missing value`);
  const value = parent[last]!;
  delete parent[last];
  return value;
}

function addAt(doc: Json, pointer: string, value: Json, replace: boolean): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const [parent, last] = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, !replace, pointer);
    parent.splice(i, replace ? 1 : 0, value);
  } else {
    if (replace && !(last in parent))
      throw new PatchError(
        'apply',
        `replace operation does not apply: doc is missing key: ${pointer}`,
      );
    parent[last] = value;
  }
  return doc;
}

function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]!));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k]!, b[k]!))
    );
  }
  return false;
}

/** Applies RFC 6902 operations in order; any failure fails the whole patch. */
export function applyJsonPatch(document: Json, operations: PatchOperation[]): Json {
  let doc = structuredClone(document);
  for (const op of operations) {
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, structuredClone(op.value!), false);
        break;
      case 'replace':
        doc = addAt(doc, op.path, structuredClone(op.value!), true);
        break;
      case 'remove':
        removeAt(doc, op.path);
        break;
      case 'move': {
        if (op.path.startsWith(`${op.from!}/`))
          throw new PatchError('apply', 'cannot move a value into itself');
        const value = removeAt(doc, op.from!);
        doc = addAt(doc, op.path, value, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, structuredClone(getAt(doc, op.from!)), false);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value!)) {
          throw new PatchError('apply', `testing value ${op.path} failed: test failed`);
        }
        break;
    }
  }
  return doc;
}
