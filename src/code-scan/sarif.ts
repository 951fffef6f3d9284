/**
 * Code-scanning results as SARIF 2.1.0, the format CI systems (GitHub code scanning, GitLab,
 * Azure DevOps) read: one rule per detector that matched, one result per match, located by
 * the file path in the image. Secrets appear only redacted, with their fingerprint as the
 * result's partial fingerprint so CI systems track the same secret across runs.
 */
import type { CodeFinding } from '../scanner/types.ts';
import { secretRule, type RuleSeverity } from './rules.ts';

const LEVEL: Record<RuleSeverity, 'error' | 'warning' | 'note'> = {
  CRITICAL: 'error',
  HIGH: 'error',
  MEDIUM: 'warning',
  LOW: 'note',
};

/** GitHub's `security-severity` property: a CVSS-like number per severity. */
const SECURITY_SEVERITY: Record<RuleSeverity, string> = {
  CRITICAL: '9.5',
  HIGH: '8.0',
  MEDIUM: '5.5',
  LOW: '2.0',
};

export interface SarifOptions {
  toolVersion: string;
  /** The scanned image or directory, recorded as the run's automation id. */
  target: string;
}

export function toSarif(findings: readonly CodeFinding[], options: SarifOptions): unknown {
  const ruleIds = [...new Set(findings.map((f) => f.ruleId))].filter(
    (id) => secretRule(id) !== undefined,
  );
  const rules = ruleIds.map((id) => {
    const r = secretRule(id)!;
    return {
      id: r.id,
      name: r.title.replace(/[^A-Za-z0-9]+/g, ''),
      shortDescription: { text: r.title },
      fullDescription: { text: `${r.title} hardcoded in a file of the image.` },
      help: { text: r.remediation },
      defaultConfiguration: { level: LEVEL[r.severity] },
      properties: {
        tags: ['security', 'secret', ...r.cwes],
        'security-severity': SECURITY_SEVERITY[r.severity],
        precision: r.id === 'generic-secret-assignment' ? 'medium' : 'high',
      },
    };
  });
  const results = findings.flatMap((f) => {
    const index = ruleIds.indexOf(f.ruleId);
    if (index < 0) return [];
    const r = secretRule(f.ruleId)!;
    return [
      {
        ruleId: f.ruleId,
        ruleIndex: index,
        level: LEVEL[r.severity],
        message: {
          text: `${r.title} (${f.redacted ?? 'redacted'}) in /${f.path} line ${f.line}${
            f.layerDigest === undefined ? '' : `, layer ${f.layerDigest}`
          }.`,
        },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: f.path },
              region: { startLine: f.line, startColumn: f.column, endLine: f.endLine },
            },
          },
        ],
        ...(f.fingerprint === undefined
          ? {}
          : { partialFingerprints: { 'kubeinspectorSecret/v1': f.fingerprint } }),
        ...(f.layerDigest === undefined ? {} : { properties: { layerDigest: f.layerDigest } }),
      },
    ];
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kube-inspector',
            version: options.toolVersion,
            informationUri: 'https://github.com/kube-inspector/kube-inspector',
            rules,
          },
        },
        automationDetails: { id: `kube-inspector/${options.target}` },
        results,
      },
    ],
  };
}
