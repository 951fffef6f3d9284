import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { flawCorpus } from '../code-scan/flaws-corpus.ts';
import { fakeSecrets } from '../code-scan/testing.ts';
import { parseScanners, runScanTarget } from './scan-image.ts';

const fixtures = join(import.meta.dirname, '../../test/fixtures/images');
const s = fakeSecrets('cli-code');

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
  runs: {
    tool: { driver: { rules: { id: string; properties: { tags: string[] } }[] } };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: {
        physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
      }[];
      partialFingerprints?: Record<string, string>;
    }[];
  }[];
}

describe('kube-inspector scan rootfs --scanners code', () => {
  let dir: string;
  let noIndex: string;
  const corpus = flawCorpus();
  const planted = corpus.flatMap((f) => f.flaws.map((m) => `${m.ruleId} ${f.path}:${m.line}`));
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ki-rootfs-code-'));
    noIndex = join(dir, 'no-index');
    mkdirSync(join(dir, 'root/lib/apk/db'), { recursive: true });
    mkdirSync(join(dir, 'root/etc'));
    writeFileSync(join(dir, 'root/etc/os-release'), readFileSync(join(fixtures, 'apk/os-release')));
    writeFileSync(
      join(dir, 'root/lib/apk/db/installed'),
      readFileSync(join(fixtures, 'apk/installed')),
    );
    for (const f of corpus) {
      mkdirSync(join(dir, 'root', dirname(f.path)), { recursive: true });
      writeFileSync(join(dir, 'root', f.path), f.text);
    }
    writeFileSync(join(dir, 'root/app/.env'), `GITHUB_TOKEN=${s['github-token']}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const scan = (...args: string[]) =>
    capture(() => runScanTarget('rootfs', [join(dir, 'root'), '--db-dir', noIndex, ...args]));

  it('writes SARIF with one result per code flaw, CWE tags on the rules, and exits 1', async () => {
    const { code, out, err } = await scan('--scanners', 'code', '--format', 'sarif');
    expect(code).toBe(1);
    const run = (JSON.parse(out) as Sarif).runs[0]!;
    const results = run.results.map(
      (r) =>
        `${r.ruleId} ${r.locations[0]!.physicalLocation.artifactLocation.uri}:${r.locations[0]!.physicalLocation.region.startLine}`,
    );
    expect(results.sort()).toEqual([...planted].sort());
    for (const r of run.results) {
      const rule = run.tool.driver.rules[r.ruleIndex]!;
      expect(rule.id).toBe(r.ruleId);
      expect(rule.properties.tags.some((t) => /^CWE-\d+$/.test(t))).toBe(true);
      expect(rule.properties.tags.some((t) => /^external\/cwe\/cwe-\d+$/.test(t))).toBe(true);
    }
    const sql = run.results.find((r) => r.ruleId === 'js-sql-string-building')!;
    expect(sql.level).toBe('error');
    expect(sql.message.text).toMatch(/^SQL statement built from strings in \/app\//);
    // Without the secret scanner, the planted token is not looked for.
    expect(out).not.toContain('github-token');
    expect(err).toMatch(new RegExp(`${planted.length} code flaws; ${planted.length} findings`));
  });

  it('runs secrets and code flaws together and counts each', async () => {
    const { code, out, err } = await scan(
      '--scanners',
      'secret,code',
      '--severity-threshold',
      'CRITICAL',
    );
    // Only the GitHub token is CRITICAL; code flaws are HIGH at most.
    expect(code).toBe(1);
    expect(out).toMatch(/HIGH\s+shell-eval\s+\/app\/entrypoint\.sh:6/);
    expect(out).toMatch(/CRITICAL\s+github-token\s+ghp_\*+/);
    expect(err).toMatch(new RegExp(`1 secrets, ${planted.length} code flaws;`));
    expect(err).toMatch(/1 at or above CRITICAL/);
  });

  it('exits 2 on SARIF without a code-scanning scanner, and lists code among the scanners', async () => {
    const sarif = await scan('--format', 'sarif');
    expect(sarif.code).toBe(2);
    expect(sarif.err).toMatch(/add secret or code to --scanners/);
    expect([...parseScanners('vuln,secret,code')]).toEqual(['vuln', 'secret', 'code']);
    const unknown = await scan('--scanners', 'flaws');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown scanner "flaws"; expected .* vuln, secret, code/);
  });
});
