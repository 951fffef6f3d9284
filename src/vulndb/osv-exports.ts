/**
 * The OSV project's public per-ecosystem exports: the default sources. `osv` names them at the
 * project's own address; `osv:BASE` at a mirror that keeps the same layout
 * (`BASE/<ecosystem>/all.zip`, with `modified_id.csv` and one `<id>.json` per record beside it).
 */

/** Where the OSV project publishes its exports. */
export const OSV_EXPORTS_BASE = 'https://osv-vulnerabilities.storage.googleapis.com/';

/** The OSV ecosystems kube-inspector reads packages of (OS packages, then language packages). */
export const OSV_ECOSYSTEMS = [
  'AlmaLinux',
  'Alpine',
  'Chainguard',
  'Debian',
  'Red Hat',
  'Rocky Linux',
  'Ubuntu',
  'Wolfi',
  'Go',
  'Maven',
  'npm',
  'PyPI',
  'crates.io',
] as const;

/**
 * A source as configured, with `osv` and `osv:BASE` expanded into one export per ecosystem;
 * any other source as it is.
 */
export function expandSource(spec: string): string[] {
  if (spec !== 'osv' && !spec.startsWith('osv:')) return [spec];
  const given = spec === 'osv' ? OSV_EXPORTS_BASE : spec.slice('osv:'.length);
  const base = given.endsWith('/') ? given : `${given}/`;
  return OSV_ECOSYSTEMS.map((e) => `${base}${encodeURIComponent(e)}/all.zip`);
}
