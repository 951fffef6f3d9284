/**
 * The product's resource types and the shared informers every controller uses. A Manager keeps
 * one cache per resource and selector, and the first caller's transform wins, so every area
 * creates these caches here, with the same trimming: managedFields are dropped except the
 * entries of the controller's own field managers (needed to tell what a write would change).
 */
import type { CoveredResource } from '../api/v1alpha1/covered-resource.ts';
import type { Finding } from '../api/v1alpha1/finding.ts';
import type { NodeInventory } from '../api/v1alpha1/node-inventory.ts';
import { FIELD_MANAGERS, kinds } from '../api/v1alpha1/resources.ts';
import type { ScanConfiguration } from '../api/v1alpha1/scan-configuration.ts';
import type { SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import type { Cache } from '../kube/cache.ts';
import { stripManagedFields } from '../kube/reflector.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';
import type { Manager } from '../runtime/manager.ts';

export { FIELD_MANAGERS, kinds } from '../api/v1alpha1/resources.ts';

const keepOwn = (obj: KubeObject): KubeObject =>
  stripManagedFields(obj, Object.values(FIELD_MANAGERS));

function cache<T>(m: Manager, resource: ResourceType): Cache<T & KubeObject> {
  return m.informer<KubeObject>(resource, { transform: keepOwn }) as unknown as Cache<
    T & KubeObject
  >;
}

export const informers = {
  scanConfigurations: (m: Manager): Cache<ScanConfiguration & KubeObject> =>
    cache<ScanConfiguration>(m, kinds.scanConfigurations),
  coveredResources: (m: Manager): Cache<CoveredResource & KubeObject> =>
    cache<CoveredResource>(m, kinds.coveredResources),
  nodeInventories: (m: Manager): Cache<NodeInventory & KubeObject> =>
    cache<NodeInventory>(m, kinds.nodeInventories),
  /** Findings of every namespace. */
  findings: (m: Manager): Cache<Finding & KubeObject> => cache<Finding>(m, kinds.findings),
  suppressionRules: (m: Manager): Cache<SuppressionRule & KubeObject> =>
    cache<SuppressionRule>(m, kinds.suppressionRules),
};
