/**
 * The `code` rules package of assessment runs: code scanning of what a run collected.
 *
 * - Workloads: hardcoded secrets in the pod template (environment values, commands,
 *   arguments), found by the pod-template detector; a pod that is a workload of its own (a bare
 *   or static Pod) is read from its own spec.
 * - Images: the secrets and code flaws of their application files, from a scan that read them.
 *   The run's own scans read them; an image whose scan coverage holds was made without code
 *   scanning (the ScanConfiguration's WorkloadCode scan type off) is reported as not evaluated.
 *
 * Findings are CODE_VULNERABILITY findings as in continuous code scanning (src/findings/code.ts),
 * marked with the `code` rules package.
 */
import type { Collected } from '../../assessments/selection.ts';
import { scanWorkloadTemplate } from '../../code-scan/pod-template.ts';
import { buildCodeFindings } from '../../findings/code.ts';
import type { BuiltFinding } from '../../findings/build.ts';
import { workloadId } from '../../rules/workload.ts';
import { templateObjectOf } from '../rules-packages.ts';
import type { ControllerDeps } from '../deps.ts';
import type { AssessmentCaches } from './cluster.ts';
import { imageOutcomes, imageResource, type NotEvaluated } from './cve.ts';

export interface CodeResult {
  findings: BuiltFinding[];
  notEvaluated: NotEvaluated[];
}

const marked = (built: BuiltFinding[]): BuiltFinding[] =>
  built.map((b) => ({ ...b, status: { ...b.status, rulesPackage: 'code' } }));

/** The pod-template secrets of the collected workloads. */
function workloadCode(collected: Collected, caches: AssessmentCaches): CodeResult {
  const out: CodeResult = { findings: [], notEvaluated: [] };
  for (const ref of collected.workloads) {
    const id = workloadId(ref);
    const obj = templateObjectOf(caches, ref);
    if (typeof obj === 'string') {
      out.notEvaluated.push({ id, reason: obj });
      continue;
    }
    const resource = {
      resourceType: 'WORKLOAD' as const,
      id,
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
    };
    out.findings.push(...marked(buildCodeFindings(resource, scanWorkloadTemplate(ref.kind, obj))));
  }
  return out;
}

/**
 * The code findings of what a run collected. Throws the scan service's WaitingError while
 * scans it asked for are running, as the cve package does.
 */
export function evaluateCode(
  collected: Collected,
  deps: ControllerDeps,
  caches: AssessmentCaches,
  requeue: () => void,
): CodeResult {
  const out = workloadCode(collected, caches);
  const outcomes = imageOutcomes(collected.images, deps, caches, requeue, true);
  const seen = new Set<string>();
  for (const img of collected.images) {
    const outcome = outcomes.get(img);
    if (outcome === undefined || typeof outcome === 'string') {
      out.notEvaluated.push({ id: img.reference, reason: outcome ?? 'not evaluated' });
      continue;
    }
    if (outcome.status !== 'inventory') {
      out.notEvaluated.push({ id: img.reference, reason: `${outcome.reason}: ${outcome.message}` });
      continue;
    }
    const inv = outcome.inventory;
    const digest = inv.image?.digest ?? img.digest;
    if (digest === undefined || seen.has(digest)) continue;
    seen.add(digest);
    if (inv.code === undefined) {
      out.notEvaluated.push({
        id: img.reference,
        reason:
          'scanned without code scanning: the scan coverage holds read no application files (switch on the WorkloadCode scan type to code-scan covered images)',
      });
      continue;
    }
    out.findings.push(
      ...marked(buildCodeFindings(imageResource(img, inv, digest), inv.code.findings)),
    );
  }
  return out;
}
