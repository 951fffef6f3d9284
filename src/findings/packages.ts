/**
 * Inventories in the vulnerability database's terms, and matching that remembers where each
 * package was found. Pure.
 *
 * The OS ecosystem of an image is the one the scanner read from os-release
 * (`OperatingSystem.ecosystem`, spelled as OSV spells it: `Ubuntu:22.04:LTS`, `Debian:12`),
 * used only when the scanner says the OS is supported. The database indexes ecosystems in a
 * normalised form (`Ubuntu:22.04:LTS` and `Ubuntu:22.04` meet), and finding names use that
 * same normalised form ({@link packageKey}), so a change of spelling changes no finding.
 */
import type { InventoryPackage } from '../api/v1alpha1/node-inventory.ts';
import type { Inventory } from '../scanner/types.ts';
import type { VulnDatabase } from '../vulndb/database.ts';
import { ecosystemForOs, type InstalledPackage } from '../vulndb/ecosystem.ts';
import type { Enrichment } from '../vulndb/enrichment.ts';
import { matchPackages, type PackageFinding } from '../vulndb/match.ts';
import type { PackageLocation } from './build.ts';

export interface LocatedPackage {
  pkg: InstalledPackage;
  location: PackageLocation;
}

/** The OSV ecosystems of language packages, by the scanner's package type. */
export const LANGUAGE_ECOSYSTEMS: Readonly<Record<string, string>> = {
  npm: 'npm',
  pypi: 'PyPI',
  golang: 'Go',
  maven: 'Maven',
};

/** The OSV ecosystem of an image's OS packages, or undefined when its OS is not matched. */
export function osEcosystem(inv: Pick<Inventory, 'os'>): string | undefined {
  const os = inv.os;
  if (os === undefined || !os.supported) return undefined;
  return os.ecosystem ?? ecosystemForOs({ id: os.family, versionId: os.version });
}

/** An image inventory's packages, each with the file and layer it was found in. */
export function imagePackages(inv: Inventory): LocatedPackage[] {
  const osEco = osEcosystem(inv);
  const out: LocatedPackage[] = [];
  for (const p of inv.packages) {
    const ecosystem = LANGUAGE_ECOSYSTEMS[p.type] ?? osEco;
    if (ecosystem === undefined) continue;
    out.push({
      pkg: {
        ecosystem,
        name: p.type === 'maven' && p.namespace !== undefined ? `${p.namespace}:${p.name}` : p.name,
        sourceName: p.sourceName,
        version: p.version,
        purl: p.purl,
      },
      location: {
        filePath: p.filePath,
        ...(p.layerDigest !== undefined ? { layerDigest: p.layerDigest } : {}),
      },
    });
  }
  return out;
}

/** A NodeInventory's packages (the agent writes each package's ecosystem). */
export function nodePackages(packages: readonly InventoryPackage[] | undefined): LocatedPackage[] {
  return (packages ?? []).map((p) => ({
    pkg: {
      ecosystem: p.ecosystem,
      name: p.name,
      sourceName: p.sourceName,
      version: p.version,
      purl: p.purl,
    },
    location: p.filePath !== undefined ? { filePath: p.filePath } : {},
  }));
}

/** Matches the packages and pairs every match with where its package was found. */
export function matchLocated(
  db: VulnDatabase,
  packages: readonly LocatedPackage[],
  enrichment?: Enrichment,
): { match: PackageFinding; location: PackageLocation }[] {
  const where = new Map<InstalledPackage, PackageLocation>();
  for (const p of packages) where.set(p.pkg, p.location);
  const summary = matchPackages(
    db,
    packages.map((p) => p.pkg),
    enrichment,
  );
  return summary.findings.map((match) => ({ match, location: where.get(match.package) ?? {} }));
}
