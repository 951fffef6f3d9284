import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { fakeSecrets } from '../code-scan/testing.ts';
import { runScanTarget } from './scan-image.ts';

const fixtures = join(import.meta.dirname, '../../test/fixtures/images');
const s = fakeSecrets('cli');
const cacheHome = mkdtempSync(join(tmpdir(), 'ki-scan-secrets-'));
const noIndex = join(cacheHome, 'none');
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));

async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi
    .spyOn(console, 'log')
    .mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi
    .spyOn(console, 'error')
    .mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    return { code: await fn(), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

interface Sarif {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; properties: { tags: string[] } }[] } };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      locations: {
        physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
      }[];
      partialFingerprints?: Record<string, string>;
    }[];
  }[];
}

describe('kube-inspector scan image --scanners secret', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let ref = '';
  beforeAll(async () => {
    registry = await startRegistry();
    const image = buildImage({
      layers: [
        [
          { path: 'etc/os-release', content: readFileSync(join(fixtures, 'dpkg/os-release')) },
          {
            path: 'var/lib/dpkg/status',
            content:
              'Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u1\n',
          },
          { path: 'srv/app/.env', content: `PORT=8080\nGITHUB_TOKEN=${s['github-token']}\n` },
          {
            path: 'srv/app/config.js',
            content: `module.exports = { stripe: "${s['stripe-secret-key']}" };\n`,
          },
          {
            path: 'usr/share/doc/tool/example.env',
            content: `GITHUB_TOKEN=${s['github-token']}\n`,
          },
        ],
      ],
    });
    await pushImage(registry.url, 'cli/leaky', 'v1', image);
    ref = `${registry.host}/cli/leaky:v1`;
  }, 30_000);
  afterAll(async () => registry?.stop());

  const scan = (...args: string[]) =>
    capture(() =>
      runScanTarget('image', [
        ref,
        '--insecure-registry',
        registry.host,
        '--db-dir',
        noIndex,
        ...args,
      ]),
    );

  it('writes SARIF 2.1.0 with one result per secret, located by file and line, and exits 1', async () => {
    const { code, out, err } = await scan('--scanners', 'vuln,secret', '--format', 'sarif');
    expect(code).toBe(1);
    const doc = JSON.parse(out) as Sarif;
    expect(doc.version).toBe('2.1.0');
    const run = doc.runs[0]!;
    expect(run.tool.driver.name).toBe('kube-inspector');
    const results = run.results.map(
      (r) =>
        `${r.ruleId} ${r.level} ${r.locations[0]!.physicalLocation.artifactLocation.uri}:${r.locations[0]!.physicalLocation.region.startLine}`,
    );
    expect(results.sort()).toEqual([
      'github-token error srv/app/.env:2',
      'stripe-secret-key error srv/app/config.js:1',
    ]);
    for (const r of run.results) {
      expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
      expect(r.partialFingerprints?.['kubeinspectorSecret/v1']).toMatch(/^[0-9a-f]{20}$/);
    }
    expect(run.tool.driver.rules[0]!.properties.tags).toContain('CWE-798');
    expect(err).toMatch(/2 secrets; 2 findings, 2 at or above UNTRIAGED/);
    for (const secret of [s['github-token']!, s['stripe-secret-key']!]) {
      expect(out).not.toContain(secret);
      expect(err).not.toContain(secret);
    }
  });

  it('lists secrets redacted in the table and the JSON, and exits 0 under a threshold above them', async () => {
    const table = await scan('--scanners', 'secret', '--severity-threshold', 'CRITICAL');
    expect(table.code).toBe(1);
    expect(table.out).toMatch(
      /CRITICAL\s+github-token\s+ghp_\*+\s+[0-9a-f]{20}\s+[0-9a-f]{12}\s+\/srv\/app\/\.env:2/,
    );
    const json = await scan('--scanners', 'secret', '--format', 'json');
    const doc = JSON.parse(json.out) as { inventory: { code: { findings: { ruleId: string }[] } } };
    expect(doc.inventory.code.findings.map((f) => f.ruleId).sort()).toEqual([
      'github-token',
      'stripe-secret-key',
    ]);
    expect(json.out).not.toContain(s['github-token']!);
    const packagesOnly = await scan();
    expect(packagesOnly.code).toBe(0);
    expect(packagesOnly.out).not.toContain('github-token');
  });

  it('exits 2 on an unknown scanner and on SARIF without secret scanning', async () => {
    const unknown = await scan('--scanners', 'vuln,misconfig');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(
      /unknown scanner "misconfig"; expected a comma-separated list of vuln, secret/,
    );
    const sarif = await scan('--format', 'sarif');
    expect(sarif.code).toBe(2);
    expect(sarif.err).toMatch(/--format sarif reports code-scanning results/);
  });
});

describe('kube-inspector scan rootfs --scanners secret', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ki-rootfs-secrets-'));
    mkdirSync(join(dir, 'etc'));
    mkdirSync(join(dir, 'lib/apk/db'), { recursive: true });
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'etc/os-release'), readFileSync(join(fixtures, 'apk/os-release')));
    writeFileSync(join(dir, 'lib/apk/db/installed'), readFileSync(join(fixtures, 'apk/installed')));
    writeFileSync(join(dir, 'app/settings.py'), `\nNPM = "${s['npm-token']}"\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds secrets in the application files of a directory', async () => {
    const { code, out } = await capture(() =>
      runScanTarget('rootfs', [
        dir,
        '--scanners',
        'secret',
        '--format',
        'json',
        '--db-dir',
        noIndex,
      ]),
    );
    expect(code).toBe(1);
    const doc = JSON.parse(out) as {
      inventory: { code: { findings: { ruleId: string; path: string; line: number }[] } };
    };
    expect(doc.inventory.code.findings).toMatchObject([
      { ruleId: 'npm-token', path: 'app/settings.py', line: 2 },
    ]);
  });
});
