/**
 * Go binaries: module build info read from the `.go.buildinfo` blob of ELF and PE executables
 * (Go 1.18+ inline format). Where the blob is comes from the file's headers (see go-exe.ts):
 * a streamed file is searched only in its first writable data region, a file that can be read
 * at any offset is looked up in its ELF section table first. A file whose build info cannot be
 * read (packed, old format, damaged) yields a warning naming it, never a silent nothing.
 */
import type { RawPackage } from '../types.ts';
import type { Analyzer, FileAnalysis, RandomAccessFile, StreamingAnalysis } from './analyzer.ts';
import {
  elfNamesRange,
  findElfSection,
  HEAD_BYTES,
  isExecutableFormat,
  planFromHead,
  type ExePlan,
} from './go-exe.ts';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER = 32;
const MAX_BLOB = 1024 * 1024;
const ALIGN = 16;
const READ_STEP = 64 * 1024;

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

/**
 * Normalises a Go toolchain version as govulncheck does: `go1.22.1` → `v1.22.1`,
 * `go1.21` → `v1.21.0`, `go1.22rc1` → `v1.22.0-rc.1`; undefined for anything else (a vendor's
 * build such as `go1.25-20250209-RC00`, `devel ...`), whose standard library is then not matched.
 */
export function goToolchainVersion(v: string): string | undefined {
  const tag = v.trim().split(/\s+/)[0] ?? '';
  const m = /^go(\d+\.\d+)(\.\d+|)((beta|rc|-pre)(\d+))?$/.exec(tag);
  if (m === null) return undefined;
  const pre = m[3] === undefined ? '' : `${m[4]!.startsWith('-') ? '' : '-'}${m[4]}.${m[5]}`;
  return `v${m[1]}${m[2] === '' ? '.0' : m[2]}${pre}`;
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

/** The build settings that say which platform a binary was built for (`GOOS`, `GOARCH`). */
function platformOf(lines: string[]): Pick<RawPackage, 'goos' | 'goarch'> {
  const out: Pick<RawPackage, 'goos' | 'goarch'> = {};
  for (const line of lines) {
    const m = /^build\t(GOOS|GOARCH)=(.+)$/.exec(line);
    if (m === null || m[2]!.trim() === '') continue;
    if (m[1] === 'GOOS') out.goos = m[2]!.trim();
    else out.goarch = m[2]!.trim();
  }
  return out;
}

/**
 * Turns build info into packages: the standard library, the main module and its dependencies,
 * each with the platform the binary was built for when its build settings name it. A binary of
 * the Go distribution itself (`cmd/go`, `cmd/vet`, ...: main package under `cmd/`, main module
 * `cmd` or none) is also the `toolchain` module at the Go version, as the Go vulnerability database
 * files vulnerabilities of the go command and its tools.
 */
export function buildInfoPackages(goVersion: string, modInfo: string): RawPackage[] {
  const out: RawPackage[] = [];
  const lines = modInfo.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const platform = platformOf(lines);
  const std = goToolchainVersion(goVersion);
  if (std !== undefined) {
    out.push({ type: 'golang', name: 'stdlib', version: std, ...platform });
    const path = lines.find((l) => l.startsWith('path\t'))?.slice(5);
    // The distribution's commands belong to the module `cmd` (named in newer build info, or
    // not at all); a module of another path that has a cmd/ folder is not the toolchain.
    const main = lines.find((l) => l.startsWith('mod\t'))?.split('\t')[1];
    if (path?.startsWith('cmd/') === true && (main === undefined || main === 'cmd'))
      out.push({ type: 'golang', name: 'toolchain', version: std, ...platform });
  }
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
    out.push({ type: 'golang', name: path, version, ...platform });
  }
  return out;
}

/**
 * Searches one region of a file for the 16-byte aligned build-info magic, fed with the file's
 * bytes in order (each piece with its offset), then collects and parses the blob.
 */
class BuildInfoSearch {
  readonly #path: string;
  readonly #start: number;
  readonly #end: number;
  readonly #aligned: boolean;
  /** The last bytes of the region seen so far (a magic may straddle two pieces), and their offset. */
  #tail = Buffer.alloc(0);
  #tailAt = 0;
  #blob: Buffer[] | undefined;
  #blobBytes = 0;
  #result: FileAnalysis | undefined;
  #done = false;

  constructor(path: string, plan: ExePlan, size: number) {
    this.#path = path;
    this.#start = plan.kind === 'region' ? plan.start : 0;
    this.#end = plan.kind === 'region' ? plan.end : size;
    this.#aligned = plan.kind === 'region';
    if (plan.kind === 'none') this.#done = true;
    if (plan.kind === 'packed') {
      this.#done = true;
      this.#result = {
        warnings: [
          `${path}: executable packed with ${plan.packer}; its Go build info (if any) cannot be read, not analysed`,
        ],
      };
    }
  }

  get region(): { start: number; end: number } {
    return { start: this.#start, end: this.#end };
  }

  /** Feeds the bytes at file offset `at`; false once nothing more is needed. */
  feed(at: number, chunk: Buffer): boolean {
    if (this.#done) return false;
    if (this.#blob !== undefined) return this.#collect(chunk);
    const lo = Math.max(at, this.#start);
    const hi = Math.min(at + chunk.length, this.#end);
    if (lo >= hi) return at + chunk.length < this.#end ? true : this.#finishRegion();
    const piece = chunk.subarray(lo - at, hi - at);
    const found = this.#find(lo, piece);
    if (found !== undefined) {
      this.#blob = [];
      if (found < lo) {
        return this.#collect(
          Buffer.concat([this.#tail.subarray(found - this.#tailAt), chunk.subarray(lo - at)]),
        );
      }
      return this.#collect(chunk.subarray(found - at));
    }
    const keep = Math.min(piece.length, MAGIC.length - 1);
    this.#tail = Buffer.from(piece.subarray(piece.length - keep));
    this.#tailAt = hi - keep;
    return hi < this.#end ? true : this.#finishRegion();
  }

  #ok(offset: number): boolean {
    return !this.#aligned || offset % ALIGN === 0;
  }

  /** The file offset of the magic in the seam (tail + piece head) or in the piece, if any. */
  #find(lo: number, piece: Buffer): number | undefined {
    if (this.#tail.length > 0 && this.#tailAt + this.#tail.length === lo) {
      const seam = Buffer.concat([this.#tail, piece.subarray(0, MAGIC.length - 1)]);
      for (let i = seam.indexOf(MAGIC); i >= 0; i = seam.indexOf(MAGIC, i + 1)) {
        if (i >= this.#tail.length) break;
        if (this.#ok(this.#tailAt + i)) return this.#tailAt + i;
      }
    }
    for (let i = piece.indexOf(MAGIC); i >= 0; i = piece.indexOf(MAGIC, i + 1)) {
      if (this.#ok(lo + i)) return lo + i;
    }
    return undefined;
  }

  #finishRegion(): boolean {
    this.#done = true;
    return false;
  }

  #collect(chunk: Buffer): boolean {
    this.#blob!.push(chunk);
    this.#blobBytes += chunk.length;
    const blob = Buffer.concat(this.#blob!);
    this.#blob = [blob];
    const parsed = parseBuildInfo(blob.subarray(0, MAX_BLOB));
    if (parsed === undefined && this.#blobBytes < MAX_BLOB) return true;
    this.#done = true;
    this.#settle(parsed);
    return false;
  }

  #settle(parsed: ReturnType<typeof parseBuildInfo>): void {
    if (parsed !== undefined && parsed !== 'unsupported') {
      this.#result = { packages: buildInfoPackages(parsed.goVersion, parsed.modInfo) };
      if (goToolchainVersion(parsed.goVersion) === undefined) {
        const version = parsed.goVersion.slice(0, 100);
        this.#result.warnings = [
          `${this.#path}: Go version "${version}" is not a release version; its standard library is not matched`,
        ];
      }
      return;
    }
    const why =
      parsed === 'unsupported'
        ? 'is in a format this scanner does not read (Go before 1.18, or damaged)'
        : 'is cut short';
    this.#result = { warnings: [`${this.#path}: Go build info ${why}; not analysed`] };
  }

  /** The analysis once the file (or the region) has been read. */
  end(): FileAnalysis | undefined {
    if (this.#result === undefined && this.#blob !== undefined) {
      this.#settle(parseBuildInfo(Buffer.concat(this.#blob)));
    }
    return this.#result;
  }
}

/** A streamed file: its head is kept until the headers are read, then only the region is searched. */
class StreamedBuildInfo implements StreamingAnalysis {
  readonly #path: string;
  readonly #size: number;
  #head: Buffer[] | undefined = [];
  #headBytes = 0;
  #pos = 0;
  #search: BuildInfoSearch | undefined;
  #done = false;

  constructor(path: string, size: number) {
    this.#path = path;
    this.#size = size;
  }

  write(chunk: Buffer): boolean {
    if (this.#done) return false;
    if (this.#head !== undefined) {
      this.#head.push(Buffer.from(chunk));
      this.#headBytes += chunk.length;
      if (this.#headBytes >= Math.min(HEAD_BYTES, this.#size)) return this.#decide();
      // Most executables are not ELF or PE files (scripts): no need to wait for the whole head.
      if (this.#headBytes >= 4 && !isExecutableFormat(Buffer.concat(this.#head))) {
        this.#done = true;
        return false;
      }
      return true;
    }
    return this.#feed(chunk);
  }

  #decide(): boolean {
    const head = Buffer.concat(this.#head!);
    this.#head = undefined;
    if (!isExecutableFormat(head)) {
      this.#done = true;
      return false;
    }
    this.#search = new BuildInfoSearch(this.#path, planFromHead(head, this.#size), this.#size);
    return this.#feed(head);
  }

  #feed(chunk: Buffer): boolean {
    const at = this.#pos;
    this.#pos += chunk.length;
    if (!this.#search!.feed(at, chunk)) this.#done = true;
    return !this.#done;
  }

  end(): FileAnalysis | undefined {
    if (this.#head !== undefined) {
      // A file shorter than the head: decide on what there is.
      this.#decide();
    }
    return this.#search?.end();
  }
}

/** Reads the build info of a file that can be read at any offset: headers, then only the blob. */
export async function readBuildInfo(
  path: string,
  file: RandomAccessFile,
): Promise<FileAnalysis | undefined> {
  const head = await file.read(0, Math.min(HEAD_BYTES, file.size));
  if (!isExecutableFormat(head)) return undefined;
  let plan = planFromHead(head, file.size);
  if (plan.kind === 'region' && plan.sections !== undefined) {
    const s = plan.sections;
    const table = await file.read(s.offset, s.count * s.entrySize);
    const namesAt = elfNamesRange(s, table);
    const names = namesAt && (await file.read(namesAt.start, namesAt.end - namesAt.start));
    const section = names && findElfSection(s, table, names, '.go.buildinfo');
    if (section !== undefined && section.end > section.start && section.end <= file.size)
      plan = { ...plan, start: section.start, end: section.end };
  }
  const search = new BuildInfoSearch(path, plan, file.size);
  const { start, end } = search.region;
  let at = start;
  for (;;) {
    if (at >= file.size) break;
    // Within the region read no further than its end; a blob that runs past it reads on.
    const step = at < end ? Math.min(READ_STEP, end - at) : READ_STEP;
    const piece = await file.read(at, Math.min(step, file.size - at));
    if (piece.length === 0 || !search.feed(at, piece)) break;
    at += piece.length;
  }
  return search.end();
}

export const goBinaryAnalyzer: Analyzer = {
  name: 'go-binary',
  version: 2,
  matches: (f) =>
    ((f.mode & 0o111) !== 0 || f.path.toLowerCase().endsWith('.exe')) && f.size >= 1024,
  stream: (facts) => new StreamedBuildInfo(facts.path, facts.size),
  readAt: (facts, file) => readBuildInfo(facts.path, file),
};
