/**
 * Wires the product's controllers into a manager. Each area (coverage, findings, assessments)
 * registers its informers and controllers through a `setup…(deps)` function; the CLI and the
 * integration tests call {@link setupControllers} with the same dependencies.
 */
import { setupAssessments } from './assessments/index.ts';
import { setupCoverage } from './coverage/index.ts';
import type { ControllerDeps, ControllerSetup } from './deps.ts';
import { setupFindings } from './findings/index.ts';
import { ImageInventoryStore } from './image-inventories.ts';
import { setupVulnDbStatus } from './vulndb/status.ts';

export function defaultDeps(
  deps: Omit<ControllerDeps, 'images'> & { images?: ImageInventoryStore },
): ControllerDeps {
  return { ...deps, images: deps.images ?? new ImageInventoryStore() };
}

/** Every controller of the product, in the order they are registered. */
export const SETUPS: readonly ControllerSetup[] = [
  setupCoverage,
  setupFindings,
  setupAssessments,
  (deps) => void setupVulnDbStatus(deps),
];

export function setupControllers(deps: ControllerDeps): void {
  for (const setup of SETUPS) setup(deps);
}
