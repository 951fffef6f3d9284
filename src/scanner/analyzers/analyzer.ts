/** The contract every file analyzer meets. */
import type { RawPackage, ScanLimits } from '../types.ts';

export interface FileFacts {
  /** Normalised path relative to the root, without a leading slash. */
  path: string;
  size: number;
  mode: number;
}

/** os-release key/value pairs as read from one file. */
export type OsRelease = Record<string, string>;

/** A code-scanning rule's match in one file: never the matched text itself. */
export interface CodeMatch {
  ruleId: string;
  /** 1-based; `column` counts bytes. */
  line: number;
  column: number;
  endLine: number;
  /** Secrets only: the secret masked but for its public prefix, and its fingerprint. */
  redacted?: string;
  fingerprint?: string;
}

/** What code scanning made of one file: its matches, or why it was not read. */
export interface CodeFileAnalysis {
  matches: CodeMatch[];
  /** Bytes read; 0 when skipped. */
  bytes: number;
  skipped?: 'binary' | 'size';
}

export interface FileAnalysis {
  packages?: RawPackage[];
  osRelease?: OsRelease;
  code?: CodeFileAnalysis;
  warnings?: string[];
}

/** A file that can be read at any offset (a root filesystem's file, not a layer's tar entry). */
export interface RandomAccessFile {
  size: number;
  /** Reads up to `length` bytes at `offset`; fewer only at the end of the file. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** Analysis of a file fed in chunks; `write` returns false when it needs no more data. */
export interface StreamingAnalysis {
  write(chunk: Buffer): boolean;
  end(): FileAnalysis | undefined;
}

export interface Analyzer {
  name: string;
  /** Bumped whenever the output for the same input changes: part of the layer cache key. */
  version: number;
  /**
   * Results that stand per layer (code scanning): a later layer replacing or deleting the file
   * does not hide them, because the earlier layer still ships it. Not part of the overlay.
   */
  perLayer?: boolean;
  /** Settings that change the output (a size cap): part of the layer cache key. */
  cacheKey?: string;
  matches(facts: FileFacts): boolean;
  /** Buffering analyzers: the largest file read whole; larger files are skipped with a warning. */
  maxBytes?(limits: ScanLimits): number;
  analyze?(
    data: Buffer,
    facts: FileFacts,
    limits: ScanLimits,
  ): FileAnalysis | Promise<FileAnalysis>;
  /** Streaming analyzers see every matching file chunk by chunk, with no size cap. */
  stream?(facts: FileFacts): StreamingAnalysis;
  /**
   * Streaming analyzers that need only parts of a file may also read it at chosen offsets when
   * the file allows it (a root filesystem); a layer's files are always streamed.
   */
  readAt?(facts: FileFacts, file: RandomAccessFile): Promise<FileAnalysis | undefined>;
}

/** Splits RFC 822-style stanzas (dpkg status, apk installed) separated by blank lines. */
export function* stanzas(text: string): Generator<string[]> {
  let current: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() === '') {
      if (current.length > 0) yield current;
      current = [];
    } else {
      current.push(l);
    }
  }
  if (current.length > 0) yield current;
}
