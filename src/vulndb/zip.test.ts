import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadZipBytes } from './loader.ts';
import { writeZip } from './testing/zip-writer.ts';
import { openZipFile, readZip } from './zip.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('the zip reader', () => {
  it('reads deflated and stored entries', () => {
    const zip = zipSync({
      'a/deflated.json': [bytes('{"x":1}'.repeat(100)), { level: 9 }],
      'stored.json': [bytes('plain'), { level: 0 }],
    });
    const entries = readZip(zip);
    expect(entries.map((e) => e.name)).toEqual(['a/deflated.json', 'stored.json']);
    expect(text(entries[0]!.read())).toBe('{"x":1}'.repeat(100));
    expect(text(entries[1]!.read())).toBe('plain');
  });

  it(
    'reads every entry of a zip64 archive written by Python (more than 65,535 entries)',
    { timeout: 60_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'zip64-'));
      try {
        const file = join(dir, 'big.zip');
        const script =
          'import sys, zipfile\n' +
          'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n' +
          '    for i in range(70000):\n' +
          '        z.writestr(f"r/{i}.json", \'{"id": "R-%d", "modified": "2024-01-01T00:00:00Z"}\' % i)\n';
        execFileSync('python3', ['-c', script, file]);
        const entries = readZip(readFileSync(file));
        expect(entries).toHaveLength(70_000);
        expect(text(entries[69_999]!.read())).toContain('"R-69999"');
        expect(loadZipBytes(readFileSync(file), 'big.zip').size).toBe(70_000);
        // From disk: the central directory (over 1 MiB here) is read a window at a time.
        const onDisk = openZipFile(file);
        try {
          let n = 0;
          let last = '';
          for (const e of onDisk.entries()) {
            n++;
            if (n === 70_000) last = text(e.read());
          }
          expect(n).toBe(70_000);
          expect(last).toContain('"R-69999"');
        } finally {
          onDisk.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    'writes zip64 archives that Python reads whole (the benchmark uses the writer)',
    { timeout: 60_000 },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'zip64w-'));
      try {
        const file = join(dir, 'ours.zip');
        const files = Array.from({ length: 66_000 }, (_, i): [string, Uint8Array] => [
          `${i}.json`,
          bytes(`{"i":${i}}`),
        ]);
        writeFileSync(file, writeZip(files, true));
        const out = execFileSync(
          'python3',
          [
            '-c',
            'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(len(z.namelist()), z.read("65999.json").decode(), z.testzip())',
            file,
          ],
          { encoding: 'utf8' },
        );
        expect(out.trim()).toBe('66000 {"i":65999} None');
        expect(readZip(readFileSync(file))).toHaveLength(66_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('refuses a file on disk that is not a zip or is cut short', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zipfile-'));
    try {
      const zip = zipSync({ 'a.json': bytes('{}'), 'b.json': bytes('[]') });
      const cut = join(dir, 'cut.zip');
      writeFileSync(cut, zip.subarray(0, zip.length - 30));
      expect(() => openZipFile(cut)).toThrow();
      const text = join(dir, 'text.zip');
      writeFileSync(text, 'not a zip at all, just some text here');
      expect(() => openZipFile(text)).toThrow(/no end of central directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses data that is not a zip or is cut short', () => {
    expect(() => readZip(bytes('not a zip at all, just some text here'))).toThrow(
      /no end of central directory/,
    );
    const zip = zipSync({ 'a.json': bytes('{}') });
    expect(() => readZip(zip.subarray(0, zip.length - 30))).toThrow();
  });

  it('reports a corrupt entry without losing the others', () => {
    const zip = zipSync({
      'bad.json': [bytes('{"id":"A","modified":"x"}'.repeat(50)), { level: 9 }],
      'good.json': [bytes('{"id":"B","modified":"2024-01-01T00:00:00Z"}'), { level: 0 }],
    });
    const start = 30 + 'bad.json'.length;
    zip.fill(0xff, start, start + 8);
    const db = loadZipBytes(zip, 'corrupt.zip');
    expect(db.size).toBe(1);
    expect(db.stats.malformed).toBe(1);
    expect(db.stats.errors[0]!.source).toBe('bad.json');
  });
});
