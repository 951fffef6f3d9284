// Moves every finding from one store to another (SQLite to PostgreSQL, or back): what
// `kube-inspector findings-store copy` runs while the controller is stopped. Kept: names,
// labels, annotations, ownerReferences, managedFields, spec (people's attributes) and status
// (lifecycle: status, first and last observation, suppression), each covered resource's last
// evaluation (so lastObservedAt is served as before) and the store's markers. New: uid,
// creationTimestamp and resourceVersion (the target has its own sequence; clients relist).
import { LABELS } from '../api/v1alpha1/common.ts';
import type { FindingStore, StoredFinding } from './store.ts';

export interface CopyResult {
  findings: number;
  evaluations: number;
  markers: number;
}

function fresh(finding: StoredFinding): StoredFinding {
  const {
    uid: _uid,
    resourceVersion: _rv,
    creationTimestamp: _created,
    generation: _generation,
    ...metadata
  } = finding.metadata;
  return { ...finding, metadata };
}

/**
 * Copies everything; refuses a target that already holds findings. `markers` names the markers
 * to carry over (one-off migrations that must not run again after the copy).
 */
export async function copyFindings(
  from: FindingStore,
  to: FindingStore,
  markers: readonly string[],
  onProgress: (copied: number) => void = () => undefined,
): Promise<CopyResult> {
  const existing = await to.count({});
  if (existing > 0)
    throw new Error(`the target store already holds ${existing} findings: copy into an empty one`);
  const { pages } = await from.listPages({});
  let findings = 0;
  const covered = new Set<string>();
  for await (const page of pages) {
    await to.batch(page.map((f) => ({ op: 'create' as const, finding: fresh(f) })));
    for (const f of page) {
      const resource = f.metadata.labels?.[LABELS.coveredResource];
      if (resource !== undefined) covered.add(resource);
    }
    findings += page.length;
    onProgress(findings);
  }
  let evaluations = 0;
  for (const resource of covered) {
    const at = await from.lastEvaluation(resource);
    if (at === undefined) continue;
    await to.recordEvaluation(resource, at);
    evaluations++;
  }
  let copiedMarkers = 0;
  for (const name of markers) {
    const value = await from.marker(name);
    if (value === undefined) continue;
    await to.setMarker(name, value);
    copiedMarkers++;
  }
  const copied = await to.count({});
  if (copied !== findings)
    throw new Error(`copied ${findings} findings but the target holds ${copied}`);
  return { findings, evaluations, markers: copiedMarkers };
}
