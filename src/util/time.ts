/** A time as the API server writes it: RFC 3339 in whole seconds, UTC (`2026-01-02T03:04:05Z`). */
export function toApiTime(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
