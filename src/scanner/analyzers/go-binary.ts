/**
 * Go binaries: module build info read from the `.go.buildinfo` blob of ELF executables
 * (Go 1.18+ inline format), found by streaming the file — no section table needed, nothing
 * buffered but a small window around the blob.
 */
import type { RawPackage } from '../types.ts';
import type { Analyzer, FileAnalysis, StreamingAnalysis } from './analyzer.ts';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF = Buffer.from('\x7fELF', 'latin1');
const HEADER = 32;
const MAX_BLOB = 1024 * 1024;

function readVarint(buf: Buffer, pos: number): [number, number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

/** Normalises a Go toolchain version: `go1.22.1` → `v1.22.1`, `go1.21` → `v1.21.0`, `go1.22rc1` → `v1.22.0-rc1`. */
export function goToolchainVersion(v: string): string | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta)\d+)?/.exec(v);
  if (m === null) return undefined;
  return `v${m[1]}.${m[2]}.${m[3] ?? '0'}${m[4] === undefined ? '' : `-${m[4]}`}`;
}

/** Parses the blob that starts at the magic; undefined when more bytes are needed. */
export function parseBuildInfo(
  blob: Buffer,
): { goVersion: string; modInfo: string } | 'unsupported' | undefined {
  if (blob.length < HEADER) return undefined;
  const flags = blob[15]!;
  if ((flags & 0x2) === 0) return 'unsupported'; // pre-1.18 pointer format
  const v = readVarint(blob, HEADER);
  if (v === undefined) return blob.length >= MAX_BLOB ? 'unsupported' : undefined;
  const [vlen, vpos] = v;
  const m = readVarint(blob, vpos + vlen);
  if (m === undefined) return blob.length >= MAX_BLOB ? 'unsupported' : undefined;
  const [mlen, mpos] = m;
  if (mpos + mlen > blob.length) return mpos + mlen > MAX_BLOB ? 'unsupported' : undefined;
  const goVersion = blob.toString('utf8', vpos, vpos + vlen);
  let modInfo = blob.toString('latin1', mpos, mpos + mlen);
  // The module info is framed by two 16-byte sentinels.
  if (modInfo.length >= 33 && modInfo[modInfo.length - 17] === '\n')
    modInfo = modInfo.slice(16, -16);
  return { goVersion, modInfo: Buffer.from(modInfo, 'latin1').toString('utf8') };
}

/** Turns build info into packages: the standard library, the main module and its dependencies. */
export function buildInfoPackages(goVersion: string, modInfo: string): RawPackage[] {
  const out: RawPackage[] = [];
  const std = goToolchainVersion(goVersion);
  if (std !== undefined) out.push({ type: 'golang', name: 'stdlib', version: std });
  const lines = modInfo.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const parts = lines[i]!.split('\t');
    if (parts[0] !== 'mod' && parts[0] !== 'dep') continue;
    let path = parts[1];
    let version = parts[2];
    const next = lines[i + 1]?.split('\t');
    if (next?.[0] === '=>') {
      // A replaced module: the replacement is what is compiled in.
      if (next[2] !== undefined && next[2] !== '') {
        path = next[1];
        version = next[2];
      }
      i++;
    }
    if (path === undefined || version === undefined || version === '' || version === '(devel)')
      continue;
    out.push({ type: 'golang', name: path, version });
  }
  return out;
}

class BuildInfoScanner implements StreamingAnalysis {
  #first = true;
  #tail = Buffer.alloc(0);
  #blob: Buffer[] | undefined;
  #blobBytes = 0;
  #result: FileAnalysis | undefined;
  #done = false;

  write(chunk: Buffer): boolean {
    if (this.#done) return false;
    if (this.#first) {
      this.#first = false;
      if (chunk.length < 4 || !chunk.subarray(0, 4).equals(ELF)) {
        this.#done = true;
        return false;
      }
    }
    if (this.#blob !== undefined) return this.#collect(chunk);
    // The magic may straddle two chunks: look in the seam (old tail + new head) first, then
    // in the chunk itself, without copying the chunk.
    if (this.#tail.length > 0) {
      const seam = Buffer.concat([this.#tail, chunk.subarray(0, MAGIC.length - 1)]);
      const at = seam.indexOf(MAGIC);
      if (at >= 0 && at < this.#tail.length) {
        this.#blob = [];
        return this.#collect(Buffer.concat([seam.subarray(at, this.#tail.length), chunk]));
      }
    }
    const at = chunk.indexOf(MAGIC);
    if (at >= 0) {
      this.#blob = [];
      return this.#collect(chunk.subarray(at));
    }
    this.#tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (MAGIC.length - 1))));
    return true;
  }

  #collect(chunk: Buffer): boolean {
    this.#blob!.push(chunk);
    this.#blobBytes += chunk.length;
    const blob = Buffer.concat(this.#blob!);
    this.#blob = [blob];
    const parsed = parseBuildInfo(blob.subarray(0, MAX_BLOB));
    if (parsed === undefined && this.#blobBytes < MAX_BLOB) return true;
    this.#done = true;
    if (parsed !== undefined && parsed !== 'unsupported') {
      this.#result = { packages: buildInfoPackages(parsed.goVersion, parsed.modInfo) };
    }
    return false;
  }

  end(): FileAnalysis | undefined {
    if (this.#result === undefined && this.#blob !== undefined && !this.#done) {
      const parsed = parseBuildInfo(Buffer.concat(this.#blob));
      if (parsed !== undefined && parsed !== 'unsupported') {
        this.#result = { packages: buildInfoPackages(parsed.goVersion, parsed.modInfo) };
      }
    }
    return this.#result;
  }
}

export const goBinaryAnalyzer: Analyzer = {
  name: 'go-binary',
  version: 1,
  matches: (f) => (f.mode & 0o111) !== 0 && f.size >= 1024,
  stream: () => new BuildInfoScanner(),
};
