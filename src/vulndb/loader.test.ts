import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBytes, loadDirectory, loadLocal, loadZipBytes } from './loader.ts';

const fixtures = join(import.meta.dirname, 'testdata', 'osv');
const scratch = mkdtempSync(join(tmpdir(), 'vulndb-loader-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function fixtureFiles(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const e of readdirSync(fixtures, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.json')) {
      const full = join(e.parentPath, e.name);
      out[relative(fixtures, full)] = readFileSync(full);
    }
  }
  return out;
}

describe('loading OSV records', () => {
  it('reads every JSON file below a directory, skipping and counting malformed records', async () => {
    const db = await loadDirectory(fixtures);
    const files = Object.keys(fixtureFiles()).length;
    expect(files).toBeGreaterThan(25);
    // other/ holds one withdrawn record and a file of two malformed ones
    expect(db.stats.withdrawn).toBe(1);
    expect(db.stats.malformed).toBe(2);
    expect(db.stats.records).toBe(files - 2);
    expect(db.stats.errors.map((e) => e.source)).toEqual([
      'other/malformed.json[0]',
      'other/malformed.json[1]',
    ]);
    expect(db.stats.errors[1]!.message).toMatch(/KI-TEST-MALFORMED-2: .*exactly one of/);
  });

  it('counts records by ecosystem, once per release', async () => {
    const db = await loadDirectory(fixtures);
    expect(db.stats.byEcosystem['Debian:12']).toBe(6);
    expect(db.stats.byEcosystem['Debian:13']).toBe(1);
    expect(db.stats.byEcosystem['Debian:11']).toBe(1);
    expect(db.stats.byEcosystem['Ubuntu:22.04']).toBe(2);
    expect(db.stats.byEcosystem['Red Hat:9']).toBe(2);
    expect(db.stats.byEcosystem['npm']).toBe(4);
    expect(db.stats.loadSeconds).toBeGreaterThan(0);
  });

  it('reads the same records from a zip as from the directory', async () => {
    const zip = zipSync(fixtureFiles());
    const fromZip = loadZipBytes(zip, 'all.zip');
    const fromDir = await loadDirectory(fixtures);
    expect(fromZip.stats.records).toBe(fromDir.stats.records);
    expect(fromZip.stats.malformed).toBe(fromDir.stats.malformed);
    expect(fromZip.get('DSA-5724-1')).toEqual(fromDir.get('DSA-5724-1'));
  });

  it('tells a zip from JSON by its first bytes', () => {
    const record = readFileSync(join(fixtures, 'npm', 'GHSA-35jh-r3h4-6jhm.json'));
    expect(loadBytes(record, 'one.json').size).toBe(1);
    expect(loadBytes(zipSync({ 'a.json': record }), 'a.zip').size).toBe(1);
  });

  it('fails on a payload that is neither a zip nor JSON', () => {
    expect(() => loadBytes(new TextEncoder().encode('<html>'), 'page')).toThrow(
      /neither a zip nor JSON/,
    );
    expect(() => loadZipBytes(new Uint8Array([0x50, 0x4b, 3, 4, 1, 2]), 'bad.zip')).toThrow(
      /not a readable zip/,
    );
  });

  it('skips a file that is not JSON and goes on with the others', async () => {
    const dir = join(scratch, 'broken');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    writeFileSync(join(dir, 'truncated.json'), '{ "id": "X", "modified": ');
    writeFileSync(join(dir, 'latin1.json'), Buffer.from([0x7b, 0xe9, 0x7d]));
    writeFileSync(join(dir, 'notes.txt'), 'not a record');
    writeFileSync(
      join(dir, 'nested', 'ok.json'),
      readFileSync(join(fixtures, 'npm', 'GHSA-35jh-r3h4-6jhm.json')),
    );
    const db = await loadLocal(dir);
    expect(db.size).toBe(1);
    expect(db.stats.malformed).toBe(2);
    expect(db.stats.errors.map((e) => e.message)).toEqual([
      'not UTF-8 text',
      expect.stringMatching(/^not JSON/),
    ]);
  });

  it('keeps the last modified of two records with the same id', () => {
    const older = { id: 'X-1', modified: '2024-01-01T00:00:00Z', summary: 'old' };
    const newer = { id: 'X-1', modified: '2024-02-01T00:00:00Z', summary: 'new' };
    const db = loadBytes(new TextEncoder().encode(JSON.stringify([newer, older])), 'mem');
    expect(db.get('X-1')!.summary).toBe('new');
    expect(db.stats.duplicates).toBe(1);
  });

  it('keeps only the first errors but counts them all', () => {
    const bad = Array.from({ length: 50 }, (_, i) => ({ id: `BAD-${i}` }));
    const db = loadBytes(new TextEncoder().encode(JSON.stringify(bad)), 'mem');
    expect(db.stats.malformed).toBe(50);
    expect(db.stats.errors).toHaveLength(20);
  });

  it('says what is wrong when the path does not exist', async () => {
    await expect(loadLocal(join(scratch, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
