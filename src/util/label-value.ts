/**
 * Label values and keys as Kubernetes validates them (apimachinery's IsValidLabelValue and
 * IsQualifiedName), and the label value that stands for an object name too long to be one.
 */
import { createHash } from 'node:crypto';

/** The longest label value, and the longest name part of a key. */
export const MAX_LABEL_VALUE = 63;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** apimachinery's RegexError: the message, its examples and the expression. */
function regexError(message: string, expression: string, ...examples: string[]): string {
  return `${message} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${expression}')`;
}
const maxLength = (n: number): string => `must be no more than ${n} bytes`;

const KEY_FORMAT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const KEY_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const KEY_EXAMPLES = ['MyName', 'my.name', '123-abc'];

/** Whether `name` is a DNS subdomain (RFC 1123), the form of most object names. */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/** Why `value` is not a label value (kube-apiserver's messages), empty when it is one. */
export function labelValueErrors(value: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(value) > MAX_LABEL_VALUE) out.push(maxLength(MAX_LABEL_VALUE));
  if (!LABEL_VALUE.test(value)) {
    out.push(
      regexError(
        `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
        `(${KEY_FORMAT})?`,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return out;
}

/** Why `prefix` is not a DNS subdomain, each message starting `prefix part`. */
function prefixErrors(prefix: string): string[] {
  if (prefix.length === 0) return ['prefix part must be non-empty'];
  const out: string[] = [];
  if (Buffer.byteLength(prefix) > 253) out.push(`prefix part ${maxLength(253)}`);
  if (!DNS_SUBDOMAIN.test(prefix)) {
    out.push(
      `prefix part ${regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*',
        'example.com',
      )}`,
    );
  }
  return out;
}

/**
 * Why `key` is not a label key (a qualified name: `prefix/name` or `name`), in
 * kube-apiserver's words; empty when it is one.
 */
export function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  if (parts.length > 2) {
    return [
      `a valid label key ${regexError(KEY_MESSAGE, KEY_FORMAT, ...KEY_EXAMPLES)} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const name = parts.at(-1)!;
  const out = parts.length === 2 ? prefixErrors(parts[0]!) : [];
  if (name.length === 0) out.push('name part must be non-empty');
  else if (Buffer.byteLength(name) > MAX_LABEL_VALUE)
    out.push(`name part ${maxLength(MAX_LABEL_VALUE)}`);
  if (!KEY_NAME.test(name))
    out.push(`name part ${regexError(KEY_MESSAGE, KEY_FORMAT, ...KEY_EXAMPLES)}`);
  return out;
}

/**
 * The label value that names an object: its name where that is a valid label value (a DNS
 * subdomain of at most 63 characters), else the name's first characters and a hash of the
 * whole name, 63 characters in all. Deterministic, and a value it returns maps to itself.
 */
export function labelValueFor(name: string): string {
  if (labelValueErrors(name).length === 0) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  const head = name
    .slice(0, MAX_LABEL_VALUE - hash.length - 1)
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/[^A-Za-z0-9]+$/, '')
    .replace(/^[^A-Za-z0-9]+/, '');
  return head === '' ? hash : `${head}-${hash}`;
}
