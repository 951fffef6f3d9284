/**
 * A small zip reader for OSV exports: reads the central directory (with zip64 records, which
 * archives of more than 65,535 entries need) and inflates one entry at a time, so a large
 * archive never exists unpacked in memory as a whole. An archive on disk ({@link openZipFile})
 * is read with positional reads: only its central directory and the entry being read are in
 * memory.
 *
 * Only what OSV exports use is supported: stored and deflated entries, no encryption, one disk.
 */
import { inflateSync } from 'fflate';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** Uncompressed size from the central directory. */
  size: number;
  /** Inflates the entry; throws when the entry cannot be read. */
  read(): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

/** Reads `n` bytes at absolute offset `at` of the archive; throws when they are not there. */
type ReadAt = (at: number, n: number) => Uint8Array;

/** Little-endian fields of a buffer that starts at absolute offset `base` of the archive. */
class Reader {
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly base: number;

  constructor(bytes: Uint8Array, base = 0) {
    this.bytes = bytes;
    this.base = base;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(at: number, n: number): number {
    const rel = at - this.base;
    if (rel < 0 || rel + n > this.bytes.length) throw new Error(`truncated archive (offset ${at})`);
    return rel;
  }

  u16(at: number): number {
    return this.view.getUint16(this.check(at, 2), true);
  }

  u32(at: number): number {
    return this.view.getUint32(this.check(at, 4), true);
  }

  u64(at: number): number {
    const v = this.view.getBigUint64(this.check(at, 8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('zip64 value too large');
    return Number(v);
  }

  slice(at: number, n: number): Uint8Array {
    const rel = this.check(at, n);
    return this.bytes.subarray(rel, rel + n);
  }
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** The absolute offset of the end of central directory record. */
function findEocd(size: number, readAt: ReadAt): { eocd: number; tail: Reader } {
  const start = Math.max(0, size - 22 - 0xffff);
  const tail = new Reader(readAt(start, size - start), start);
  for (let at = size - 22; at >= start; at--) {
    if (tail.u32(at) === EOCD) return { eocd: at, tail };
  }
  throw new Error('no end of central directory record');
}

interface Directory {
  count: number;
  cdSize: number;
  cdOffset: number;
}

function directory(size: number, readAt: ReadAt): Directory {
  const { eocd, tail } = findEocd(size, readAt);
  let count = tail.u16(eocd + 10);
  let cdSize = tail.u32(eocd + 12);
  let cdOffset = tail.u32(eocd + 16);
  // A zip64 locator right before the record holds the real counts and offsets, whatever the
  // 16- and 32-bit fields say (some writers leave the real offset there and cap only the count).
  if (eocd >= 20 && new Reader(readAt(eocd - 20, 4), eocd - 20).u32(eocd - 20) === ZIP64_LOCATOR) {
    const at = new Reader(readAt(eocd - 12, 8), eocd - 12).u64(eocd - 12);
    const z = new Reader(readAt(at, 56), at);
    if (z.u32(at) !== ZIP64_EOCD) throw new Error('zip64 locator points to no zip64 record');
    count = z.u64(at + 32);
    cdSize = z.u64(at + 40);
    cdOffset = z.u64(at + 48);
  }
  if (cdOffset + cdSize > eocd) throw new Error('central directory outside the archive');
  return { count, cdSize, cdOffset };
}

function inflate(name: string, method: number, data: Uint8Array, size: number): Uint8Array {
  let out: Uint8Array;
  if (method === 0) out = data;
  // Small entries (OSV records) inflate faster in JavaScript than through a zlib handle each;
  // large ones go to zlib.
  else if (method === 8 && size <= 1 << 20) out = inflateSync(data, { out: new Uint8Array(size) });
  else if (method === 8) out = inflateRawSync(data, { maxOutputLength: Math.max(size, 1) });
  else throw new Error(`${name}: compression method ${method} is not supported`);
  if (out.length !== size) throw new Error(`${name}: size ${out.length}, expected ${size}`);
  return out;
}

interface CentralEntry {
  name: string;
  flags: number;
  method: number;
  compressed: number;
  size: number;
  local: number;
  next: number;
}

function centralEntry(cd: Reader, at: number, i: number): CentralEntry {
  if (cd.u32(at) !== CENTRAL) throw new Error(`entry ${i}: bad central directory signature`);
  const flags = cd.u16(at + 8);
  const nameLength = cd.u16(at + 28);
  const extraLength = cd.u16(at + 30);
  const e: CentralEntry = {
    name: ((flags & 0x800) !== 0 ? utf8 : latin1).decode(cd.slice(at + 46, nameLength)),
    flags,
    method: cd.u16(at + 10),
    compressed: cd.u32(at + 20),
    size: cd.u32(at + 24),
    local: cd.u32(at + 42),
    next: at + 46 + nameLength + extraLength + cd.u16(at + 32),
  };
  // zip64 extended information: the 64-bit values of the fields that are 0xFFFFFFFF, in order.
  let extra = at + 46 + nameLength;
  const extraEnd = extra + extraLength;
  while (extra + 4 <= extraEnd) {
    const id = cd.u16(extra);
    const len = cd.u16(extra + 2);
    if (id === 0x0001) {
      let p = extra + 4;
      if (e.size === MAX32) {
        e.size = cd.u64(p);
        p += 8;
      }
      if (e.compressed === MAX32) {
        e.compressed = cd.u64(p);
        p += 8;
      }
      if (e.local === MAX32) e.local = cd.u64(p);
    }
    extra += 4 + len;
  }
  return e;
}

function toEntry(e: CentralEntry, readAt: ReadAt): ZipEntry {
  return {
    name: e.name,
    size: e.size,
    read: () => {
      if ((e.flags & 1) !== 0) throw new Error(`${e.name}: encrypted entries are not supported`);
      const header = new Reader(readAt(e.local, 30), e.local);
      if (header.u32(e.local) !== LOCAL) throw new Error(`${e.name}: bad local header`);
      const start = e.local + 30 + header.u16(e.local + 26) + header.u16(e.local + 28);
      return inflate(e.name, e.method, readAt(start, e.compressed), e.size);
    },
  };
}

/**
 * The entries of an archive in directory order, reading its central directory a window at a
 * time: memory stays the same whatever the number of entries.
 */
function* iterateEntries(size: number, readAt: ReadAt, windowBytes: number): Generator<ZipEntry> {
  if (size < 22) throw new Error('too short to be a zip');
  const { count, cdSize, cdOffset } = directory(size, readAt);
  const cdEnd = cdOffset + cdSize;
  let win = new Reader(new Uint8Array(0), cdOffset);
  const fill = (at: number, need: number): void => {
    if (at + need > cdEnd) throw new Error(`truncated archive (offset ${at})`);
    if (at >= win.base && at + need <= win.base + win.bytes.length) return;
    win = new Reader(readAt(at, Math.min(Math.max(windowBytes, need), cdEnd - at)), at);
  };
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    fill(at, 46);
    const whole = 46 + win.u16(at + 28) + win.u16(at + 30) + win.u16(at + 32);
    fill(at, whole);
    const e = centralEntry(win, at, i);
    at = e.next;
    yield toEntry(e, readAt);
  }
}

function listEntries(size: number, readAt: ReadAt): ZipEntry[] {
  return [...iterateEntries(size, readAt, Number.MAX_SAFE_INTEGER)];
}

/** Lists the entries of a zip archive held in memory; throws when it is not a readable zip. */
export function readZip(bytes: Uint8Array): ZipEntry[] {
  return listEntries(bytes.length, (at, n) => new Reader(bytes).slice(at, n));
}

export interface ZipFile {
  /** The entries in directory order, read from the file as they are asked for. */
  entries(): Generator<ZipEntry>;
  close(): void;
}

/**
 * Opens a zip archive on disk: lists its entries from the central directory; each entry is read
 * from the file when asked. Throws when the file is not a readable zip.
 */
export function openZipFile(path: string): ZipFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const readAt: ReadAt = (at, n) => {
      if (at < 0 || at + n > size) throw new Error(`truncated archive (offset ${at})`);
      const buf = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const got = readSync(fd, buf, done, n - done, at + done);
        if (got === 0) throw new Error(`truncated archive (offset ${at + done})`);
        done += got;
      }
      return buf;
    };
    // Read the end records now: a file that is not a zip fails here, not while iterating.
    directory(size, readAt);
    return {
      entries: () => iterateEntries(size, readAt, 1 << 20),
      close: () => closeSync(fd),
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
