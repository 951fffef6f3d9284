/**
 * Per-layer results on disk, keyed by layer digest, analyzer versions and the limits that
 * change results. Any file may be deleted at any time; a damaged entry is a miss.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ANALYZERS_VERSION } from './analyzers/index.ts';
import type { LayerAnalysis } from './layer.ts';
import type { ScanLimits } from './types.ts';

const FORMAT = 1;
const SHA256 = /^sha256:([a-f0-9]{64})$/;

export class LayerCache {
  readonly #dir: string;

  /** `dir` is created on first write. */
  constructor(
    dir: string,
    limits: Pick<ScanLimits, 'maxFileBytes' | 'maxArchiveBytes'>,
    analyzersVersion = ANALYZERS_VERSION,
  ) {
    const key = createHash('sha256')
      .update(`${FORMAT}|${analyzersVersion}|${limits.maxFileBytes}|${limits.maxArchiveBytes}`)
      .digest('hex')
      .slice(0, 16);
    this.#dir = join(dir, 'layers', key);
  }

  #file(digest: string): string | undefined {
    const m = SHA256.exec(digest);
    return m === null ? undefined : join(this.#dir, `${m[1]}.json`);
  }

  async get(digest: string): Promise<LayerAnalysis | undefined> {
    const file = this.#file(digest);
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as { digest?: string; analysis?: LayerAnalysis };
      if (
        doc.digest !== digest ||
        doc.analysis === undefined ||
        !Array.isArray(doc.analysis.files)
      ) {
        throw new Error('mismatched entry');
      }
      return doc.analysis;
    } catch {
      await rm(file, { force: true });
      return undefined;
    }
  }

  async put(digest: string, analysis: LayerAnalysis): Promise<void> {
    const file = this.#file(digest);
    if (file === undefined) return;
    await mkdir(this.#dir, { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify({ digest, analysis }));
    await rename(tmp, file);
  }
}
