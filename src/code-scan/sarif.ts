/**
 * Code-scanning results as SARIF 2.1.0, the format CI systems (GitHub code scanning, GitLab,
 * Azure DevOps) read: one rule per detector that matched, one result per match, located by
 * the file path in the image. Secrets appear only redacted, with their fingerprint as the
 * result's partial fingerprint so CI systems track the same secret across runs; a code flaw
 * carries its line fingerprint the same way. Rules carry their CWE ids as tags
 * (`external/cwe/cwe-78`, GitHub's spelling, and `CWE-78`).
 */
import type { CodeFinding } from '../scanner/types.ts';
import { codeRule, type CodeRuleInfo } from './flaws.ts';
import type { RuleSeverity } from './rules.ts';

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

function tags(r: CodeRuleInfo): string[] {
  const cwe = r.cwes.map((c) => `external/cwe/cwe-${c.replace(/^CWE-/, '')}`);
  return ['security', r.kind, ...(r.language === undefined ? [] : [r.language]), ...cwe, ...r.cwes];
}

function sarifRule(r: CodeRuleInfo): unknown {
  return {
    id: r.id,
    name: r.title.replace(/[^A-Za-z0-9]+/g, ''),
    shortDescription: { text: r.title },
    fullDescription: {
      text:
        r.kind === 'secret'
          ? `${r.title} hardcoded in a file of the image.`
          : `${r.title} in ${r.language} code of the image (${r.cwes.join(', ')}).`,
    },
    help: { text: r.remediation },
    defaultConfiguration: { level: LEVEL[r.severity] },
    properties: {
      tags: tags(r),
      'security-severity': SECURITY_SEVERITY[r.severity],
      // Code-flaw rules are patterns without data flow: some matches are harmless.
      precision: r.id === 'generic-secret-assignment' || r.kind === 'code-flaw' ? 'medium' : 'high',
    },
  };
}

function message(r: CodeRuleInfo, f: CodeFinding): string {
  const layer = f.layerDigest === undefined ? '' : `, layer ${f.layerDigest}`;
  if (r.kind === 'code-flaw') return `${r.title} in /${f.path} line ${f.line}${layer}.`;
  return `${r.title} (${f.redacted ?? 'redacted'}) in /${f.path} line ${f.line}${layer}.`;
}

export function toSarif(findings: readonly CodeFinding[], options: SarifOptions): unknown {
  const ruleIds = [...new Set(findings.map((f) => f.ruleId))].filter(
    (id) => codeRule(id) !== undefined,
  );
  const rules = ruleIds.map((id) => sarifRule(codeRule(id)!));
  const results = findings.flatMap((f) => {
    const index = ruleIds.indexOf(f.ruleId);
    if (index < 0) return [];
    const r = codeRule(f.ruleId)!;
    return [
      {
        ruleId: f.ruleId,
        ruleIndex: index,
        level: LEVEL[r.severity],
        message: { text: message(r, f) },
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
          : {
              partialFingerprints: {
                [r.kind === 'secret' ? 'kubeinspectorSecret/v1' : 'kubeinspectorFlaw/v1']:
                  f.fingerprint,
              },
            }),
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
