/** Content checks: the digest of bytes in hand, and a stream that fails unless it matches. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.ts';

export const SHA256 = /^sha256:[a-f0-9]{64}$/;

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A pass-through that hashes and counts, failing on a size or digest mismatch. */
export class VerifyingStream extends Transform {
  readonly #hash = createHash('sha256');
  readonly #digest: string;
  readonly #size: number;
  #seen = 0;

  constructor(digest: string, size: number) {
    super({ highWaterMark: 1 << 20 });
    this.#digest = digest;
    this.#size = size;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#size) {
      cb(
        new RegistryError(
          'DIGEST_MISMATCH',
          `blob ${this.#digest} is larger than its declared ${this.#size} bytes`,
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.#seen !== this.#size) {
      cb(
        new RegistryError(
          'DIGEST_MISMATCH',
          `blob ${this.#digest} ended after ${this.#seen} of ${this.#size} bytes`,
        ),
      );
      return;
    }
    const got = `sha256:${this.#hash.digest('hex')}`;
    if (got !== this.#digest) {
      cb(new RegistryError('DIGEST_MISMATCH', `blob ${this.#digest} has digest ${got}`));
      return;
    }
    cb();
  }
}
