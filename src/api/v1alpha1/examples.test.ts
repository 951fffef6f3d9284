import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, FINDINGS_API_VERSION, KINDS } from './index.ts';

const examples = join(import.meta.dirname, '..', '..', '..', 'examples');
const files = [
  ...readdirSync(examples).filter((f) => f.endsWith('.yaml')),
  ...readdirSync(join(examples, 'scenario'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join('scenario', f)),
];

function documents(file: string): Record<string, unknown>[] {
  const text = readFileSync(join(examples, file), 'utf8');
  return parseAllDocuments(text, { version: '1.1' }).map(
    (d) => d.toJS() as Record<string, unknown>,
  );
}

describe('examples/', () => {
  it('has a sample of every kind outside the scenario', () => {
    const kinds = files
      .filter((f) => !f.startsWith('scenario'))
      .flatMap((f) => documents(f).map((d) => d.kind));
    expect(new Set(kinds)).toEqual(new Set(KINDS.map((k) => k.kind)));
  });

  for (const file of files) {
    it(`${file} is commented and parses with the zod schema of each kind`, () => {
      expect(readFileSync(join(examples, file), 'utf8')).toMatch(/^# /);
      for (const doc of documents(file)) {
        if (doc.apiVersion !== API_VERSION && doc.apiVersion !== FINDINGS_API_VERSION) continue;
        const info = KINDS.find((k) => k.kind === doc.kind);
        expect(info, String(doc.kind)).toBeDefined();
        const result = info?.object.safeParse(doc);
        expect(result?.error).toBeUndefined();
      }
    });
  }
});
