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
import { findFlawsInFile } from './flaws.ts';
import { findSecrets } from './secrets.ts';

/** Largest file read by default; larger application files are counted and skipped. */
export const DEFAULT_MAX_CODE_FILE_BYTES = 1024 * 1024;

export interface CodeAnalyzerOptions {
  /** Largest file read; larger ones are skipped (counted in the layer's code stats). */
  maxFileBytes?: number;
  /** Look for hardcoded secrets (default true). */
  secrets?: boolean;
  /** Look for code flaws in Python, JavaScript/TypeScript and shell files (default true). */
  flaws?: boolean;
}

function skipped(reason: 'binary' | 'size'): FileAnalysis {
  return { code: { matches: [], bytes: 0, skipped: reason } };
}

function reader(path: string, secrets: boolean, flaws: boolean): StreamingAnalysis {
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
      const text = data.toString('latin1');
      const matches = [
        ...(secrets ? findSecrets(text) : []),
        ...(flaws ? findFlawsInFile(path, text) : []),
      ];
      if (secrets && flaws) matches.sort((a, b) => a.line - b.line || a.column - b.column);
      return { code: { matches, bytes } };
    },
  };
}

/**
 * The code-scanning analyzer (`code`: secrets and code flaws, either or both), for
 * `scanImage({ analyzers: [...ANALYZERS, it] })`.
 */
export function codeAnalyzer(options: CodeAnalyzerOptions = {}): Analyzer {
  const max = options.maxFileBytes ?? DEFAULT_MAX_CODE_FILE_BYTES;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`code scanning: maxFileBytes must be a positive integer, got ${max}`);
  }
  const secrets = options.secrets ?? true;
  const flaws = options.flaws ?? true;
  if (!secrets && !flaws)
    throw new RangeError('code scanning: neither secrets nor flaws asked for');
  return {
    name: 'code',
    version: 2,
    cacheKey: `max=${max}${secrets ? ',secrets' : ''}${flaws ? ',flaws' : ''}`,
    perLayer: true,
    matches: (facts: FileFacts) => facts.size > 0 && excludedBecause(facts.path) === undefined,
    stream(facts: FileFacts): StreamingAnalysis {
      if (facts.size > max) return { write: () => false, end: () => skipped('size') };
      return reader(facts.path, secrets, flaws);
    },
  };
}

/** The analyzer with secret rules only. */
export function secretAnalyzer(options: Omit<CodeAnalyzerOptions, 'flaws'> = {}): Analyzer {
  return codeAnalyzer({ ...options, flaws: false });
}
