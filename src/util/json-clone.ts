/**
 * What a JSON round trip (`JSON.parse(JSON.stringify(value))`) gives, without encoding and
 * parsing: members that are undefined, functions or symbols are dropped (null inside arrays),
 * numbers that are not finite become null and -0 becomes 0, `toJSON` is called (dates become strings). Strings
 * are shared, not copied, which is what makes it cheaper than the round trip for objects that
 * carry long text. A BigInt throws, as JSON.stringify does; cycles throw too.
 */
export function jsonClone(value: unknown): unknown {
  return cloneIn(value, '', new Set());
}

function cloneIn(value: unknown, key: string, seen: Set<object>): unknown {
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  )
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value + 0 : null; // -0 + 0 is 0, as JSON writes it
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      break;
    default:
      return undefined; // undefined, functions and symbols
  }
  if (value === null) return null;
  if (seen.has(value)) throw new TypeError('Converting circular structure to JSON');
  seen.add(value);
  try {
    if (Array.isArray(value))
      return value.map((v: unknown, i) => cloneIn(v, String(i), seen) ?? null);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) {
      const v = cloneIn((value as Record<string, unknown>)[k], k, seen);
      if (v !== undefined) out[k] = v;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
