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

export interface FileAnalysis {
  packages?: RawPackage[];
  osRelease?: OsRelease;
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
