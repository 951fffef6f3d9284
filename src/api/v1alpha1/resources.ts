// The product's words as the API client uses them: the resource of every kind, the field
// managers the product writes under, and the name of the ScanConfiguration in effect. The
// controllers, the agent and the CLI read them here.
import { GROUP, VERSION } from './common.ts';
import { KINDS } from './kinds.ts';

export { SCAN_CONFIGURATION_NAME } from './scan-configuration.ts';

/** A resource as the API client addresses it (the shape of the client's ResourceType). */
export interface ApiResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

function resourceOf(kind: string): ApiResource {
  const info = KINDS.find((k) => k.kind === kind);
  if (info === undefined) throw new Error(`unknown kind ${kind}`);
  return {
    group: info.group ?? GROUP,
    version: VERSION,
    plural: info.plural,
    kind: info.kind,
    namespaced: info.scope === 'Namespaced',
  };
}

/** The resources of the product's kinds (Finding: findings.kubeinspector.io, aggregated). */
export const kinds = {
  scanConfigurations: resourceOf('ScanConfiguration'),
  coveredResources: resourceOf('CoveredResource'),
  nodeInventories: resourceOf('NodeInventory'),
  findings: resourceOf('Finding'),
  suppressionRules: resourceOf('SuppressionRule'),
  assessmentTargets: resourceOf('AssessmentTarget'),
  assessmentTemplates: resourceOf('AssessmentTemplate'),
  assessmentRuns: resourceOf('AssessmentRun'),
} as const;

/**
 * The Finding custom resource of earlier versions (CRD findings.kubeinspector.io, group
 * kubeinspector.io): read once at start to import its objects into the findings store.
 */
export const legacyFindings: ApiResource = {
  group: GROUP,
  version: VERSION,
  plural: 'findings',
  kind: 'Finding',
  namespaced: true,
};

/**
 * Every field manager the product writes under. Server-side apply keeps what each one owns
 * apart; the controller's caches keep the managedFields entries of these (and only these).
 */
export const FIELD_MANAGERS = {
  /**
   * The controller's default manager: coverage (CoveredResource labels and status,
   * ScanConfiguration status but its `vulnerabilityDatabase`), Finding objects, and the runs a template's schedule creates.
   */
  coverage: 'kube-inspector',
  /** A CoveredResource's `status.findingCounts`, written by the findings controller. */
  findings: 'kube-inspector-findings',
  /** AssessmentTarget, AssessmentTemplate and AssessmentRun status. */
  templates: 'kube-inspector-templates',
  /** `spec.stop`, written on the runs a template's Replace concurrency policy stops. */
  schedule: 'kube-inspector-schedule',
  /** The SUPPRESSED status and label a SuppressionRule puts on a Finding. */
  suppression: 'kube-inspector-suppression',
  /** NodeInventory objects, written by the node agent. */
  agent: 'kube-inspector-agent',
  /** The ScanConfiguration's `status.vulnerabilityDatabase`. */
  vulndb: 'kube-inspector-vulndb',
} as const;
