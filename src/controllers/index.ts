/**
 * Wires the product's controllers into a manager. Each area (coverage, findings, assessments)
 * registers its informers and controllers through a `setup…(deps)` function; the CLI and the
 * integration tests call {@link setupControllers} with the same dependencies.
 */
import type { Logger } from 'pino';
import type { Manager } from '../runtime/manager.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ImageScanner } from '../scanner/index.ts';
import type { Enrichment } from '../vulndb/enrichment.ts';
import type { DatabaseSource } from '../vulndb/source.ts';
import { setupAssessments } from './assessments/index.ts';
import { setupCoverage } from './coverage/index.ts';
import { ImageInventoryStore } from './image-inventories.ts';
import { setupFindings } from './findings/index.ts';

export interface ControllerDeps {
  manager: Manager;
  log: Logger;
  clock: Clock;
  /** The administrator namespace: continuous findings and the controller's own objects. */
  adminNamespace: string;
  /** Scans images for the coverage controller. */
  scanner: ImageScanner;
  /** The vulnerability database; undefined when none is configured (nothing is matched). */
  database: DatabaseSource | undefined;
  /** EPSS scores and known-exploited ids (--epss, --kev); undefined when none is configured. */
  enrichment?: Enrichment;
  /** Image scan results, shared by coverage (writer) and findings (reader). */
  images: ImageInventoryStore;
  /** Images scanned at the same time (default 4). */
  scanConcurrency?: number;
  /** Most continuous findings per covered resource (default 1000; highest severities kept). */
  maxFindingsPerResource?: number;
}

export type ControllerSetup = (deps: ControllerDeps) => void;

export function defaultDeps(
  deps: Omit<ControllerDeps, 'images'> & { images?: ImageInventoryStore },
): ControllerDeps {
  return { ...deps, images: deps.images ?? new ImageInventoryStore() };
}

/** Every controller of the product, in the order they are registered. */
export const SETUPS: readonly ControllerSetup[] = [setupCoverage, setupFindings, setupAssessments];

export function setupControllers(deps: ControllerDeps): void {
  for (const setup of SETUPS) setup(deps);
}
