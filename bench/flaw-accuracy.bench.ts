/**
 * Code-flaw accuracy benchmark (`make bench`).
 *
 * Writes the code-flaw corpus (src/code-scan/flaws-corpus.ts: Python, JavaScript/TypeScript
 * and shell files with planted flaws, safe forms of the same calls, comments and docstrings
 * that mention them, tests, installed dependencies, minified vendor code) as a root
 * filesystem and runs on it:
 *
 *   1. kube-inspector (`scan rootfs` in process, the code analyzer with flaw rules only),
 *   2. Bandit (Python only) when BANDIT names its binary or `bandit` is on PATH
 *      (`pip install bandit`), twice: with its defaults over the whole tree, and told to
 *      skip the files kube-inspector skips (tests, installed dependencies);
 *   3. ESLint with eslint-plugin-security (JavaScript/TypeScript only) when
 *      ESLINT_PLUGIN_SECURITY names a folder whose node_modules holds the plugin
 *      (`npm install eslint-plugin-security` there), every rule of the plugin on, with this
 *      repository's ESLint and TypeScript parser.
 *
 * For each it prints recall (planted flaws found: a report in the flaw's file within 1 line
 * of it) and false positives (anything reported in a trap file, a second report of one flaw,
 * or a report on a line with no planted flaw), for all reports and for reports of MEDIUM
 * severity or above, and lists every miss and false positive.
 *
 * With FLAW_BENCH_DIR set to a directory of real code (a Python installation's standard
 * library, an application's source tree), it also scans that directory as a root filesystem
 * with secret rules only and with secret and code-flaw rules, runs interleaved, and prints
 * the medians and the matches per rule.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { codeAnalyzer } from '../src/code-scan/analyzer.ts';
import { flawCorpus } from '../src/code-scan/flaws-corpus.ts';
import { codeRule } from '../src/code-scan/flaws.ts';
import { ANALYZERS } from '../src/scanner/analyzers/index.ts';
import { scanRootfs } from '../src/scanner/rootfs.ts';

/** A report: file (root-relative), line, rule and severity. */
type Hit = { path: string; line: number; rule: string; severity: string };

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

async function ours(dir: string): Promise<Hit[]> {
  const outcome = await scanRootfs(dir, {
    analyzers: [...ANALYZERS, codeAnalyzer({ secrets: false })],
  });
  if (outcome.status !== 'inventory') throw new Error(outcome.message);
  return (outcome.inventory.code?.findings ?? []).map((f) => ({
    path: f.path,
    line: f.line,
    rule: f.ruleId,
    severity: codeRule(f.ruleId)?.severity ?? 'UNTRIAGED',
  }));
}

function banditBin(): string | undefined {
  if (process.env.BANDIT !== undefined)
    return existsSync(process.env.BANDIT) ? process.env.BANDIT : undefined;
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (existsSync(join(d, 'bandit'))) return join(d, 'bandit');
  }
  return undefined;
}

function bandit(dir: string, exclude: readonly string[]): Hit[] | undefined {
  const bin = banditBin();
  if (bin === undefined) return undefined;
  const args = ['-r', dir, '-f', 'json', '-q'];
  if (exclude.length > 0) args.push('-x', exclude.map((e) => join(dir, e)).join(','));
  let out: string;
  try {
    out = execFileSync(bin, args, { maxBuffer: 64 * 1024 ** 2 }).toString();
  } catch (err) {
    // Exit code 1: issues found; the report is on stdout all the same.
    out = String((err as { stdout?: Buffer }).stdout ?? '');
  }
  const doc = JSON.parse(out) as {
    results: { filename: string; line_number: number; test_id: string; issue_severity: string }[];
  };
  return doc.results.map((r) => ({
    path: r.filename.startsWith(dir) ? r.filename.slice(dir.length + 1) : r.filename,
    line: r.line_number,
    rule: r.test_id,
    severity: r.issue_severity,
  }));
}

/** ESLint with every rule of eslint-plugin-security, on the JavaScript/TypeScript files. */
function eslintSecurity(dir: string): Hit[] | undefined {
  const home = process.env.ESLINT_PLUGIN_SECURITY;
  if (home === undefined || !existsSync(join(home, 'node_modules/eslint-plugin-security')))
    return undefined;
  const repo = join(import.meta.dirname, '..');
  const config = join(home, 'eslint.config.mjs');
  writeFileSync(
    config,
    [
      `import security from 'eslint-plugin-security';`,
      `import parser from ${JSON.stringify(join(repo, 'node_modules/@typescript-eslint/parser/dist/index.js'))};`,
      `export default [{ files: ['**/*.{js,mjs,cjs,ts}'], plugins: { security },`,
      `  languageOptions: { parser, sourceType: 'module' },`,
      `  rules: Object.fromEntries(Object.keys(security.rules).map((r) => ['security/' + r, 'warn'])) }];`,
    ].join('\n'),
  );
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      [join(repo, 'node_modules/eslint/bin/eslint.js'), '-c', config, '-f', 'json', dir],
      { maxBuffer: 64 * 1024 ** 2, cwd: dir },
    ).toString();
  } catch (err) {
    // Exit code 1: warnings found (with --max-warnings) or errors; the report is on stdout.
    out = String((err as { stdout?: Buffer }).stdout ?? '');
  }
  const doc = JSON.parse(out) as {
    filePath: string;
    messages: { ruleId: string | null; line: number }[];
  }[];
  return doc.flatMap((f) =>
    f.messages.map((m) => ({
      path: f.filePath.startsWith(dir) ? f.filePath.slice(dir.length + 1) : f.filePath,
      line: m.line,
      rule: m.ruleId ?? 'parse-error',
      severity: 'MEDIUM',
    })),
  );
}

const RANK: Record<string, number> = { CRITICAL: 4, HIGH: 3, MEDIUM: 2, LOW: 1 };

function score(name: string, hits: Hit[], want: Hit[], trapPaths: Set<string>): void {
  const open = [...want];
  const falsePositives: Hit[] = [];
  for (const h of [...hits].sort((a, b) => a.line - b.line)) {
    const i = open.findIndex((w) => w.path === h.path && Math.abs(w.line - h.line) <= 1);
    if (i < 0 || trapPaths.has(h.path)) falsePositives.push(h);
    else open.splice(i, 1);
  }
  const found = want.length - open.length;
  console.log(
    `  ${name}: recall ${found}/${want.length} (${((found / want.length) * 100).toFixed(0)} %), ` +
      `${falsePositives.length} false positives`,
  );
  for (const m of open) console.log(`    missed ${m.rule} at ${m.path}:${m.line}`);
  for (const f of falsePositives)
    console.log(`    false positive ${f.rule} (${f.severity}) at ${f.path}:${f.line}`);
}

function scoreBoth(name: string, hits: Hit[] | undefined, want: Hit[], traps: Set<string>): void {
  if (hits === undefined) {
    console.log(`  ${name}: not installed; skipped`);
    return;
  }
  score(`${name}, all reports`, hits, want, traps);
  score(
    `${name}, MEDIUM or above`,
    hits.filter((h) => (RANK[h.severity.toUpperCase()] ?? 0) >= 2),
    want,
    traps,
  );
}

async function timed(dir: string, flaws: boolean): Promise<{ ms: number; findings: string[] }> {
  const start = performance.now();
  const outcome = await scanRootfs(dir, { analyzers: [...ANALYZERS, codeAnalyzer({ flaws })] });
  if (outcome.status !== 'inventory') throw new Error(outcome.message);
  return {
    ms: performance.now() - start,
    findings: (outcome.inventory.code?.findings ?? []).map((f) => f.ruleId),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function cost(dir: string, runs = 3): Promise<void> {
  const secretsOnly: number[] = [];
  const both: number[] = [];
  let last: string[] = [];
  for (let i = 0; i < runs; i++) {
    secretsOnly.push((await timed(dir, false)).ms);
    const r = await timed(dir, true);
    both.push(r.ms);
    last = r.findings;
  }
  const a = median(secretsOnly);
  const b = median(both);
  console.log(
    `cost on ${dir}: secrets ${(a / 1000).toFixed(2)} s, secrets + code flaws ${(b / 1000).toFixed(2)} s ` +
      `(+${(((b - a) / a) * 100).toFixed(0)} %), medians of ${runs} interleaved runs`,
  );
  const counts = new Map<string, number>();
  for (const id of last) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, n] of [...counts].sort((x, y) => y[1] - x[1])) console.log(`  ${id}: ${n}`);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ki-flaw-corpus-'));
  const dir = join(root, 'rootfs');
  try {
    write(dir, 'etc/os-release', 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n');
    const corpus = flawCorpus();
    for (const f of corpus) write(dir, f.path, f.text);
    const want: Hit[] = corpus.flatMap((f) =>
      f.flaws.map((m) => ({ path: f.path, line: m.line, rule: m.ruleId, severity: '' })),
    );
    const traps = new Set(corpus.filter((f) => f.flaws.length === 0).map((f) => f.path));
    const python = (p: string): boolean => p.endsWith('.py');
    console.log(
      `code-flaw accuracy: ${want.length} planted flaws in ${corpus.length - traps.size} files, ${traps.size} trap files`,
    );
    const mine = await ours(dir);
    scoreBoth('kube-inspector, all languages', mine, want, traps);
    const pyWant = want.filter((w) => python(w.path));
    const pyTraps = new Set([...traps].filter(python));
    console.log(`Python only: ${pyWant.length} planted flaws, ${pyTraps.size} Python trap files`);
    scoreBoth(
      'kube-inspector',
      mine.filter((h) => python(h.path)),
      pyWant,
      pyTraps,
    );
    const all = bandit(dir, []);
    scoreBoth(
      'Bandit, defaults',
      all?.filter((h) => python(h.path)),
      pyWant,
      pyTraps,
    );
    const skipped = ['app/tests', 'usr/local/lib/python3.12/site-packages'];
    const same = bandit(dir, skipped);
    scoreBoth(
      'Bandit, same files as kube-inspector',
      same?.filter((h) => python(h.path)),
      pyWant,
      pyTraps,
    );
    const js = (p: string): boolean => /\.(?:[cm]?js|ts)$/.test(p);
    const jsWant = want.filter((w) => js(w.path));
    const jsTraps = new Set([...traps].filter(js));
    console.log(
      `JavaScript/TypeScript only: ${jsWant.length} planted flaws, ${jsTraps.size} trap files`,
    );
    score(
      'kube-inspector',
      mine.filter((h) => js(h.path)),
      jsWant,
      jsTraps,
    );
    const esl = eslintSecurity(dir);
    if (esl === undefined)
      console.log('  ESLint with eslint-plugin-security: not installed; skipped');
    else
      score(
        'ESLint with eslint-plugin-security',
        esl.filter((h) => js(h.path)),
        jsWant,
        jsTraps,
      );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (process.env.FLAW_BENCH_DIR !== undefined) await cost(process.env.FLAW_BENCH_DIR);
}

await main();
