// The Makefile's targets are all in `make help`, and `make verify` runs the checks CI relies on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const makefile = readFileSync(join(import.meta.dirname, '..', 'Makefile'), 'utf8');
const targetLines = makefile.split('\n').filter((l) => /^[a-zA-Z][a-zA-Z0-9_-]*:(?!=)/.test(l));

describe('the Makefile', () => {
  it('declares its targets', () => {
    expect(targetLines.length).toBeGreaterThan(10);
  });

  it.each(targetLines.map((l) => [l.split(':')[0]!, l]))(
    'target %s has a ## help line',
    (_name, line) => {
      expect(line).toMatch(/ ## \S/);
    },
  );

  it('verify type-checks and lints besides regenerating', () => {
    const verify = targetLines.find((l) => l.startsWith('verify:'));
    expect(verify).toMatch(/^verify: .*\bmanifests\b/);
    expect(verify).toMatch(/^verify: .*\btypecheck\b/);
    expect(verify).toMatch(/^verify: .*\blint\b/);
  });
});
