/**
 * A tiny tar writer for building image layers in tests, including deliberately malformed
 * ones (paths outside the root, sizes that lie). Entries are ustar with PAX headers when a
 * name or size does not fit.
 */
import { createHash } from 'node:crypto';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';

export interface TarEntry {
  path: string;
  /** File content; a directory when `type` is 'dir'. */
  content?: string | Buffer;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  linkpath?: string;
  mode?: number;
  /** Overrides the size written in the header (hostile tests). Content is written as given. */
  claimedSize?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function headerBlock(fields: {
  name: string;
  mode: number;
  size: number;
  typeflag: string;
  linkname?: string;
}): Buffer {
  const b = Buffer.alloc(BLOCK, 0);
  b.write(fields.name, 0, 100, 'utf8');
  b.write(octal(fields.mode, 8), 100, 8, 'ascii');
  b.write(octal(0, 8), 108, 8, 'ascii');
  b.write(octal(0, 8), 116, 8, 'ascii');
  const sizeField = fields.size < 8 ** 11 ? octal(fields.size, 12) : octal(0, 12);
  b.write(sizeField, 124, 12, 'ascii');
  b.write(octal(1_700_000_000, 12), 136, 12, 'ascii');
  b.write('        ', 148, 8, 'ascii');
  b.write(fields.typeflag, 156, 1, 'ascii');
  if (fields.linkname !== undefined) b.write(fields.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return b;
}

function pad(n: number): Buffer {
  const rem = n % BLOCK;
  return Buffer.alloc(rem === 0 ? 0 : BLOCK - rem, 0);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Writes the entries as a tar archive (with the two closing zero blocks). */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.content === undefined ? 'dir' : 'file');
    const content = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const size = e.claimedSize ?? content.length;
    const typeflag = { file: '0', hardlink: '1', symlink: '2', dir: '5' }[type];
    const pax: string[] = [];
    if (Buffer.byteLength(e.path) > 99) pax.push(paxRecord('path', e.path));
    if (e.linkpath !== undefined && Buffer.byteLength(e.linkpath) > 99)
      pax.push(paxRecord('linkpath', e.linkpath));
    if (size >= 8 ** 11) pax.push(paxRecord('size', String(size)));
    if (pax.length > 0) {
      const body = Buffer.from(pax.join(''));
      parts.push(
        headerBlock({ name: 'PaxHeader', mode: 0o644, size: body.length, typeflag: 'x' }),
        body,
        pad(body.length),
      );
    }
    const h: { name: string; mode: number; size: number; typeflag: string; linkname?: string } = {
      name: e.path.slice(0, 99),
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      size: type === 'file' ? size : 0,
      typeflag,
    };
    if (e.linkpath !== undefined) h.linkname = e.linkpath.slice(0, 99);
    parts.push(headerBlock(h));
    if (type === 'file') parts.push(content, pad(content.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export interface BuiltLayer {
  /** The blob as stored in the registry. */
  blob: Buffer;
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  mediaType: string;
  compression: LayerCompression;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function compress(data: Buffer, compression: LayerCompression, level?: number): Buffer {
  if (compression === 'gzip') return gzipSync(data, level === undefined ? {} : { level });
  if (compression === 'zstd') {
    return zstdCompressSync(
      data,
      level === undefined ? {} : { params: { [constants.ZSTD_c_compressionLevel]: level } },
    );
  }
  return data;
}

const LAYER_TYPES: Record<LayerCompression, { oci: string; docker: string }> = {
  gzip: {
    oci: 'application/vnd.oci.image.layer.v1.tar+gzip',
    docker: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
  zstd: {
    oci: 'application/vnd.oci.image.layer.v1.tar+zstd',
    docker: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  },
  none: {
    oci: 'application/vnd.oci.image.layer.v1.tar',
    docker: 'application/vnd.oci.image.layer.v1.tar',
  },
};

/** Builds a layer blob from a tar (or from entries). */
export function layer(
  content: Buffer | readonly TarEntry[],
  compression: LayerCompression = 'gzip',
  format: 'oci' | 'docker' = 'oci',
): BuiltLayer {
  const raw = Buffer.isBuffer(content) ? content : tar(content);
  const blob = compress(raw, compression);
  return {
    blob,
    digest: sha256(blob),
    diffId: sha256(raw),
    mediaType: LAYER_TYPES[compression][format],
    compression,
  };
}
