import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tar } from '../../test/support/tar.ts';
import { TarError, TarParser, type TarHeader } from './tar.ts';

function parse(
  data: Buffer,
  chunkSize = data.length,
): { headers: TarHeader[]; contents: Map<string, string> } {
  const headers: TarHeader[] = [];
  const contents = new Map<string, string>();
  const parser = new TarParser({
    onEntry: (h) => {
      headers.push(h);
      if (h.type !== 'file') return undefined;
      const parts: Buffer[] = [];
      return {
        data: (c) => parts.push(Buffer.from(c)),
        end: () => contents.set(h.path, Buffer.concat(parts).toString()),
      };
    },
  });
  for (let i = 0; i < data.length; i += chunkSize) parser.write(data.subarray(i, i + chunkSize));
  parser.end();
  return { headers, contents };
}

describe('TarParser on archives made by GNU tar', { timeout: 20_000 }, () => {
  let dir: string;
  const longName = `${'long-directory-name/'.repeat(8)}file-with-a-long-name.txt`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ki-tar-'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), 'ID=debian\n');
    mkdirSync(join(root, longName, '..'), { recursive: true });
    writeFileSync(join(root, longName), 'long\n');
    writeFileSync(join(root, 'ünïcödé.txt'), 'utf8\n');
    symlinkSync(`../${'x'.repeat(150)}`, join(root, 'etc/far-link'));
    linkSync(join(root, 'etc/os-release'), join(root, 'etc/hard'));
    writeFileSync(join(root, 'empty'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['gnu', 'pax', 'ustar'])(
    'lists the same entries as tar -t for the %s format',
    (format) => {
      const root = join(dir, 'root');
      const args = ['-C', root, `--format=${format}`, '-cf', '-', '.'];
      let archive: Buffer;
      try {
        archive = execFileSync('tar', args, {
          maxBuffer: 1 << 24,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch {
        // ustar cannot store the long symlink target: GNU tar refuses, which is its answer.
        expect(format).toBe('ustar');
        return;
      }
      const want = execFileSync('tar', ['-tf', '-'], { input: archive, encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((p) => p.replace(/\/$/, ''));
      for (const chunk of [archive.length, 4096, 511, 7]) {
        const { headers, contents } = parse(archive, chunk);
        expect(headers.map((h) => h.path.replace(/\/$/, ''))).toEqual(want);
        expect(contents.get(`./${longName}`)).toBe('long\n');
        expect(contents.get('./ünïcödé.txt')).toBe('utf8\n');
        const link = headers.find((h) => h.path === './etc/far-link')!;
        expect(link).toMatchObject({ type: 'symlink', linkpath: `../${'x'.repeat(150)}` });
        const hard = headers.find((h) => h.type === 'hardlink')!;
        expect(['./etc/hard', './etc/os-release']).toContain(hard.path);
      }
    },
  );
});

describe('TarParser on malformed input', () => {
  const good = tar([{ path: 'a', content: 'hello' }]);

  it('rejects a header whose checksum does not match', () => {
    const bad = Buffer.from(good);
    bad[0] = 0x62;
    expect(() => parse(bad)).toThrow(/checksum/);
  });

  it('rejects a stream that ends inside an entry', () => {
    const big = tar([{ path: 'a', content: 'x', claimedSize: 10 * 1024 ** 3 }]);
    expect(() => parse(big.subarray(0, 2048))).toThrow(
      /truncated tar: an entry needs \d+ more bytes/,
    );
  });

  it('rejects a stream that ends inside a header, and one with no entries', () => {
    expect(() => parse(good.subarray(0, 100))).toThrow(/inside a header/);
    expect(() => parse(Buffer.alloc(0))).toThrow(TarError);
  });

  it('reads a size written in base-256 and a PAX size over 8 GiB', () => {
    const pax = tar([{ path: 'huge', content: 'x', claimedSize: 9 * 1024 ** 3 }]);
    const headers: TarHeader[] = [];
    const p = new TarParser({ onEntry: (h) => void headers.push(h) });
    p.write(pax.subarray(0, 2048));
    expect(headers[0]).toMatchObject({ path: 'huge', size: 9 * 1024 ** 3 });
    const b256 = Buffer.from(tar([{ path: 'b', content: '' }]));
    b256.fill(0, 124, 136);
    b256[124] = 0x80;
    b256.writeUIntBE(5, 130, 6);
    // recompute the checksum
    b256.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += b256[i]!;
    b256.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const seen: TarHeader[] = [];
    new TarParser({ onEntry: (h) => void seen.push(h) }).write(b256.subarray(0, 512));
    expect(seen[0]!.size).toBe(5);
  });

  it('refuses metadata records over the limit', () => {
    const long = tar([{ path: 'p/'.repeat(2000) + 'f', content: 'x' }]);
    const p = new TarParser({ onEntry: () => undefined, maxMetaBytes: 1000 });
    expect(() => p.write(long)).toThrow(/metadata record/);
  });
});
