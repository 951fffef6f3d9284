/**
 * A corpus of application files with planted code flaws (each line that must be reported is
 * marked with the rule that must report it) and false-positive traps (safe forms of the same
 * calls, comments, docstrings, tests, installed dependencies, minified vendor code), for the
 * image tests and the accuracy benchmark against other tools.
 */

/** One line of a corpus file, with the rule that must report it. */
type Line = string | [string, string];

export interface CorpusFile {
  path: string;
  text: string;
  /** Planted flaws: rule id and 1-based line. Empty for a trap file. */
  flaws: { ruleId: string; line: number }[];
}

function file(path: string, lines: readonly Line[]): CorpusFile {
  const flaws: CorpusFile['flaws'] = [];
  const text = lines
    .map((l, i) => {
      if (typeof l === 'string') return l;
      flaws.push({ ruleId: l[1], line: i + 1 });
      return l[0];
    })
    .join('\n');
  return { path, text: `${text}\n`, flaws };
}

const PY_HANDLERS: Line[] = [
  'import hashlib',
  'import os',
  'import pickle',
  'import subprocess',
  '',
  'import requests',
  'import yaml',
  '',
  '',
  'def archive(name):',
  [
    '    subprocess.run(f"tar -czf /tmp/{name}.tgz /data/{name}", shell=True)',
    'python-subprocess-shell',
  ],
  '',
  '',
  'def ping(host):',
  ['    return os.system("ping -c 1 " + host)', 'python-os-system'],
  '',
  '',
  'def calc(expr):',
  ['    return eval(expr)', 'python-eval'],
  '',
  '',
  'def find_user(db, name):',
  '    cur = db.cursor()',
  [
    '    cur.execute("SELECT * FROM users WHERE name = \'%s\'" % name)',
    'python-sql-string-building',
  ],
  '    return cur.fetchall()',
  '',
  '',
  'def orders(db, user_id, sort):',
  [
    '    db.execute(f"SELECT id, total FROM orders WHERE user_id = {user_id} ORDER BY {sort}")',
    'python-sql-string-building',
  ],
  '',
  '',
  'def token_hash(token):',
  ['    return hashlib.md5(token.encode()).hexdigest()', 'python-weak-hash'],
  '',
  '',
  'def fetch(url):',
  ['    return requests.get(url, verify=False, timeout=5)', 'python-tls-verify-disabled'],
  '',
  '',
  'def load_session(blob):',
  ['    return pickle.loads(blob)', 'python-pickle-load'],
  '',
  '',
  'def load_config(text):',
  ['    return yaml.load(text, Loader=yaml.Loader)', 'python-yaml-unsafe-load'],
];

const PY_CRYPTO: Line[] = [
  'import ssl',
  '',
  'from Crypto.Cipher import AES, DES',
  '',
  '',
  'def encrypt(key, data):',
  ['    return AES.new(key, AES.MODE_ECB).encrypt(data)', 'python-weak-cipher'],
  '',
  '',
  'def legacy(key, iv, data):',
  ['    return DES.new(key, DES.MODE_CBC, iv).encrypt(data)', 'python-weak-cipher'],
  '',
  '',
  'def context():',
  ['    return ssl._create_unverified_context()', 'python-tls-verify-disabled'],
  '',
  '',
  'def run_hook(code):',
  ['    exec(code, {"__builtins__": {}})', 'python-eval'],
];

/** Safe forms of every Python construct above, and mentions in comments and strings. */
const PY_SAFE: Line[] = [
  '"""Helpers. Never write os.system("rm " + path) or eval(user_input) here."""',
  'import hashlib',
  'import json',
  'import os',
  'import subprocess',
  '',
  'import requests',
  'import yaml',
  'from psycopg import sql',
  '',
  '',
  'def listing():',
  '    return subprocess.run(["ls", "-l", "/data"], check=True)',
  '',
  '',
  'def clear():',
  '    os.system("clear")',
  '',
  '',
  'def version():',
  '    return subprocess.check_output("git describe --tags", shell=True)',
  '',
  '',
  'def find_user(cur, name):',
  '    cur.execute("SELECT * FROM users WHERE name = %s", (name,))',
  '',
  '',
  'def find_in(cur, table, uid):',
  '    query = sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(table))',
  '    cur.execute(query, (uid,))',
  '',
  '',
  'def etag(body):',
  '    return hashlib.md5(body, usedforsecurity=False).hexdigest()',
  '',
  '',
  'def digest(body):',
  '    return hashlib.sha256(body).hexdigest()',
  '',
  '',
  'def config(text):',
  '    return yaml.safe_load(text)',
  '',
  '',
  'def config_again(text):',
  '    return yaml.load(text, Loader=yaml.SafeLoader)',
  '',
  '',
  'def parse(text):',
  '    return json.loads(text)',
  '',
  '',
  'def fetch(url):',
  '    # requests.get(url, verify=False) was here until the CA bundle was added',
  '    return requests.get(url, verify="/etc/ssl/private-ca.pem", timeout=5)',
  '',
  '',
  'HELP = "Set verify=False only against a local test server."',
];

const JS_SERVER: Line[] = [
  "const { exec } = require('child_process');",
  "const crypto = require('crypto');",
  "const https = require('https');",
  '',
  'function archive(name, cb) {',
  ['  exec(`tar -czf /tmp/${name}.tgz /data/${name}`, cb);', 'js-child-process-shell'],
  '}',
  '',
  'function calc(req) {',
  ['  return eval(req.query.expr);', 'js-eval'],
  '}',
  '',
  'function compile(body) {',
  ["  return new Function('input', body);", 'js-new-function'],
  '}',
  '',
  'async function user(pool, id) {',
  ["  return pool.query('SELECT * FROM users WHERE id = ' + id);", 'js-sql-string-building'],
  '}',
  '',
  'function hash(pw) {',
  ["  return crypto.createHash('md5').update(pw).digest('hex');", 'js-weak-hash'],
  '}',
  '',
  'function enc(key, data) {',
  ["  const c = crypto.createCipheriv('des-ede3-cbc', key, Buffer.alloc(8));", 'js-weak-cipher'],
  '  return Buffer.concat([c.update(data), c.final()]);',
  '}',
  '',
  ['const agent = new https.Agent({ rejectUnauthorized: false });', 'js-tls-verify-disabled'],
  ["process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';", 'js-tls-verify-disabled'],
  '',
  'module.exports = { archive, calc, compile, user, hash, enc, agent };',
];

const TS_REPO: Line[] = [
  "import { execSync } from 'node:child_process';",
  "import type { Pool } from 'pg';",
  '',
  'export async function search(pool: Pool, term: string): Promise<unknown[]> {',
  [
    "  const r = await pool.query(`SELECT * FROM items WHERE name LIKE '%${term}%'`);",
    'js-sql-string-building',
  ],
  '  return r.rows;',
  '}',
  '',
  'export function checkout(ref: string): void {',
  ["  execSync('git checkout ' + ref);", 'js-child-process-shell'],
  '}',
];

/** Safe forms of every JavaScript construct above, and mentions in comments and strings. */
const JS_SAFE: Line[] = [
  "import { execFile, exec } from 'node:child_process';",
  "import { createCipheriv, createHash, randomBytes } from 'node:crypto';",
  "import https from 'node:https';",
  '',
  '// Never call exec(`rm -rf ${dir}`) or eval(input) here.',
  '/* rejectUnauthorized: false was removed */',
  "export const help = 'pass rejectUnauthorized: false only in tests';",
  '',
  'export function clone(url, cb) {',
  "  execFile('git', ['clone', url], cb);",
  "  exec('git --version', cb);",
  '}',
  '',
  'export async function user(pool, sql, id) {',
  "  await pool.query('SELECT * FROM users WHERE id = $1', [id]);",
  '  return pool.query(sql`SELECT * FROM users WHERE id = ${id}`);',
  '}',
  '',
  'export function words(text) {',
  '  const m = /(\\w+)\\s(\\w+)/.exec(`${text}`);',
  "  return m && eval('[1, 2]');",
  '}',
  '',
  'export function enc(key, data) {',
  "  const c = createCipheriv('aes-256-gcm', key, randomBytes(12));",
  "  return [c.update(data), c.final(), createHash('sha256').update(data).digest()];",
  '}',
  '',
  'export const agent = new https.Agent({ rejectUnauthorized: true });',
  "export const add = new Function('a', 'b', 'return a + b');",
];

const SH_ENTRYPOINT: Line[] = [
  '#!/bin/sh',
  'set -e',
  ['curl -fsSLk "$CONFIG_URL" -o /etc/app/config.yaml', 'shell-curl-insecure'],
  ['wget --no-check-certificate -q -O /tmp/plugin.tgz "$PLUGIN_URL"', 'shell-curl-insecure'],
  ['export NODE_TLS_REJECT_UNAUTHORIZED=0', 'shell-tls-verify-disabled-env'],
  ['eval "$STARTUP_HOOK"', 'shell-eval'],
  'exec node /app/server.js',
];

/** Safe forms of the shell constructs; an extensionless script found by its `#!` line. */
const SH_SAFE: Line[] = [
  '#!/usr/bin/env bash',
  '# curl -k was needed before the CA bundle; keep it out.',
  'eval "$(ssh-agent -s)"',
  'eval $(dircolors -b)',
  'curl -fsSL --cacert /etc/ssl/private-ca.pem "$URL" -o /tmp/app.tgz',
  'wget -k -q "$DOCS_URL"',
  'echo "never eval $INPUT or use curl -k"',
  'export NODE_TLS_REJECT_UNAUTHORIZED=1',
];

/** The same flaws where the rules must not look. */
const ELSEWHERE: CorpusFile[] = [
  file('app/tests/test_handlers.py', [
    'import requests',
    '',
    'def test_fetch():',
    '    assert requests.get("https://localhost:8443", verify=False).ok',
    '    assert eval(repr(1)) == 1',
  ]),
  file('app/src/server.test.js', ['const r = eval(input);', 'exec(`rm -rf ${tmp}`);']),
  file('usr/local/lib/python3.12/site-packages/legacy/util.py', [
    'import os',
    'def run(cmd):',
    '    return os.system("sh -c " + cmd)',
  ]),
  file('app/node_modules/template-engine/index.js', [
    'module.exports = (src) => new Function("data", "return `" + src + "`");',
    'module.exports.unsafe = (code) => eval(code);',
  ]),
  file('app/static/vendor.min.js', [
    `!function(e){${'e.a=1;'.repeat(200)}eval(e.code);exec(\`x \${e.y}\`)}(this);`,
  ]),
  file('app/docs/SECURITY.md', [
    'Do not write `os.system("rm " + path)` or `requests.get(url, verify=False)`.',
  ]),
];

/** The corpus: planted files first, then traps. */
export function flawCorpus(): CorpusFile[] {
  return [
    file('app/api/handlers.py', PY_HANDLERS),
    file('app/crypto_util.py', PY_CRYPTO),
    file('app/server.js', JS_SERVER),
    file('app/src/repo.ts', TS_REPO),
    file('app/entrypoint.sh', SH_ENTRYPOINT),
    file('app/api/safe.py', PY_SAFE),
    file('app/lib/safe.mjs', JS_SAFE),
    file('app/bin/setup', SH_SAFE),
    ...ELSEWHERE,
  ];
}
