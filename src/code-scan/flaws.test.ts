import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lex } from './flaws-lexer.ts';
import { FLAW_RULES } from './flaws-rules.ts';
import {
  codeRule,
  findFlaws,
  findFlawsInFile,
  flawLanguage,
  MAX_FLAWS_PER_FILE,
  type FlawLanguage,
} from './flaws.ts';

/** [rule id, language, code, whether the rule must report it]. */
type Case = [string, FlawLanguage, string, boolean];

const cases: Case[] = [
  // Shell commands from Python.
  ['python-subprocess-shell', 'python', 'subprocess.run(f"tar -xf {name}", shell=True)', true],
  ['python-subprocess-shell', 'python', 'subprocess.Popen(cmd, shell=True, stdout=PIPE)', true],
  ['python-subprocess-shell', 'python', 'check_output("ls " + d,\n    shell=True)', true],
  ['python-subprocess-shell', 'python', 'subprocess.run("ls -l /tmp", shell=True)', false],
  ['python-subprocess-shell', 'python', 'subprocess.run(["tar", "-xf", name])', false],
  ['python-subprocess-shell', 'python', 'subprocess.run(cmd, shell=False)', false],
  ['python-subprocess-shell', 'python', '# subprocess.run(cmd, shell=True)', false],
  ['python-os-system', 'python', 'os.system("rm -rf " + path)', true],
  ['python-os-system', 'python', 'os.system(f"ping -c 1 {host}")', true],
  ['python-os-system', 'python', 'out = os.popen("git log %s" % ref).read()', true],
  ['python-os-system', 'python', 'os.system("cmd {}".format(arg))', true],
  ['python-os-system', 'python', 'os.system(cmd)', true],
  ['python-os-system', 'python', 'os.system("clear")', false],
  ['python-os-system', 'python', 'os.system(CLEAR_COMMAND)', false],
  ['python-os-system', 'python', 'os.system("ls " + ROOT_DIR)', false],
  ['python-os-system', 'python', 'os.system(f"clear")', false],
  ['python-os-system', 'python', 'print("os.system(\'rm \' + path)")', false],
  ['python-os-system', 'python', '"""Never call os.system("x" + y) here."""', false],
  // eval and exec.
  ['python-eval', 'python', 'value = eval(request.args["expr"])', true],
  ['python-eval', 'python', 'exec(f"import {module}")', true],
  ['python-eval', 'python', 'eval("1 + 2")', false],
  ['python-eval', 'python', 'model.eval()', false],
  ['python-eval', 'python', 'cursor.execute(query)', false],
  ['python-eval', 'python', 'def eval(self, x):\n    return x', false],
  ['python-eval', 'python', 'x = 1  # eval(user_input)', false],
  // SQL.
  [
    'python-sql-string-building',
    'python',
    'cur.execute("SELECT * FROM users WHERE name = \'" + name + "\'")',
    true,
  ],
  ['python-sql-string-building', 'python', 'cur.execute(f"DELETE FROM t WHERE id = {i}")', true],
  [
    'python-sql-string-building',
    'python',
    'cur.execute("UPDATE t SET a = %s WHERE id = %s" % (a, i))',
    true,
  ],
  [
    'python-sql-string-building',
    'python',
    'cur.execute(\n  """\n  SELECT * FROM t WHERE id = {}\n  """.format(i)\n)',
    true,
  ],
  [
    'python-sql-string-building',
    'python',
    'cur.execute("SELECT * FROM users WHERE id = %s", (user_id,))',
    false,
  ],
  [
    'python-sql-string-building',
    'python',
    'cur.execute(sql.SQL("SELECT * FROM {} WHERE id = %s").format(sql.Identifier(t)), (i,))',
    false,
  ],
  ['python-sql-string-building', 'python', 'executor.execute(f"job-{n}")', false],
  ['python-sql-string-building', 'python', 'cur.execute(f"SELECT * FROM {TABLE} LIMIT 1")', false],
  [
    'python-sql-string-building',
    'python',
    'cur.execute(f"SELECT * FROM t WHERE id = {uid!r}")',
    true,
  ],
  ['python-sql-string-building', 'python', 'cur.execute(query)', false],
  // Weak hashes and ciphers.
  ['python-weak-hash', 'python', 'digest = hashlib.md5(password.encode()).hexdigest()', true],
  ['python-weak-hash', 'python', "h = hashlib.new('sha1')", true],
  ['python-weak-hash', 'python', 'hashlib.md5(data, usedforsecurity=False)', false],
  ['python-weak-hash', 'python', 'hashlib.sha256(data)', false],
  ['python-weak-cipher', 'python', 'cipher = AES.new(key, AES.MODE_ECB)', true],
  ['python-weak-cipher', 'python', 'DES.new(key, DES.MODE_CBC, iv)', true],
  ['python-weak-cipher', 'python', 'Cipher(algorithms.TripleDES(key), modes.CBC(iv))', true],
  ['python-weak-cipher', 'python', 'Cipher(algorithms.AES(key), modes.GCM(iv))', false],
  // TLS.
  ['python-tls-verify-disabled', 'python', 'requests.get(url, verify=False)', true],
  ['python-tls-verify-disabled', 'python', 'ctx = ssl._create_unverified_context()', true],
  ['python-tls-verify-disabled', 'python', 'ctx.verify_mode = ssl.CERT_NONE', true],
  ['python-tls-verify-disabled', 'python', 'requests.get(url, verify=True)', false],
  ['python-tls-verify-disabled', 'python', 'if ctx.verify_mode == ssl.CERT_NONE:\n  warn()', false],
  ['python-tls-verify-disabled', 'python', 'help = "pass verify=False to skip checks"', false],
  ['python-tls-verify-disabled', 'python', 'def __init__(self, sign=False, verify=False):', false],
  ['python-tls-verify-disabled', 'python', 'MODES = {ssl.CERT_NONE: VERIFY_NONE}', false],
  ['python-tls-verify-disabled', 'python', 'session.verify = False', true],
  // Deserialization.
  ['python-pickle-load', 'python', 'obj = pickle.loads(request.data)', true],
  ['python-pickle-load', 'python', 'data = cPickle.load(f)', true],
  ['python-pickle-load', 'python', 'blob = pickle.dumps(obj)', false],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.load(stream)', true],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.load(stream, Loader=yaml.Loader)', true],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.unsafe_load(stream)', true],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.load(stream, Loader=yaml.SafeLoader)', false],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.safe_load(stream)', false],
  ['python-yaml-unsafe-load', 'python', 'cfg = yaml.load(stream, SafeOrderedLoader)', false],
  // JavaScript.
  ['js-child-process-shell', 'javascript', 'exec(`git clone ${url}`, cb);', true],
  ['js-child-process-shell', 'javascript', "child_process.execSync('rm -rf ' + dir);", true],
  ['js-child-process-shell', 'javascript', 'exec(command, { cwd }, cb);', true],
  ['js-child-process-shell', 'javascript', "cp.exec('ls -l', cb);", false],
  [
    'js-child-process-shell',
    'javascript',
    'class K { async exec(ns, pod, command) { return 1; } }',
    false,
  ],
  [
    'js-child-process-shell',
    'javascript',
    'Db.prototype.exec = function exec(sql, params) {',
    false,
  ],
  ['js-child-process-shell', 'javascript', 'function exec(cmd: string): Promise<void> {}', false],
  ['js-child-process-shell', 'javascript', 'const m = /a(b)/.exec(`${s}`);', false],
  ['js-child-process-shell', 'javascript', "execFile('git', ['clone', url]);", false],
  ['js-child-process-shell', 'javascript', '// exec(`rm ${x}`)', false],
  ['js-eval', 'javascript', 'const v = eval(req.query.expr);', true],
  ['js-eval', 'javascript', 'vm.runInNewContext(code, sandbox);', true],
  ['js-eval', 'javascript', "eval('2 + 2');", false],
  ['js-eval', 'javascript', 'const s = "eval(x)";', false],
  ['js-new-function', 'javascript', 'const f = new Function("a", body);', true],
  ['js-new-function', 'javascript', 'const f = new Function("a", "b", "return a + b");', false],
  [
    'js-sql-string-building',
    'javascript',
    'await pool.query(`SELECT * FROM users WHERE id = ${req.params.id}`);',
    true,
  ],
  [
    'js-sql-string-building',
    'javascript',
    "db.query('SELECT * FROM t WHERE name = \\'' + name + \"'\");",
    true,
  ],
  [
    'js-sql-string-building',
    'javascript',
    "await pool.query('SELECT * FROM users WHERE id = $1', [id]);",
    false,
  ],
  [
    'js-sql-string-building',
    'javascript',
    'await db.query(sql`SELECT * FROM users WHERE id = ${id}`);',
    false,
  ],
  ['js-sql-string-building', 'javascript', 'const r = router.query(`page=${n}`);', false],
  [
    'js-sql-string-building',
    'javascript',
    'await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);',
    false,
  ],
  [
    'js-sql-string-building',
    'javascript',
    'await client.query(`SELECT * FROM t WHERE id = ${req.params.ID}`);',
    true,
  ],
  ['js-weak-hash', 'javascript', "crypto.createHash('md5').update(pw).digest('hex');", true],
  ['js-weak-hash', 'javascript', 'createHash("SHA1")', true],
  ['js-weak-hash', 'javascript', "createHash('sha256')", false],
  ['js-weak-cipher', 'javascript', "crypto.createCipheriv('des-ede3-cbc', key, iv);", true],
  ['js-weak-cipher', 'javascript', "crypto.createCipheriv('aes-128-ecb', key, null);", true],
  ['js-weak-cipher', 'javascript', "crypto.createCipher('aes192', password);", true],
  ['js-weak-cipher', 'javascript', "crypto.createCipheriv('aes-256-gcm', key, iv);", false],
  [
    'js-tls-verify-disabled',
    'javascript',
    'https.request({ host, rejectUnauthorized: false });',
    true,
  ],
  ['js-tls-verify-disabled', 'javascript', "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';", true],
  [
    'js-tls-verify-disabled',
    'javascript',
    "process.env['NODE_TLS_REJECT_UNAUTHORIZED'] = '0';",
    true,
  ],
  ['js-tls-verify-disabled', 'javascript', 'new https.Agent({ rejectUnauthorized: true });', false],
  ['js-tls-verify-disabled', 'javascript', '/* rejectUnauthorized: false */', false],
  [
    'js-tls-verify-disabled',
    'javascript',
    'createServer({ ...tls, requestCert: true, rejectUnauthorized: false }, handler);',
    false,
  ],
  // Shell.
  ['shell-eval', 'shell', 'eval "$CMD"', true],
  ['shell-eval', 'shell', 'eval $1', true],
  ['shell-eval', 'shell', 'eval "docker run $ARGS"', true],
  ['shell-eval', 'shell', 'eval "$(ssh-agent -s)"', false],
  ['shell-eval', 'shell', 'eval $(minikube docker-env)', false],
  ['shell-eval', 'shell', "eval 'echo done'", false],
  ['shell-eval', 'shell', '# eval "$CMD"', false],
  ['shell-eval', 'shell', 'echo "do not eval $x"', false],
  ['shell-curl-insecure', 'shell', 'curl -k https://example.test/install.sh | sh', true],
  ['shell-curl-insecure', 'shell', 'curl -fsSLk "$URL" -o /tmp/x', true],
  ['shell-curl-insecure', 'shell', 'curl --insecure \\\n  https://example.test/', true],
  ['shell-curl-insecure', 'shell', 'wget --no-check-certificate -O app.tgz "$URL"', true],
  ['shell-curl-insecure', 'shell', 'curl -fsSL https://example.test/ -o app.tgz', false],
  ['shell-curl-insecure', 'shell', 'curl -H "X-Note: -k" https://example.test/', false],
  ['shell-curl-insecure', 'shell', 'wget -k https://example.test/', false],
  ['shell-curl-insecure', 'shell', 'curl https://example.test/; ls -k', false],
  ['shell-tls-verify-disabled-env', 'shell', 'export NODE_TLS_REJECT_UNAUTHORIZED=0', true],
  ['shell-tls-verify-disabled-env', 'shell', 'git config --global http.sslVerify false', true],
  ['shell-tls-verify-disabled-env', 'shell', 'GIT_SSL_NO_VERIFY=true git clone "$REPO"', true],
  ['shell-tls-verify-disabled-env', 'shell', 'export NODE_TLS_REJECT_UNAUTHORIZED=1', false],
];

describe('code-flaw rules', () => {
  for (const [id, language, code, reported] of cases) {
    it(`${id}: ${reported ? 'reports' : 'does not report'} ${JSON.stringify(code)}`, () => {
      const ids = findFlaws(`${code}\n`, language).map((m) => m.ruleId);
      if (reported) expect(ids).toContain(id);
      else expect(ids).not.toContain(id);
    });
  }

  it('every rule has a true positive and a trap in the table', () => {
    for (const r of FLAW_RULES) {
      expect(
        cases.some(([id, , , yes]) => id === r.id && yes),
        r.id,
      ).toBe(true);
      expect(
        cases.some(([id, , , yes]) => id === r.id && !yes),
        r.id,
      ).toBe(true);
    }
  });

  it('every rule has an id, a CWE, limits and a remediation, and ids are unique', () => {
    const ids = new Set<string>();
    for (const r of FLAW_RULES) {
      expect(r.id).toMatch(/^(?:python|js|shell)-[a-z0-9-]+$/);
      expect(ids.has(r.id)).toBe(false);
      ids.add(r.id);
      expect(r.cwes.length).toBeGreaterThan(0);
      for (const c of r.cwes) expect(c).toMatch(/^CWE-\d+$/);
      expect(r.limits.length).toBeGreaterThan(20);
      expect(r.remediation.length).toBeGreaterThan(20);
      expect(r.pattern.flags).toContain('g');
      for (const k of r.keywords) expect(k).toBe(k.toLowerCase());
    }
  });

  it('docs/code-scanning.md lists every rule with its title, severity and CWE ids', () => {
    const page = readFileSync(new URL('../../docs/code-scanning.md', import.meta.url), 'utf8');
    for (const r of FLAW_RULES) {
      const row = page.split('\n').find((l) => l.startsWith(`| \`${r.id}\``));
      expect(row, r.id).toBeDefined();
      expect(row).toContain(r.title);
      expect(row).toContain(r.severity);
      for (const c of r.cwes) expect(row).toContain(c);
    }
  });

  it('locates a match by line and column and fingerprints its line, not its position', () => {
    const code = 'import os\n\ndef run(host):\n    os.system("ping " + host)\n';
    const [m] = findFlaws(code, 'python');
    expect(m).toMatchObject({ ruleId: 'python-os-system', line: 4, column: 5, endLine: 4 });
    expect(m!.fingerprint).toMatch(/^[0-9a-f]{20}$/);
    const moved = findFlaws(`# a new header line\n${code}`, 'python');
    expect(moved[0]!.line).toBe(5);
    expect(moved[0]!.fingerprint).toBe(m!.fingerprint);
    const twice = findFlaws(`${code}${code}`, 'python');
    expect(twice.map((f) => f.line)).toEqual([4, 8]);
    expect(twice[0]!.fingerprint).not.toBe(twice[1]!.fingerprint);
  });

  it('reports a call spread over lines from its first line to its last', () => {
    const [m] = findFlaws('subprocess.run(\n  cmd,\n  shell=True,\n)\n', 'python');
    expect(m).toMatchObject({ line: 1, endLine: 4 });
  });

  it(`stops at ${MAX_FLAWS_PER_FILE} matches in one file, and skips minified lines`, () => {
    const many = 'requests.get(u, verify=False)\n'.repeat(MAX_FLAWS_PER_FILE + 20);
    expect(findFlaws(many, 'python')).toHaveLength(MAX_FLAWS_PER_FILE);
    const minified = `var a=1;${'x=1;'.repeat(300)}eval(a);\n`;
    expect(findFlaws(minified, 'javascript')).toEqual([]);
  });

  it('reads an unterminated string or call without running away', () => {
    expect(findFlaws('os.system("rm " + (x\n', 'python')).toEqual([]);
    expect(findFlaws('exec(`rm ${x', 'javascript')).toEqual([]);
    expect(findFlaws('eval "$x', 'shell')).toEqual([]);
  });
});

describe('which files the code-flaw rules read', () => {
  const table: [string, string, FlawLanguage | undefined][] = [
    ['app/main.py', '', 'python'],
    ['app/server.mjs', '', 'javascript'],
    ['app/src/routes.ts', '', 'javascript'],
    ['entrypoint.sh', '', 'shell'],
    ['usr/local/bin/start', '#!/bin/sh\nexec app\n', 'shell'],
    ['usr/local/bin/tool', '#!/usr/bin/env python3\n', 'python'],
    ['app/bin/cli', '#!/usr/bin/env node\n', 'javascript'],
    ['app/bin/data', 'no shebang\n', undefined],
    ['app/node_modules/lodash/lodash.js', '', undefined],
    ['usr/local/lib/python3.12/site-packages/yaml/__init__.py', '', undefined],
    ['app/vendor/lib.py', '', undefined],
    ['app/tests/test_api.py', '', undefined],
    ['app/test_api.py', '', undefined],
    ['app/api_test.py', '', undefined],
    ['app/src/api.test.ts', '', undefined],
    ['app/static/app.min.js', '', undefined],
    ['app/src/types.d.ts', '', undefined],
    ['app/README.md', '', undefined],
  ];
  for (const [path, head, language] of table) {
    it(`${path}: ${language ?? 'skipped'}`, () => expect(flawLanguage(path, head)).toBe(language));
  }

  it('finds nothing in a dependency or a test file even with a flaw in it', () => {
    const code = 'import os\nos.system("rm " + p)\n';
    expect(findFlawsInFile('app/jobs.py', code)).toHaveLength(1);
    expect(findFlawsInFile('app/node_modules/x/jobs.py', code)).toEqual([]);
    expect(findFlawsInFile('app/tests/jobs.py', code)).toEqual([]);
  });
});

describe('the lexer the rules read through', () => {
  it('blanks comments but keeps line breaks and offsets', () => {
    const text = 'a = 1 # note\n/* x */b';
    expect(lex(text, 'python').code).toBe('a = 1       \n/* x */b');
    const js = lex('a /* one\ntwo */ b // c\n', 'javascript');
    expect(js.code).toBe('a       \n       b     \n');
  });

  it('tells literal strings from interpolated ones in each language', () => {
    const spans = (t: string, l: FlawLanguage) =>
      lex(t, l).strings.map((s) => `${t.slice(s.start, s.end)}${s.interpolated ? '*' : ''}`);
    expect(spans('a = f"{x}" + f"{{y}}" + rb\'z\' + """q"""', 'python')).toEqual([
      'f"{x}"*',
      'f"{{y}}"',
      "rb'z'",
      '"""q"""',
    ]);
    expect(spans('x = `a${b + `c${d}`}` + "e" / 2 + /f"/g', 'javascript')).toEqual([
      '`a${b + `c${d}`}`*',
      '"e"',
      '/f"/',
    ]);
    expect(spans('echo "$a" \'$b\' "$(date)" "x"', 'shell')).toEqual([
      '"$a"*',
      "'$b'",
      '"$(date)"',
      '"x"',
    ]);
  });
});

describe('rule lookup for findings and SARIF', () => {
  it('knows secret rules and flaw rules apart', () => {
    expect(codeRule('github-token')).toMatchObject({ kind: 'secret', cwes: ['CWE-798'] });
    expect(codeRule('python-eval')).toMatchObject({
      kind: 'code-flaw',
      language: 'python',
      cwes: ['CWE-95'],
    });
    expect(codeRule('no-such-rule')).toBeUndefined();
  });
});
