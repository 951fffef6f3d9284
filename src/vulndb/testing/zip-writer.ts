/**
 * Writes a zip of stored (or, with `deflate`, deflated) entries, with zip64 end records when there are more
 * than 65,535 entries — for tests and benchmarks that need archives the size of real OSV
 * exports. (fflate's writer truncates the entry count of such archives.)
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';

/** Writes the zip to a file as its entries come, holding only the central directory. */
export function writeZipFile(
  path: string,
  files: Iterable<[string, Uint8Array]>,
  deflate = false,
): number {
  const fd = openSync(path, 'w');
  let size = 0;
  try {
    writeZipTo(
      (chunk) => {
        writeSync(fd, chunk);
        size += chunk.length;
      },
      files,
      deflate,
    );
  } finally {
    closeSync(fd);
  }
  return size;
}

export function writeZip(files: Iterable<[string, Uint8Array]>, deflate = false): Uint8Array {
  const parts: Uint8Array[] = [];
  writeZipTo((chunk) => parts.push(chunk), files, deflate);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeZipTo(
  sink: (chunk: Uint8Array) => void,
  files: Iterable<[string, Uint8Array]>,
  deflate: boolean,
): void {
  const encoder = new TextEncoder();
  const centrals: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  const method = deflate ? 8 : 0;
  for (const [name, raw] of files) {
    const n = encoder.encode(name);
    const crc = crc32(raw);
    const data = deflate ? deflateRawSync(raw) : raw;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x800, true);
    local.setUint16(8, method, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, raw.length, true);
    local.setUint16(26, n.length, true);
    sink(new Uint8Array(local.buffer));
    sink(n);
    sink(data);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, 45, true);
    central.setUint16(6, 20, true);
    central.setUint16(8, 0x800, true);
    central.setUint16(10, method, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, data.length, true);
    central.setUint32(24, raw.length, true);
    central.setUint16(28, n.length, true);
    central.setUint32(42, offset, true);
    centrals.push(new Uint8Array(central.buffer), n);
    offset += 30 + n.length + data.length;
    count++;
  }
  const cdOffset = offset;
  const cdSize = centrals.reduce((s, c) => s + c.length, 0);
  const tail: Uint8Array[] = [];
  const zip64 = count > 0xffff;
  if (zip64) {
    const rec = new DataView(new ArrayBuffer(56));
    rec.setUint32(0, 0x06064b50, true);
    rec.setBigUint64(4, 44n, true);
    rec.setUint16(12, 45, true);
    rec.setUint16(14, 45, true);
    rec.setBigUint64(24, BigInt(count), true);
    rec.setBigUint64(32, BigInt(count), true);
    rec.setBigUint64(40, BigInt(cdSize), true);
    rec.setBigUint64(48, BigInt(cdOffset), true);
    const locator = new DataView(new ArrayBuffer(20));
    locator.setUint32(0, 0x07064b50, true);
    locator.setBigUint64(8, BigInt(cdOffset + cdSize), true);
    locator.setUint32(16, 1, true);
    tail.push(new Uint8Array(rec.buffer), new Uint8Array(locator.buffer));
  }
  const eocd = new DataView(new ArrayBuffer(22));
  eocd.setUint32(0, 0x06054b50, true);
  eocd.setUint16(8, zip64 ? 0xffff : count, true);
  eocd.setUint16(10, zip64 ? 0xffff : count, true);
  eocd.setUint32(12, cdSize, true);
  eocd.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
  tail.push(new Uint8Array(eocd.buffer));
  for (const p of [...centrals, ...tail]) sink(p);
}
