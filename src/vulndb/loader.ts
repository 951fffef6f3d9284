/**
 * Loading OSV records: from a directory (every `*.json` below it, a record or an array of
 * records per file), from a zip (every `*.json` entry, as the OSV project publishes them per
 * ecosystem), or from an HTTP(S) URL serving either a zip or JSON.
 *
 * A malformed record or unreadable file is skipped and counted (the first errors are kept for
 * the report); only a source that cannot be read at all is an error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DatabaseBuilder, type VulnDatabase } from './database.ts';
import { readZip, type ZipEntry } from './zip.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

function addJsonText(builder: DatabaseBuilder, text: string, where: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    builder.addError(where, `not JSON: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  builder.addJson(value, where);
}

function addJsonBytes(builder: DatabaseBuilder, bytes: Uint8Array, where: string): void {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    builder.addError(where, 'not UTF-8 text');
    return;
  }
  addJsonText(builder, text, where);
}

/** Loads every `*.json` file below `dir`, reading a few files at a time. */
export async function loadDirectory(dir: string): Promise<VulnDatabase> {
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith('.json'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const builder = new DatabaseBuilder(dir);
  const concurrency = 16;
  for (let i = 0; i < files.length; i += concurrency) {
    const batch = files.slice(i, i + concurrency);
    const texts = await Promise.all(
      batch.map((f) =>
        readFile(f).then(
          (b) => ({ f, b }),
          (err: unknown) => ({ f, err }),
        ),
      ),
    );
    for (const t of texts) {
      const where = relative(dir, t.f).split(sep).join('/');
      if ('err' in t)
        builder.addError(where, t.err instanceof Error ? t.err.message : String(t.err));
      else addJsonBytes(builder, t.b, where);
    }
  }
  return builder.build();
}

/** Whether bytes start like a zip archive (local file header `PK\x03\x04` or an empty zip). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    (bytes[2] === 3 || bytes[2] === 5)
  );
}

/** Loads every `*.json` entry of a zip held in memory. Throws when the zip cannot be read. */
export function loadZipBytes(bytes: Uint8Array, source: string): VulnDatabase {
  let entries: ZipEntry[];
  try {
    entries = readZip(bytes);
  } catch (err) {
    throw new Error(
      `${source}: not a readable zip: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const builder = new DatabaseBuilder(source);
  const json = entries
    .filter((e) => e.name.endsWith('.json'))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of json) {
    let data: Uint8Array;
    try {
      data = entry.read();
    } catch (err) {
      builder.addError(entry.name, err instanceof Error ? err.message : String(err));
      continue;
    }
    addJsonBytes(builder, data, entry.name);
  }
  return builder.build();
}

/** Loads a zip or JSON payload, telling them apart by their first bytes. */
export function loadBytes(bytes: Uint8Array, source: string): VulnDatabase {
  if (looksLikeZip(bytes)) return loadZipBytes(bytes, source);
  const builder = new DatabaseBuilder(source);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new Error(`${source}: neither a zip nor UTF-8 JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${source}: neither a zip nor JSON: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  builder.addJson(value, source);
  return builder.build();
}

export async function loadZipFile(path: string): Promise<VulnDatabase> {
  return loadZipBytes(await readFile(path), path);
}

/** A local source in memory: a directory, or a zip or JSON file (the index streams them instead). */
export async function loadLocal(path: string): Promise<VulnDatabase> {
  const info = await stat(path);
  if (info.isDirectory()) return loadDirectory(path);
  return loadBytes(await readFile(path), path);
}
