/**
 * An inventory as an SBOM: CycloneDX 1.6 JSON and SPDX 2.3 JSON. Deterministic apart from the
 * serial number/namespace and timestamp, which callers may fix.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Inventory, Package } from './types.ts';

export interface SbomOptions {
  /** ISO timestamp written into the document (default: now). */
  timestamp?: string;
  /** Tool version written into the document. */
  toolVersion?: string;
  /** Serial number (CycloneDX, a `urn:uuid:`) or document namespace seed (SPDX). */
  serial?: string;
}

/** A vulnerability to attach to a CycloneDX document, in the scanner's own terms. */
export interface SbomVulnerability {
  id: string;
  purl: string;
  severity: string;
  description?: string;
  fixedVersion?: string;
  cvss?: { version: string; vector: string; baseScore: number };
}

function componentName(p: Package): { group?: string; name: string } {
  if (p.type === 'maven' && p.namespace !== undefined) return { group: p.namespace, name: p.name };
  return { name: p.name };
}

function subject(inv: Inventory): { name: string; version?: string } {
  if (inv.image !== undefined)
    return { name: `${inv.image.registry}/${inv.image.repository}`, version: inv.image.digest };
  return { name: inv.target };
}

const CDX_SEVERITY: Readonly<Record<string, string>> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  INFORMATIONAL: 'info',
  UNTRIAGED: 'unknown',
};

// eslint-disable-next-line max-lines-per-function -- one object literal: the CycloneDX document
export function toCycloneDx(
  inv: Inventory,
  vulns: readonly SbomVulnerability[] = [],
  options: SbomOptions = {},
): object {
  const subj = subject(inv);
  const metaComponent: Record<string, unknown> = {
    type: inv.kind === 'image' ? 'container' : 'file',
    'bom-ref': 'subject',
    name: subj.name,
  };
  if (subj.version !== undefined) metaComponent.version = subj.version;
  const components: Record<string, unknown>[] = [];
  if (inv.os !== undefined) {
    components.push({
      type: 'operating-system',
      'bom-ref': `os:${inv.os.family}@${inv.os.version}`,
      name: inv.os.family,
      version: inv.os.version,
      description: inv.os.prettyName ?? inv.os.name,
    });
  }
  const seen = new Set<string>();
  for (const p of inv.packages) {
    if (seen.has(p.purl)) continue;
    seen.add(p.purl);
    const { group, name } = componentName(p);
    const c: Record<string, unknown> = {
      type: 'library',
      'bom-ref': p.purl,
      name,
      version: p.version,
      purl: p.purl,
    };
    if (group !== undefined) c.group = group;
    const props = [{ name: 'kubeinspector:file_path', value: p.filePath }];
    if (p.layerDigest !== undefined)
      props.push({ name: 'kubeinspector:layer_digest', value: p.layerDigest });
    if (p.sourceName !== undefined)
      props.push({ name: 'kubeinspector:source_name', value: p.sourceName });
    c.properties = props;
    components.push(c);
  }
  const doc: Record<string, unknown> = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: options.serial ?? `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: options.timestamp ?? new Date().toISOString(),
      tools: {
        components: [
          { type: 'application', name: 'kube-inspector', version: options.toolVersion ?? '0.0.0' },
        ],
      },
      component: metaComponent,
    },
    components,
    dependencies: [{ ref: 'subject', dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
  if (vulns.length > 0) {
    doc.vulnerabilities = vulns
      .filter((v) => seen.has(v.purl))
      .map((v) => {
        const rating: Record<string, unknown> = { severity: CDX_SEVERITY[v.severity] ?? 'unknown' };
        if (v.cvss !== undefined) {
          rating.score = v.cvss.baseScore;
          rating.vector = v.cvss.vector;
          rating.method = v.cvss.version.startsWith('4')
            ? 'CVSSv4'
            : v.cvss.version.startsWith('3.1')
              ? 'CVSSv31'
              : v.cvss.version.startsWith('3')
                ? 'CVSSv3'
                : 'CVSSv2';
        }
        const out: Record<string, unknown> = {
          id: v.id,
          ratings: [rating],
          affects: [{ ref: v.purl }],
        };
        if (v.description !== undefined && v.description !== '') out.description = v.description;
        if (v.fixedVersion !== undefined) out.recommendation = `Upgrade to ${v.fixedVersion}`;
        return out;
      });
  }
  return doc;
}

function spdxId(s: string): string {
  return `SPDXRef-${s.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
}

// eslint-disable-next-line max-lines-per-function -- one object literal: the SPDX document
export function toSpdx(inv: Inventory, options: SbomOptions = {}): object {
  const subj = subject(inv);
  const created = (options.timestamp ?? new Date().toISOString()).replace(/\.\d+Z$/, 'Z');
  const seed = options.serial ?? randomUUID();
  const rootId = 'SPDXRef-Subject';
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: rootId,
      name: subj.name,
      versionInfo: subj.version ?? 'NOASSERTION',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: inv.kind === 'image' ? 'CONTAINER' : 'FILE',
    },
  ];
  const relationships: Record<string, unknown>[] = [
    {
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: rootId,
    },
  ];
  if (inv.os !== undefined) {
    packages.push({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: inv.os.family,
      versionInfo: inv.os.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'OPERATING-SYSTEM',
    });
    relationships.push({
      spdxElementId: rootId,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: 'SPDXRef-OperatingSystem',
    });
  }
  const ids = new Set<string>();
  for (const p of inv.packages) {
    const id = spdxId(
      `Package-${p.type}-${createHash('sha256').update(p.purl).digest('hex').slice(0, 16)}`,
    );
    if (ids.has(id)) continue;
    ids.add(id);
    packages.push({
      SPDXID: id,
      name: p.type === 'maven' && p.namespace !== undefined ? `${p.namespace}:${p.name}` : p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      sourceInfo: `read from ${p.filePath}${p.layerDigest === undefined ? '' : ` in layer ${p.layerDigest}`}`,
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl },
      ],
    });
    relationships.push({
      spdxElementId: rootId,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: id,
    });
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subj.name,
    documentNamespace: `https://kubeinspector.io/spdx/${encodeURIComponent(subj.name)}-${seed}`,
    creationInfo: { created, creators: [`Tool: kube-inspector-${options.toolVersion ?? '0.0.0'}`] },
    packages,
    relationships,
  };
}
