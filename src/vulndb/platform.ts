/**
 * Platform limits of Go advisories. A Go vulnerability database record lists, per affected
 * module, the import paths it concerns (`ecosystem_specific.imports`); an import may be limited
 * to some `goos` and/or `goarch` values (a Windows-only `path/filepath` fix). A record applies
 * to a binary built for a platform when any of its imports has no limit or includes that
 * platform; when the binary's platform is not known, every record applies. These are
 * govulncheck's rules (`matchesPlatform` in golang.org/x/vuln's binary mode).
 */
import type { InstalledPackage } from './ecosystem.ts';
import type { AffectedPackage } from './osv.ts';

/** The platform limits of one import path of a Go record; an empty list means no limit. */
export interface GoImportPlatform {
  goos: readonly string[];
  goarch: readonly string[];
}

/** The platform a Go package was built for; `''` where the binary does not say. */
export interface GoPlatform {
  goos: string;
  goarch: string;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/**
 * The platform limits of an affected entry's imports, or undefined when no import is limited
 * (then the entry applies to every platform and nothing needs keeping).
 */
export function goImportPlatforms(
  ecosystemSpecific: Record<string, unknown> | undefined,
): GoImportPlatform[] | undefined {
  const imports = ecosystemSpecific?.['imports'];
  if (!Array.isArray(imports) || imports.length === 0) return undefined;
  const out = imports.map((i: unknown) => {
    const o = typeof i === 'object' && i !== null ? (i as Record<string, unknown>) : {};
    return { goos: strings(o['goos']), goarch: strings(o['goarch']) };
  });
  return out.some((i) => i.goos.length > 0 || i.goarch.length > 0) ? out : undefined;
}

/** The `goos` and `goarch` qualifiers of a Go package URL (empty when absent). */
export function goPlatformOfPurl(purl: string | undefined): GoPlatform {
  const out: GoPlatform = { goos: '', goarch: '' };
  const q = purl?.indexOf('?') ?? -1;
  if (purl === undefined || q < 0) return out;
  const hash = purl.indexOf('#', q);
  for (const pair of purl.slice(q + 1, hash < 0 ? undefined : hash).split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).toLowerCase();
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      continue;
    }
    if (key === 'goos') out.goos = value;
    else if (key === 'goarch') out.goarch = value;
  }
  return out;
}

function component(value: string, allowed: readonly string[]): boolean {
  return value === '' || allowed.length === 0 || allowed.includes(value);
}

/** Whether imports with these limits concern a binary built for `platform`. */
export function importsMatchPlatform(
  imports: readonly GoImportPlatform[] | undefined,
  platform: GoPlatform,
): boolean {
  if (imports === undefined || imports.length === 0) return true;
  return imports.some(
    (i) => component(platform.goos, i.goos) && component(platform.goarch, i.goarch),
  );
}

/** Whether an affected entry applies to the platform of the installed package (Go only). */
export function appliesToPlatform(affected: AffectedPackage, pkg: InstalledPackage): boolean {
  if (affected.goImports === undefined) return true;
  return importsMatchPlatform(affected.goImports, goPlatformOfPurl(pkg.purl));
}
