/**
 * Code scanning as a file analyzer of the image scanner: it sees the application files of
 * each layer in the same streaming pass that reads package databases, buffers each (up to a
 * size cap), skips binary content, and returns rule matches without the matched text.
 */
import type {
  Analyzer,
  FileAnalysis,
  FileFacts,
  StreamingAnalysis,
} from '../scanner/analyzers/analyzer.ts';
import { excludedBecause, looksBinary, BINARY_SNIFF_BYTES } from './files.ts';
import { findSecrets } from './secrets.ts';

/** Largest file read by default; larger application files are counted and skipped. */
export const DEFAULT_MAX_CODE_FILE_BYTES = 1024 * 1024;

export interface CodeAnalyzerOptions {
  /** Largest file read; larger ones are skipped (counted in the layer's code stats). */
  maxFileBytes?: number;
}

function skipped(reason: 'binary' | 'size'): FileAnalysis {
  return { code: { matches: [], bytes: 0, skipped: reason } };
}

function reader(): StreamingAnalysis {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let binary = false;
  return {
    write(chunk) {
      // The tar parser hands out views of its own buffers: keep copies.
      if (
        bytes < BINARY_SNIFF_BYTES &&
        looksBinary(chunk.subarray(0, BINARY_SNIFF_BYTES - bytes))
      ) {
        binary = true;
        chunks.length = 0;
        return false;
      }
      chunks.push(Buffer.from(chunk));
      bytes += chunk.length;
      return true;
    },
    end() {
      if (binary) return skipped('binary');
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
      chunks.length = 0;
      return { code: { matches: findSecrets(data.toString('latin1')), bytes } };
    },
  };
}

/** The secret-scanning analyzer (`secret`), for `scanImage({ analyzers: [...ANALYZERS, it] })`. */
export function secretAnalyzer(options: CodeAnalyzerOptions = {}): Analyzer {
  const max = options.maxFileBytes ?? DEFAULT_MAX_CODE_FILE_BYTES;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`code scanning: maxFileBytes must be a positive integer, got ${max}`);
  }
  return {
    name: 'secret',
    version: 1,
    cacheKey: `max=${max}`,
    perLayer: true,
    matches: (facts: FileFacts) => facts.size > 0 && excludedBecause(facts.path) === undefined,
    stream(facts: FileFacts): StreamingAnalysis {
      if (facts.size > max) return { write: () => false, end: () => skipped('size') };
      return reader();
    },
  };
}
