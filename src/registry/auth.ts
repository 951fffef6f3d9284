/** `WWW-Authenticate` challenges (RFC 7235) as registries send them. */

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, … */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header value into its challenges. Tolerates the quoting
 * registries use (`Bearer realm="…",service="…",scope="repository:a/b:pull"`); commas inside
 * quoted values (scopes with several actions) stay in the value.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  let current: Challenge | undefined;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  while (i < n) {
    skipSpace();
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    const token = header.slice(start, i);
    if (token === '') {
      i++;
      continue;
    }
    let j = i;
    while (j < n && header[j] === ' ') j++;
    if (header[j] === '=') {
      // auth-param of the current challenge
      i = j + 1;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const vs = i;
        while (i < n && header[i] !== ',') i++;
        value = header.slice(vs, i).trim();
      }
      if (current !== undefined) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
      i = j;
    }
  }
  return out;
}
