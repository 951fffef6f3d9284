// What a log line or a retry decision needs of an error from an API call: its HTTP status (as
// `code`, which @kubernetes/client-node's ApiException carries) and a short message.

/** The HTTP status of an API error; undefined for transport errors. */
export function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The status and the first 300 characters of the message (client-node embeds whole bodies). */
export function briefError(err: unknown): { code?: number; message: string } {
  const code = httpCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return { ...(code !== undefined ? { code } : {}), message: message.slice(0, 300) };
}
