/**
 * Upgrade from the Finding custom resource (CRD findings.kubeinspector.io, group
 * kubeinspector.io) to the findings store: run once by the lease holder when it opens the
 * store, before the controllers start.
 *
 * Every Finding object is copied into the store (group findings.kubeinspector.io) with its
 * labels, annotations, ownerReferences, spec.attributes and whole status — status, severity,
 * firstObservedAt, lastObservedAt, updatedAt — so the lifecycle (CLOSED, reopen window,
 * retention) carries on where it was. Writes are upserts in pages, so an import interrupted
 * half-way is simply run again. When every object is in, the store records it (marker
 * `legacy-finding-crd-import`) and the old CRD is deleted, which deletes its objects and frees
 * their bytes in etcd. A later start finds the marker and only makes sure the CRD is gone.
 */
import type { Logger } from 'pino';
import { FINDINGS_API_VERSION } from '../../api/v1alpha1/common.ts';
import { legacyFindings } from '../../api/v1alpha1/resources.ts';
import type { BatchWrite, FindingStore, StoredFinding } from '../../findings-store/store.ts';
import { remove } from '../../kube/apply.ts';
import { isNotFound, type KubeClient } from '../../kube/client.ts';
import {
  collectionPath,
  type KubeObject,
  type ObjectList,
  type ResourceType,
} from '../../kube/resources.ts';

export const LEGACY_IMPORT_MARKER = 'legacy-finding-crd-import';
export const LEGACY_CRD_NAME = 'findings.kubeinspector.io';

const crds: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
};

const PAGE = 500;

/** The store's copy of a Finding custom resource. Pure. */
export function importedFinding(legacy: KubeObject): StoredFinding {
  const m = legacy.metadata;
  const metadata: Record<string, unknown> = {
    name: m.name,
    namespace: m.namespace,
    ...(m.labels !== undefined ? { labels: m.labels } : {}),
    ...(m.annotations !== undefined ? { annotations: m.annotations } : {}),
    ...(m.ownerReferences !== undefined ? { ownerReferences: m.ownerReferences } : {}),
  };
  const out: Record<string, unknown> = {
    apiVersion: FINDINGS_API_VERSION,
    kind: 'Finding',
    metadata,
  };
  if (legacy.spec !== undefined) out.spec = legacy.spec;
  if (legacy.status !== undefined) out.status = legacy.status;
  return out as unknown as StoredFinding;
}

async function legacyCrdExists(client: KubeClient): Promise<boolean> {
  try {
    await client.get(`${collectionPath(crds)}/${LEGACY_CRD_NAME}`);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Copies every Finding custom resource into the store, page by page; returns how many. */
async function copyAll(client: KubeClient, store: FindingStore): Promise<number> {
  let token: string | undefined;
  let count = 0;
  do {
    const page: ObjectList<KubeObject> = await client.get(collectionPath(legacyFindings), {
      query: { limit: PAGE, continue: token },
    });
    const writes: BatchWrite[] = page.items.map((f) => ({
      op: 'upsert',
      finding: importedFinding(f),
    }));
    if (writes.length > 0) await store.batch(writes);
    count += writes.length;
    token = page.metadata.continue || undefined;
  } while (token !== undefined);
  return count;
}

/** Imports the Finding custom resources once, then deletes their CRD. */
export async function importLegacyFindings(
  client: KubeClient,
  store: FindingStore,
  log: Logger,
): Promise<void> {
  const done = await store.marker(LEGACY_IMPORT_MARKER);
  if (!(await legacyCrdExists(client))) {
    if (done === undefined) await store.setMarker(LEGACY_IMPORT_MARKER, Date.now());
    return;
  }
  if (done === undefined) {
    const started = Date.now();
    const count = await copyAll(client, store);
    await store.setMarker(LEGACY_IMPORT_MARKER, Date.now());
    log.info(
      { findings: count, seconds: (Date.now() - started) / 1000 },
      'imported the Finding custom resources into the findings store',
    );
  }
  await remove(client, crds, LEGACY_CRD_NAME);
  log.info(
    { crd: LEGACY_CRD_NAME },
    'deleted the Finding CustomResourceDefinition of earlier versions (its objects are in the findings store)',
  );
}
