import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  layer,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import type { FilterCriteria, SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import type { FindingResource } from '../findings/build.ts';
import { buildCodeFindings } from '../findings/code.ts';
import { suppressingRule } from '../findings/suppression.ts';
import { createImageScanner } from '../scanner/index.ts';
import type { Inventory, ScanOutcome } from '../scanner/types.ts';
import { flawCorpus } from './flaws-corpus.ts';
import { toSarif } from './sarif.ts';
import { fakeSecrets } from './testing.ts';

const s = fakeSecrets('flaws');
const corpus = flawCorpus();

function inventory(o: ScanOutcome): Inventory {
  if (o.status !== 'inventory') throw new Error(o.message);
  return o.inventory;
}

interface SarifDoc {
  runs: {
    tool: { driver: { rules: { id: string; properties: { tags: string[] } }[] } };
    results: { ruleId: string; partialFingerprints?: Record<string, string> }[];
  }[];
}

describe('code flaws in a registry image', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let cacheDir: string;
  const base = layer(
    [
      { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
      { path: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n' },
      // An OS-owned script with a flaw: not the application's.
      { path: 'usr/bin/legacy-tool', content: '#!/bin/sh\neval "$1"\n' },
      ...corpus.map((f) => ({ path: f.path, content: f.text })),
      { path: 'app/.env', content: `SLACK_TOKEN=${s['slack-token']}\n` },
    ],
    'gzip',
  );
  // The next layer deletes the entrypoint: the base layer still ships it to every puller.
  const top = layer([{ path: 'app/.wh.entrypoint.sh', content: '' }], 'gzip');
  const image = buildImage({ layers: [base, top] });
  const planted = corpus.flatMap((f) =>
    f.flaws.map((m) => `${m.ruleId} ${f.path}:${m.line} ${base.digest}`),
  );
  let inv: Inventory;

  beforeAll(async () => {
    registry = await startRegistry();
    cacheDir = mkdtempSync(join(tmpdir(), 'ki-flaws-image-'));
    await pushImage(registry.url, 'shop/flawed', 'v1', image);
    const scanner = createImageScanner({ insecureRegistries: [registry.host], cacheDir });
    inv = inventory(await scanner.scan(`${registry.host}/shop/flawed:v1`, { codeScanning: true }));
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
    if (cacheDir !== undefined) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('reports every planted flaw with rule, path, line and layer, and nothing in the traps', () => {
    const flaws = inv.code!.findings.filter((f) => f.redacted === undefined);
    expect(flaws.map((f) => `${f.ruleId} ${f.path}:${f.line} ${f.layerDigest}`).sort()).toEqual(
      planted.sort(),
    );
    // The secret is found in the same pass.
    expect(inv.code!.findings.filter((f) => f.redacted !== undefined).map((f) => f.ruleId)).toEqual(
      ['slack-token'],
    );
    expect(inv.packages.map((p) => p.name)).toEqual(['musl']);
  });

  it('turns them into CODE_VULNERABILITY findings with CWE, file, line, layer and remediation', () => {
    const resource: FindingResource = {
      resourceType: 'CONTAINER_IMAGE',
      id: `${registry.host}/shop/flawed@${inv.image!.digest}`,
      imageRepository: `${registry.host}/shop/flawed`,
      imageDigest: inv.image!.digest,
    };
    const built = buildCodeFindings(resource, inv.code!.findings);
    expect(built).toHaveLength(planted.length + 1);
    for (const b of built) FindingStatusSchema.parse(b.status);
    const sql = built.find(
      (b) =>
        b.status.ruleId === 'python-sql-string-building' &&
        b.status.codeVulnerabilityDetails?.filePath?.startLine === 24,
    )!;
    expect(sql.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      severity: 'HIGH',
      title: 'SQL statement built from strings - /app/api/handlers.py',
      codeVulnerabilityDetails: {
        detectorId: 'python-sql-string-building',
        detectorTags: ['code-flaw', 'python'],
        cwes: ['CWE-89'],
        filePath: { fileName: 'handlers.py', filePath: '/app/api/handlers.py', endLine: 24 },
        sourceLayerDigest: base.digest,
      },
    });
    expect(sql.status.recommendation?.text).toMatch(/query parameters/);
    expect(sql.status.codeVulnerabilityDetails?.secret).toBeUndefined();
    expect(sql.labels['kubeinspector.io/vulnerability-id']).toBe('python-sql-string-building');
    // Two flaws of one rule in one file are two findings.
    const names = built.filter((b) => b.status.ruleId === 'python-sql-string-building');
    expect(new Set(names.map((b) => b.name)).size).toBe(2);

    const admin = 'kube-inspector-system';
    const suppressed = (filterCriteria: FilterCriteria) => {
      const rule: SuppressionRule = {
        apiVersion: 'kubeinspector.io/v1alpha1',
        kind: 'SuppressionRule',
        metadata: { namespace: admin, name: 'r' },
        spec: { filterCriteria, reason: 'reviewed' },
      };
      return built.filter(
        (b) =>
          suppressingRule(
            [rule],
            { metadata: { namespace: admin }, status: b.status },
            {
              adminNamespace: admin,
            },
          ) !== undefined,
      ).length;
    };
    expect(suppressed({ ruleId: [{ comparison: 'PREFIX', value: 'shell-' }] })).toBe(4);
    expect(suppressed({ filePathGlobs: ['/app/src/**'] })).toBe(2);
  });

  it('writes SARIF whose rules carry their CWE ids as tags', () => {
    const doc = toSarif(inv.code!.findings, {
      toolVersion: 'test',
      target: 'shop/flawed',
    }) as SarifDoc;
    const rules = new Map(doc.runs[0]!.tool.driver.rules.map((r) => [r.id, r.properties.tags]));
    expect(rules.get('python-eval')).toEqual([
      'security',
      'code-flaw',
      'python',
      'external/cwe/cwe-95',
      'CWE-95',
    ]);
    expect(rules.get('js-weak-hash')).toContain('external/cwe/cwe-328');
    expect(rules.get('slack-token')).toContain('CWE-798');
    const results = doc.runs[0]!.results;
    expect(results).toHaveLength(planted.length + 1);
    for (const r of results.filter((x) => x.ruleId !== 'slack-token'))
      expect(r.partialFingerprints?.['kubeinspectorFlaw/v1']).toMatch(/^[0-9a-f]{20}$/);
  });

  it('reads the flaws from the layer cache on the next scan', async () => {
    const scanner = createImageScanner({ insecureRegistries: [registry.host], cacheDir });
    const again = inventory(
      await scanner.scan(`${registry.host}/shop/flawed:v1`, { codeScanning: true }),
    );
    expect(again.layers.every((l) => l.fromCache)).toBe(true);
    expect(again.code!.findings).toEqual(inv.code!.findings);
  });
});
