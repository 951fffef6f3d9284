/**
 * A small zip reader for OSV exports: reads the central directory (with zip64 records, which
 * archives of more than 65,535 entries need) and inflates one entry at a time with node:zlib,
 * so a large archive never exists unpacked in memory as a whole.
 *
 * Only what OSV exports use is supported: stored and deflated entries, no encryption, one disk.
 */
import { inflateSync } from 'fflate';
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

class Reader {
  readonly view: DataView;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(at: number, n: number): void {
    if (at < 0 || at + n > this.bytes.length) throw new Error(`truncated archive (offset ${at})`);
  }

  u16(at: number): number {
    this.check(at, 2);
    return this.view.getUint16(at, true);
  }

  u32(at: number): number {
    this.check(at, 4);
    return this.view.getUint32(at, true);
  }

  u64(at: number): number {
    this.check(at, 8);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('zip64 value too large');
    return Number(v);
  }

  slice(at: number, n: number): Uint8Array {
    this.check(at, n);
    return this.bytes.subarray(at, at + n);
  }
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function findEocd(r: Reader): number {
  const min = Math.max(0, r.bytes.length - 22 - 0xffff);
  for (let at = r.bytes.length - 22; at >= min; at--) {
    if (r.view.getUint32(at, true) === EOCD) return at;
  }
  throw new Error('no end of central directory record');
}

/** Lists the entries of a zip archive held in memory; throws when it is not a readable zip. */
export function readZip(bytes: Uint8Array): ZipEntry[] {
  const r = new Reader(bytes);
  if (bytes.length < 22) throw new Error('too short to be a zip');
  const eocd = findEocd(r);
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  // A zip64 locator right before the record holds the real counts and offsets, whatever the
  // 16- and 32-bit fields say (some writers leave the real offset there and cap only the count).
  if (eocd >= 20 && r.u32(eocd - 20) === ZIP64_LOCATOR) {
    const at = r.u64(eocd - 20 + 8);
    if (r.u32(at) !== ZIP64_EOCD) throw new Error('zip64 locator points to no zip64 record');
    count = r.u64(at + 32);
    cdSize = r.u64(at + 40);
    cdOffset = r.u64(at + 48);
  }
  if (cdOffset + cdSize > eocd) throw new Error('central directory outside the archive');
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (r.u32(at) !== CENTRAL) throw new Error(`entry ${i}: bad central directory signature`);
    const flags = r.u16(at + 8);
    const method = r.u16(at + 10);
    let compressed = r.u32(at + 20);
    let size = r.u32(at + 24);
    const nameLength = r.u16(at + 28);
    const extraLength = r.u16(at + 30);
    const commentLength = r.u16(at + 32);
    let local = r.u32(at + 42);
    const name = ((flags & 0x800) !== 0 ? utf8 : latin1).decode(r.slice(at + 46, nameLength));
    // zip64 extended information: the 64-bit values of the fields that are 0xFFFFFFFF, in order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = r.u16(extra);
      const len = r.u16(extra + 2);
      if (id === 0x0001) {
        let p = extra + 4;
        if (size === MAX32) {
          size = r.u64(p);
          p += 8;
        }
        if (compressed === MAX32) {
          compressed = r.u64(p);
          p += 8;
        }
        if (local === MAX32) local = r.u64(p);
      }
      extra += 4 + len;
    }
    at = extraEnd + commentLength;
    const entryCompressed = compressed;
    const entrySize = size;
    const entryLocal = local;
    entries.push({
      name,
      size,
      read: () => {
        if ((flags & 1) !== 0) throw new Error(`${name}: encrypted entries are not supported`);
        if (r.u32(entryLocal) !== LOCAL) throw new Error(`${name}: bad local header`);
        const start = entryLocal + 30 + r.u16(entryLocal + 26) + r.u16(entryLocal + 28);
        const data = r.slice(start, entryCompressed);
        let out: Uint8Array;
        if (method === 0) out = data;
        // Small entries (OSV records) inflate faster in JavaScript than through a zlib handle
        // each; large ones go to zlib.
        else if (method === 8 && entrySize <= 1 << 20)
          out = inflateSync(data, { out: new Uint8Array(entrySize) });
        else if (method === 8)
          out = inflateRawSync(data, { maxOutputLength: Math.max(entrySize, 1) });
        else throw new Error(`${name}: compression method ${method} is not supported`);
        if (out.length !== entrySize)
          throw new Error(`${name}: size ${out.length}, expected ${entrySize}`);
        return out;
      },
    });
  }
  return entries;
}
