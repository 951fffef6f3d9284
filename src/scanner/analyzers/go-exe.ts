/**
 * Where a Go executable keeps its build info, read from the headers at the start of the file
 * (ELF program headers, PE section table) and, when the file can be read at any offset, from
 * the ELF section table. The Go linker puts the build-info blob in the `.go.buildinfo` section,
 * which is the start of the first writable data segment (ELF) or section (PE); Go's own
 * `debug/buildinfo` looks there, and so do we: only that region is searched, never the code.
 */

/** How much of a file's start is read before deciding: ELF and PE headers live there. */
export const HEAD_BYTES = 8192;

export type ExePlan =
  /** Not an executable format we read (a script, a shared object without data, ...). */
  | { kind: 'none' }
  /** Compressed by an executable packer: the build info is not readable without running it. */
  | { kind: 'packed'; packer: string }
  /**
   * Search [start, end) of the file for the build-info magic at a 16-byte aligned offset (file
   * offsets and addresses agree modulo the page size, so this is the blob's address alignment).
   */
  | { kind: 'region'; format: 'ELF' | 'PE'; start: number; end: number; sections?: ElfSections }
  /** The headers are not where they should be: search the whole file. */
  | { kind: 'whole'; format: 'ELF' };

/** Where an ELF file's section table is, to look `.go.buildinfo` up by name. */
export interface ElfSections {
  offset: number;
  count: number;
  entrySize: number;
  namesIndex: number;
  little: boolean;
  is64: boolean;
}

const ELF_MAGIC = Buffer.from('\x7fELF', 'latin1');
const UPX_MAGIC = Buffer.from('UPX!', 'latin1');
const PT_LOAD = 1;
const PF_X = 1;
const PF_W = 2;

class Reader {
  readonly buf: Buffer;
  readonly little: boolean;
  constructor(buf: Buffer, little: boolean) {
    this.buf = buf;
    this.little = little;
  }
  u16(at: number): number | undefined {
    if (at + 2 > this.buf.length) return undefined;
    return this.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }
  u32(at: number): number | undefined {
    if (at + 4 > this.buf.length) return undefined;
    return this.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }
  u64(at: number): number | undefined {
    if (at + 8 > this.buf.length) return undefined;
    const v = this.little ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  }
  word(at: number, is64: boolean): number | undefined {
    return is64 ? this.u64(at) : this.u32(at);
  }
}

/** True when the file starts like an executable this module reads (ELF or PE). */
export function isExecutableFormat(head: Buffer): boolean {
  return (
    (head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC)) ||
    (head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a)
  );
}

interface ElfHeader {
  r: Reader;
  is64: boolean;
  little: boolean;
}

/** The section table's place, when the header names one that fits in the file. */
function elfSections({ r, is64, little }: ElfHeader, size: number): ElfSections | undefined {
  const offset = r.word(is64 ? 0x28 : 0x20, is64);
  const entrySize = r.u16(is64 ? 0x3a : 0x2e);
  const count = r.u16(is64 ? 0x3c : 0x30);
  const namesIndex = r.u16(is64 ? 0x3e : 0x32);
  if (offset === undefined || entrySize === undefined || count === undefined) return undefined;
  if (namesIndex === undefined || offset === 0 || count === 0 || namesIndex >= count)
    return undefined;
  if (offset + count * entrySize > size) return undefined;
  return { offset, count, entrySize, namesIndex, little, is64 };
}

/**
 * The file range spanning the loadable segments that are writable and not executable: the Go
 * linker puts `.go.buildinfo` at the start of the first, an external linker (cgo) may put it in
 * a later one after its RELRO segment.
 */
function writableSpan(
  { r, is64 }: ElfHeader,
  phoff: number,
  phentsize: number,
  phnum: number,
  size: number,
): { start: number; end: number } | undefined {
  let span: { start: number; end: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = r.u32(at);
    const flags = r.u32(is64 ? at + 4 : at + 24);
    const offset = r.word(is64 ? at + 8 : at + 4, is64);
    const filesz = r.word(is64 ? at + 32 : at + 16, is64);
    if (type !== PT_LOAD || flags === undefined || (flags & (PF_X | PF_W)) !== PF_W) continue;
    if (offset === undefined || filesz === undefined) continue;
    const end = Math.min(size, offset + filesz);
    if (offset >= end) continue;
    span =
      span === undefined
        ? { start: offset, end }
        : { start: Math.min(span.start, offset), end: Math.max(span.end, end) };
  }
  return span;
}

function elfPlan(head: Buffer, size: number): ExePlan {
  const is64 = head[4] === 2;
  const little = head[5] !== 2;
  const elf: ElfHeader = { r: new Reader(head, little), is64, little };
  if (head.subarray(0, Math.min(head.length, 4096)).includes(UPX_MAGIC))
    return { kind: 'packed', packer: 'UPX' };
  const phoff = elf.r.word(is64 ? 0x20 : 0x1c, is64);
  const phentsize = elf.r.u16(is64 ? 0x36 : 0x2a);
  const phnum = elf.r.u16(is64 ? 0x38 : 0x2c);
  if (phoff === undefined || phentsize === undefined || phnum === undefined || phnum === 0)
    return { kind: 'whole', format: 'ELF' };
  if (phoff + phnum * phentsize > head.length) return { kind: 'whole', format: 'ELF' };
  const segment = writableSpan(elf, phoff, phentsize, phnum, size);
  if (segment === undefined) return { kind: 'none' };
  const sections = elfSections(elf, size);
  return { kind: 'region', format: 'ELF', ...segment, ...(sections && { sections }) };
}

const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
const IMAGE_SCN_MEM_READ = 0x40000000;
const IMAGE_SCN_MEM_WRITE = 0x80000000;

function pePlan(head: Buffer, size: number): ExePlan {
  const r = new Reader(head, true);
  const peAt = r.u32(0x3c);
  if (peAt === undefined || peAt + 24 > head.length) return { kind: 'none' };
  if (head.toString('latin1', peAt, peAt + 4) !== 'PE\0\0') return { kind: 'none' };
  const count = r.u16(peAt + 6)!;
  const optional = r.u16(peAt + 20)!;
  const table = peAt + 24 + optional;
  const wanted = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE;
  for (let i = 0; i < count; i++) {
    const at = table + i * 40;
    if (at + 40 > head.length) break;
    const name = head.toString('latin1', at, at + 8).replace(/\0+$/, '');
    if (name.startsWith('UPX')) return { kind: 'packed', packer: 'UPX' };
    const rawSize = r.u32(at + 16)!;
    const rawOffset = r.u32(at + 20)!;
    const flags = r.u32(at + 36)!;
    if ((flags & wanted) >>> 0 !== wanted >>> 0) continue;
    if ((flags & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) !== 0) continue;
    const end = Math.min(size, rawOffset + rawSize);
    if (rawSize === 0 || rawOffset >= end) continue;
    return { kind: 'region', format: 'PE', start: rawOffset, end };
  }
  return { kind: 'none' };
}

/**
 * Decides from the first bytes of a file (up to {@link HEAD_BYTES}, fewer only when the file
 * is shorter) where its build info can be: `size` is the whole file's size.
 */
export function planFromHead(head: Buffer, size: number): ExePlan {
  if (head.length >= 64 && head.subarray(0, 4).equals(ELF_MAGIC)) return elfPlan(head, size);
  if (head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC))
    return { kind: 'whole', format: 'ELF' };
  if (head.length >= 64 && head[0] === 0x4d && head[1] === 0x5a) return pePlan(head, size);
  return { kind: 'none' };
}

/**
 * Looks `.go.buildinfo` up in an ELF section table: `table` holds the section headers,
 * `names` the section-name string table. Returns the section's file range, if any.
 */
export function findElfSection(
  sections: ElfSections,
  table: Buffer,
  names: Buffer,
  wanted: string,
): { start: number; end: number } | undefined {
  const r = new Reader(table, sections.little);
  for (let i = 0; i < sections.count; i++) {
    const at = i * sections.entrySize;
    const nameAt = r.u32(at);
    const type = r.u32(at + 4);
    const offset = r.word(sections.is64 ? at + 24 : at + 16, sections.is64);
    const size = r.word(sections.is64 ? at + 32 : at + 20, sections.is64);
    if (nameAt === undefined || offset === undefined || size === undefined) return undefined;
    if (type === 8 /* SHT_NOBITS */ || nameAt >= names.length) continue;
    const end = names.indexOf(0, nameAt);
    if (names.toString('latin1', nameAt, end < 0 ? names.length : end) !== wanted) continue;
    return { start: offset, end: offset + size };
  }
  return undefined;
}

/** The file range of the section-name string table of an ELF file, from its section table. */
export function elfNamesRange(
  sections: ElfSections,
  table: Buffer,
): { start: number; end: number } | undefined {
  const r = new Reader(table, sections.little);
  const at = sections.namesIndex * sections.entrySize;
  const offset = r.word(sections.is64 ? at + 24 : at + 16, sections.is64);
  const size = r.word(sections.is64 ? at + 32 : at + 20, sections.is64);
  if (offset === undefined || size === undefined) return undefined;
  return { start: offset, end: offset + Math.min(size, 1 << 20) };
}
