import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFileName, customResourceDefinition } from '../src/api/crd.ts';
import { CRD_KINDS } from '../src/api/v1alpha1/kinds.ts';
import {
  KUSTOMIZATION,
  crdDirectory,
  generateCrdDirectory,
  generateCrdFiles,
  generateReference,
  referencePath,
} from './generate-crds.ts';

describe('generate-crds', () => {
  const files = generateCrdFiles();

  it('writes one CRD per kind of the CRD group (Finding is served by the aggregated API)', () => {
    expect(files.size).toBe(CRD_KINDS.length);
    expect([...files.keys()].some((f) => f.includes('finding'))).toBe(false);
    for (const text of files.values()) {
      expect(parse(text)).toMatchObject({ kind: 'CustomResourceDefinition' });
    }
  });

  it('lists every CRD file, and nothing else, in crds/kustomization.yaml', () => {
    const kustomization = parse(generateCrdDirectory().get(KUSTOMIZATION) ?? '') as {
      kind: string;
      resources: string[];
    };
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.resources).toEqual([...files.keys()].sort());
  });

  it('matches the committed crds/ (run make manifests when this fails)', () => {
    const generated = generateCrdDirectory();
    const committed = readdirSync(crdDirectory()).filter((f) => f.endsWith('.yaml'));
    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [name, text] of generated) {
      expect(readFileSync(join(crdDirectory(), name), 'utf8'), name).toBe(text);
    }
  });

  it('reads back as the same CRD under YAML 1.1, as the API server reads it', () => {
    for (const info of CRD_KINDS) {
      const text = files.get(crdFileName(info)) ?? '';
      expect(parse(text, { version: '1.1' })).toEqual(customResourceDefinition(info));
    }
  });

  it('matches the committed docs/api/reference.md (run make manifests when this fails)', async () => {
    const reference = await generateReference();
    expect(reference).toContain('- `status.packages[].fixedInVersion` (string; length 0..1024):');
    expect(readFileSync(referencePath(), 'utf8')).toBe(reference);
  });

  it('is deterministic', () => {
    expect(generateCrdFiles()).toEqual(files);
  });
});
