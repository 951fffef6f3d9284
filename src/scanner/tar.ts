/**
 * A push parser for tar streams (ustar, GNU long names, PAX), written for layers: it never
 * buffers file data (only headers and metadata records, each capped), hands data of the
 * entries a caller wants to a sink and skips the rest by offset, and turns every malformed
 * header into an error. Written because per-entry cost dominates layers with many small files.
 */

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarHeader {
  /** The name as stored (PAX or GNU long name applied), not normalised. */
  path: string;
  type: TarEntryType;
  size: number;
  mode: number;
  linkpath: string;
}

/** Receives an entry's data. */
export interface TarEntrySink {
  data(chunk: Buffer): void;
  end(): void;
}

export class TarError extends Error {
  override name = 'TarError';
}

const BLOCK = 512;

function cString(buf: Buffer, start: number, length: number): string {
  let end = start;
  const max = start + length;
  while (end < max && buf[end] !== 0) end++;
  return buf.toString('utf8', start, end);
}

function parseNumber(buf: Buffer, start: number, length: number, field: string): number {
  const first = buf[start]!;
  if ((first & 0x80) !== 0) {
    // base-256 (GNU): big-endian two's complement; negative values are invalid here.
    if ((first & 0x40) !== 0) throw new TarError(`negative ${field} in tar header`);
    let value = first & 0x3f;
    for (let i = start + 1; i < start + length; i++) {
      value = value * 256 + buf[i]!;
      if (value > Number.MAX_SAFE_INTEGER)
        throw new TarError(`${field} in tar header is too large`);
    }
    return value;
  }
  let value = 0;
  let seen = false;
  for (let i = start; i < start + length; i++) {
    const c = buf[i]!;
    if (c === 0 || (c === 0x20 && seen)) break;
    if (c === 0x20) continue;
    if (c < 0x30 || c > 0x37) throw new TarError(`invalid ${field} in tar header`);
    value = value * 8 + (c - 0x30);
    seen = true;
  }
  return value;
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** PAX records: `<length> <key>=<value>\n`, the length counting bytes of the whole record. */
function parsePax(data: Buffer, into: Map<string, string>): void {
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length) {
      throw new TarError('malformed PAX record');
    }
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) into.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
}

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'dir',
};

const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);

type State =
  | { kind: 'header' }
  | { kind: 'meta'; flag: string; remaining: number; padding: number; parts: Buffer[] }
  | { kind: 'data'; remaining: number; padding: number; sink: TarEntrySink | undefined }
  | { kind: 'padding'; remaining: number }
  | { kind: 'done' };

export interface TarParserOptions {
  onEntry(header: TarHeader): TarEntrySink | undefined;
  /** Largest PAX or GNU long-name record accepted. */
  maxMetaBytes?: number;
}

export class TarParser {
  readonly #onEntry: TarParserOptions['onEntry'];
  readonly #maxMeta: number;
  #state: State = { kind: 'header' };
  #header = Buffer.alloc(BLOCK);
  #headerFill = 0;
  #pax = new Map<string, string>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #zeroBlocks = 0;
  #entries = 0;

  constructor(options: TarParserOptions) {
    this.#onEntry = (h) => options.onEntry(h);
    this.#maxMeta = options.maxMetaBytes ?? 1024 * 1024;
  }

  /** Feeds bytes; throws {@link TarError} on malformed input. */
  write(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const s = this.#state;
      switch (s.kind) {
        case 'done':
          return; // anything after the end-of-archive marker is ignored
        case 'header': {
          const take = Math.min(BLOCK - this.#headerFill, chunk.length - pos);
          chunk.copy(this.#header, this.#headerFill, pos, pos + take);
          this.#headerFill += take;
          pos += take;
          if (this.#headerFill === BLOCK) {
            this.#headerFill = 0;
            this.#readHeader(this.#header);
          }
          break;
        }
        case 'meta': {
          const take = Math.min(s.remaining, chunk.length - pos);
          s.parts.push(Buffer.from(chunk.subarray(pos, pos + take)));
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) {
            this.#applyMeta(s.flag, Buffer.concat(s.parts));
            this.#state =
              s.padding > 0 ? { kind: 'padding', remaining: s.padding } : { kind: 'header' };
          }
          break;
        }
        case 'data': {
          const take = Math.min(s.remaining, chunk.length - pos);
          if (take > 0 && s.sink !== undefined) s.sink.data(chunk.subarray(pos, pos + take));
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) {
            s.sink?.end();
            this.#state =
              s.padding > 0 ? { kind: 'padding', remaining: s.padding } : { kind: 'header' };
          }
          break;
        }
        case 'padding': {
          const take = Math.min(s.remaining, chunk.length - pos);
          s.remaining -= take;
          pos += take;
          if (s.remaining === 0) this.#state = { kind: 'header' };
          break;
        }
      }
    }
  }

  /** Ends the stream; throws when it stops inside an entry or before any entry. */
  end(): void {
    const s = this.#state;
    if (s.kind === 'data') {
      throw new TarError(`truncated tar: an entry needs ${s.remaining} more bytes`);
    }
    if (s.kind === 'meta' || this.#headerFill !== 0)
      throw new TarError('truncated tar: stream ends inside a header');
    if (this.#entries === 0 && this.#zeroBlocks === 0)
      throw new TarError('not a tar archive: no entries');
  }

  #readHeader(block: Buffer): void {
    if (isZeroBlock(block)) {
      this.#zeroBlocks++;
      if (this.#zeroBlocks >= 2) this.#state = { kind: 'done' };
      return;
    }
    this.#zeroBlocks = 0;
    if (!checksumOk(block)) throw new TarError('invalid tar header (checksum mismatch)');
    const flag = String.fromCharCode(block[156]!);
    const size = parseNumber(block, 124, 12, 'size');
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > this.#maxMeta)
        throw new TarError(`tar metadata record of ${size} bytes is over the limit`);
      if (size === 0) return;
      this.#state = { kind: 'meta', flag, remaining: size, padding, parts: [] };
      return;
    }
    this.#entries++;
    let name = cString(block, 0, 100);
    if (block.toString('latin1', 257, 262) === 'ustar') {
      const prefix = cString(block, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    let linkpath = cString(block, 157, 100);
    let realSize = size;
    if (this.#longName !== undefined) name = this.#longName;
    if (this.#longLink !== undefined) linkpath = this.#longLink;
    const paxPath = this.#pax.get('path');
    if (paxPath !== undefined) name = paxPath;
    const paxLink = this.#pax.get('linkpath');
    if (paxLink !== undefined) linkpath = paxLink;
    const paxSize = this.#pax.get('size');
    if (paxSize !== undefined) {
      realSize = Number(paxSize);
      if (!Number.isSafeInteger(realSize) || realSize < 0) throw new TarError('invalid PAX size');
    }
    this.#pax = new Map();
    this.#longName = undefined;
    this.#longLink = undefined;
    const type = TYPES[flag] ?? 'other';
    const header: TarHeader = {
      path: name,
      type,
      size: realSize,
      mode: parseNumber(block, 100, 8, 'mode'),
      linkpath,
    };
    // Links, directories, devices and FIFOs have no data blocks whatever their size field says;
    // unknown types (GNU sparse, volume headers) do, and are skipped.
    const dataSize = NO_DATA.has(flag) ? 0 : realSize;
    const sink = this.#onEntry(header);
    const pad = (BLOCK - (dataSize % BLOCK)) % BLOCK;
    if (dataSize === 0) {
      sink?.end();
      return;
    }
    this.#state = {
      kind: 'data',
      remaining: dataSize,
      padding: pad,
      sink: type === 'file' ? sink : undefined,
    };
  }

  #applyMeta(flag: string, data: Buffer): void {
    if (flag === 'x') parsePax(data, this.#pax);
    else if (flag === 'L') this.#longName = cString(data, 0, data.length);
    else if (flag === 'K') this.#longLink = cString(data, 0, data.length);
    // 'g' (global PAX) carries nothing we use.
  }
}
