/**
 * Reading the packages of an SBOM: CycloneDX JSON (1.4–1.6; later 1.x accepted) or SPDX 2.3
 * JSON, each package identified by its purl. A purl becomes an {@link InstalledPackage}: the
 * advisory ecosystem (with the OS release from the `distro` qualifier for OS packages), the
 * name, the source/origin name from the `upstream` qualifier, and the version (with the rpm
 * `epoch` qualifier folded in).
 */
import { PackageURL } from 'packageurl-js';
import { ecosystemForOs, type InstalledPackage } from './ecosystem.ts';

export interface SbomPackages {
  format: 'CycloneDX' | 'SPDX';
  specVersion: string;
  packages: InstalledPackage[];
  /** Components we cannot match, with the reason (no purl, unsupported type, no release). */
  skipped: { ref: string; reason: string }[];
}

const debianCodenames: Record<string, string> = {
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
};
const ubuntuCodenames: Record<string, string> = {
  bionic: '18.04',
  focal: '20.04',
  jammy: '22.04',
  noble: '24.04',
  oracular: '24.10',
  plucky: '25.04',
};
const rpmNamespaces: Record<string, string> = {
  redhat: 'rhel',
  rhel: 'rhel',
  almalinux: 'almalinux',
  rocky: 'rocky',
  rockylinux: 'rocky',
};

/** The version in a `distro` qualifier: `debian-12` → 12, `bookworm` → 12, `3.20` → 3.20. */
function distroVersion(distro: string, namespace: string): string | undefined {
  const d = distro.trim().toLowerCase();
  const codename = namespace === 'ubuntu' ? ubuntuCodenames[d] : debianCodenames[d];
  if (codename !== undefined) return codename;
  const m = /(\d+(?:\.\d+)*)$/.exec(d);
  return m?.[1];
}

export type PurlResult = { ok: true; pkg: InstalledPackage } | { ok: false; reason: string };

/** Turns one purl into an installed package, or says why it cannot be matched. */
// eslint-disable-next-line complexity -- one case per purl type
export function packageFromPurl(purl: string): PurlResult {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(purl);
  } catch (err) {
    return {
      ok: false,
      reason: `invalid purl: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const version = p.version ?? '';
  if (version === '') return { ok: false, reason: 'the purl has no version' };
  const q = (p.qualifiers ?? {}) as Record<string, string>;
  const ns = (p.namespace ?? '').toLowerCase();
  const upstream = q['upstream']?.split('@')[0];
  const base = { name: p.name, version, purl };
  const withRelease = (id: string): PurlResult => {
    const distro = q['distro'];
    if (distro === undefined)
      return { ok: false, reason: `no distro qualifier: the ${ns} release is unknown` };
    const versionId = distroVersion(distro, ns);
    const ecosystem = versionId === undefined ? undefined : ecosystemForOs({ id, versionId });
    if (ecosystem === undefined) return { ok: false, reason: `unsupported distro ${distro}` };
    return { ok: true, pkg: { ...base, ecosystem, sourceName: upstream } };
  };
  switch (p.type) {
    case 'deb':
      if (ns !== 'debian' && ns !== 'ubuntu')
        return { ok: false, reason: `unsupported deb namespace ${ns}` };
      return withRelease(ns);
    case 'apk':
      if (ns === 'wolfi' || ns === 'chainguard') {
        const ecosystem = ecosystemForOs({ id: ns, versionId: '' })!;
        return { ok: true, pkg: { ...base, ecosystem, sourceName: upstream } };
      }
      if (ns !== 'alpine') return { ok: false, reason: `unsupported apk namespace ${ns}` };
      return withRelease('alpine');
    case 'rpm': {
      const id = rpmNamespaces[ns];
      if (id === undefined) return { ok: false, reason: `unsupported rpm namespace ${ns}` };
      const epoch = q['epoch'];
      const r = withRelease(id);
      if (r.ok && epoch !== undefined && epoch !== '' && !version.includes(':')) {
        r.pkg.version = `${epoch}:${version}`;
      }
      return r;
    }
    case 'npm':
      return {
        ok: true,
        pkg: { ...base, ecosystem: 'npm', name: ns === '' ? p.name : `${p.namespace}/${p.name}` },
      };
    case 'pypi':
      return { ok: true, pkg: { ...base, ecosystem: 'PyPI' } };
    case 'golang': {
      const name = ns === '' ? p.name : `${p.namespace}/${p.name}`;
      return { ok: true, pkg: { ...base, ecosystem: 'Go', name: name === 'go' ? 'stdlib' : name } };
    }
    case 'maven':
      if (ns === '') return { ok: false, reason: 'a Maven purl needs a group (namespace)' };
      return { ok: true, pkg: { ...base, ecosystem: 'Maven', name: `${p.namespace}:${p.name}` } };
    case 'cargo':
      return { ok: true, pkg: { ...base, ecosystem: 'crates.io' } };
    default:
      return { ok: false, reason: `unsupported purl type ${p.type}` };
  }
}

interface CdxComponent {
  'bom-ref'?: unknown;
  name?: unknown;
  purl?: unknown;
  components?: unknown;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function collect(out: SbomPackages, purl: unknown, ref: string): void {
  if (typeof purl !== 'string' || purl === '') {
    out.skipped.push({ ref, reason: 'no purl' });
    return;
  }
  const r = packageFromPurl(purl);
  if (r.ok) out.packages.push(r.pkg);
  else out.skipped.push({ ref: purl, reason: r.reason });
}

function walkCycloneDx(out: SbomPackages, components: unknown, depth: number): void {
  if (!Array.isArray(components) || depth > 32) return;
  for (const c of components as unknown[]) {
    if (!isObject(c)) continue;
    const comp = c as CdxComponent;
    const ref =
      typeof comp['bom-ref'] === 'string'
        ? comp['bom-ref']
        : typeof comp.name === 'string'
          ? comp.name
          : '?';
    collect(out, comp.purl, ref);
    walkCycloneDx(out, comp.components, depth + 1);
  }
}

/** Reads the packages of a parsed SBOM document; throws with a message saying what is wrong. */
export function readSbom(doc: unknown): SbomPackages {
  if (!isObject(doc)) throw new Error('not a JSON object');
  if (doc['bomFormat'] === 'CycloneDX') {
    const specVersion = typeof doc['specVersion'] === 'string' ? doc['specVersion'] : '';
    const m = /^1\.(\d+)$/.exec(specVersion);
    if (m === null || Number(m[1]) < 4) {
      throw new Error(
        `unsupported CycloneDX specVersion "${specVersion}" (1.4 to 1.6 are supported)`,
      );
    }
    const out: SbomPackages = { format: 'CycloneDX', specVersion, packages: [], skipped: [] };
    if (doc['components'] !== undefined && !Array.isArray(doc['components'])) {
      throw new Error('CycloneDX "components" is not an array');
    }
    walkCycloneDx(out, doc['components'], 0);
    return out;
  }
  if (typeof doc['spdxVersion'] === 'string') {
    const specVersion = doc['spdxVersion'];
    if (specVersion !== 'SPDX-2.3' && specVersion !== 'SPDX-2.2') {
      throw new Error(`unsupported spdxVersion "${specVersion}" (SPDX-2.3 JSON is supported)`);
    }
    const out: SbomPackages = { format: 'SPDX', specVersion, packages: [], skipped: [] };
    const packages = doc['packages'] ?? [];
    if (!Array.isArray(packages)) throw new Error('SPDX "packages" is not an array');
    for (const p of packages as unknown[]) {
      if (!isObject(p)) continue;
      const ref = typeof p['SPDXID'] === 'string' ? p['SPDXID'] : '?';
      const refs = Array.isArray(p['externalRefs']) ? (p['externalRefs'] as unknown[]) : [];
      const purls = refs
        .filter(isObject)
        .filter((r) => r['referenceType'] === 'purl' && typeof r['referenceLocator'] === 'string')
        .map((r) => r['referenceLocator'] as string);
      if (purls.length === 0) out.skipped.push({ ref, reason: 'no purl' });
      for (const purl of purls) collect(out, purl, ref);
    }
    return out;
  }
  throw new Error(
    'neither a CycloneDX nor an SPDX JSON document (no "bomFormat" or "spdxVersion")',
  );
}
