/**
 * What every controller area is given: the manager, the clock, the scanner, the vulnerability
 * database, the findings store and the store of image scan results. The areas import this file, never the
 * aggregator in index.ts, so the aggregator and the contract are two files and no circle.
 */
import type { Logger } from 'pino';
import type { FindingStore } from '../findings-store/store.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Manager } from '../runtime/manager.ts';
import type { ImageScanner } from '../scanner/index.ts';
import type { Enrichment } from '../vulndb/enrichment.ts';
import type { DatabaseSource } from '../vulndb/source.ts';
import type { ImageInventoryStore } from './image-inventories.ts';

export interface ControllerDeps {
  manager: Manager;
  log: Logger;
  clock: Clock;
  /** The administrator namespace: continuous findings and the controller's own objects. */
  adminNamespace: string;
  /** Scans images for the scan service. */
  scanner: ImageScanner;
  /** The vulnerability database; undefined when none is configured (nothing is matched). */
  database: DatabaseSource | undefined;
  /** EPSS scores and known-exploited ids (--epss, --kev); undefined when none is configured. */
  enrichment?: Enrichment;
  /**
   * Where findings live (the findings API serves the same store): controllers read and write
   * findings here in-process, never through HTTP. Used only while the controllers run (the
   * lease holder opens it).
   */
  findingsStore: FindingStore;
  /** Covered image scan results: the scan service writes them, coverage and findings read. */
  images: ImageInventoryStore;
  /** Images scanned at the same time (default 4). */
  scanConcurrency?: number;
  /** How long a failed image scan waits before it is tried again (default 10 minutes). */
  retryFailedScansMs?: number;
  /** Most continuous findings per covered resource (default 1000; highest severities kept). */
  maxFindingsPerResource?: number;
}

export type ControllerSetup = (deps: ControllerDeps) => void;
