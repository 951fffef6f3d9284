/**
 * The covered results of the scan service (`controllers/scans/service.ts`), by manifest digest:
 * written only by the service when a scan coverage asked for ends, read by coverage and
 * findings. Inventories live here and in the scanner's layer cache, never in etcd. Listeners
 * hear about every change so the findings controller can re-match at once.
 */
import type { ScanOutcome } from '../scanner/types.ts';

export interface ImageScanRecord {
  /** Manifest digest (`sha256:…`) of the image as the pods run it. */
  digest: string;
  /** What was scanned: `registry/repository@digest`. */
  reference: string;
  scannedAt: Date;
  outcome: ScanOutcome;
}

export class ImageInventoryStore {
  private readonly records = new Map<string, ImageScanRecord>();
  private readonly listeners: ((digest: string) => void)[] = [];

  get(digest: string): ImageScanRecord | undefined {
    return this.records.get(digest);
  }

  set(record: ImageScanRecord): void {
    this.records.set(record.digest, record);
    this.notify(record.digest);
  }

  delete(digest: string): void {
    if (this.records.delete(digest)) this.notify(digest);
  }

  get size(): number {
    return this.records.size;
  }

  digests(): string[] {
    return [...this.records.keys()];
  }

  /** Calls `listener(digest)` after every set or delete. */
  onChange(listener: (digest: string) => void): void {
    this.listeners.push(listener);
  }

  private notify(digest: string): void {
    for (const l of this.listeners) l(digest);
  }
}
