/**
 * The code-flaw rules: constructs of interpreted code that are weaknesses whatever the program
 * around them does (a shell command built from strings, TLS verification turned off, a weak
 * hash), as data. Each rule is a pattern over the code with comments blanked, plus optional
 * tests on the arguments of the call it finds; no data flow. docs/code-scanning.md lists the
 * same rules, with their limits, for people.
 */
import type { FlawLanguage } from './flaws-lexer.ts';
import type { RuleSeverity } from './rules.ts';

/**
 * What an argument must be for the match to count:
 * - `non-literal`: anything but constant string literals (a variable, a call, an f-string);
 *   for shell, a word that expands a variable or runs a non-constant command;
 * - `built-string`: a string literal combined with something at run time (`+`, `%`,
 *   `.format(`, an f-string field, a template `${…}`);
 * - `built-sql`: a `built-string` whose literal text reads as SQL (starts with a statement
 *   keyword such as SELECT or INSERT, or has a WHERE clause).
 */
export type ArgumentTest = 'non-literal' | 'built-string' | 'built-sql';

export interface FlawRule {
  /** Stable id, used by suppression rules and in finding names: never reuse one. */
  id: string;
  title: string;
  severity: RuleSeverity;
  cwes: readonly string[];
  language: FlawLanguage;
  /** Lower-case words of which at least one must occur (case-insensitively) for the rule to run. */
  keywords: readonly string[];
  /**
   * Global expression over the code with comments blanked. A match that starts inside a string
   * literal is text, not code, and is ignored. For a call, the match includes its `(`; for a
   * shell command, the arguments are the rest of the command after the match.
   */
  pattern: RegExp;
  /** Test on one argument: `index` counts from 0, `last` is the last argument. */
  argument?: { index: number | 'last'; test: ArgumentTest };
  /** Must occur in the construct (match and arguments, string literals blanked). */
  requires?: RegExp;
  /** Must not occur in the construct (string literals blanked): the safe form of the call. */
  unless?: RegExp;
  /** What the rule cannot see, and when it may report something harmless. */
  limits: string;
  remediation: string;
}

const NO_FLOW =
  'Pattern-based, no data flow: it cannot tell whether the value comes from a user or from a constant elsewhere in the program.';

export const FLAW_RULES: readonly FlawRule[] = [
  {
    id: 'python-subprocess-shell',
    title: 'Shell command from a non-literal with shell=True',
    severity: 'HIGH',
    cwes: ['CWE-78'],
    language: 'python',
    keywords: ['shell=true', 'shell = true'],
    pattern: /\b(?:subprocess\.)?(?:call|run|Popen|check_call|check_output)\s*\(/g,
    argument: { index: 0, test: 'non-literal' },
    requires: /\bshell\s*=\s*True\b/,
    limits: `${NO_FLOW} A command held in a variable that is in fact constant is reported; shell=True passed through **kwargs or a variable is missed.`,
    remediation:
      'Pass the command as a list of arguments without shell=True (subprocess.run(["tar", "-xf", path])); if a shell is needed, quote every value with shlex.quote.',
  },
  {
    id: 'python-os-system',
    title: 'Shell command from a non-literal (os.system, os.popen)',
    severity: 'HIGH',
    cwes: ['CWE-78'],
    language: 'python',
    keywords: ['os.system', 'os.popen', 'getoutput', 'getstatusoutput', 'create_subprocess_shell'],
    pattern:
      /\b(?:os\.(?:system|popen[234]?)|subprocess\.(?:getoutput|getstatusoutput)|commands\.getoutput|asyncio\.create_subprocess_shell)\s*\(/g,
    argument: { index: 0, test: 'non-literal' },
    limits: `${NO_FLOW} A command held in a variable that is in fact constant is reported; a function of the program's own named like these is read as the library's.`,
    remediation:
      'Use subprocess.run with a list of arguments and no shell; if a shell is needed, quote every value with shlex.quote.',
  },
  {
    id: 'python-eval',
    title: 'eval or exec of a non-literal',
    severity: 'HIGH',
    cwes: ['CWE-95'],
    language: 'python',
    keywords: ['eval', 'exec'],
    pattern: /(?<![\w.]|def\s{1,10})(?:eval|exec)\s*\(/g,
    argument: { index: 0, test: 'non-literal' },
    limits: `${NO_FLOW} eval or exec called through a module (builtins.eval) or under another name is missed.`,
    remediation:
      'Parse data with ast.literal_eval or json.loads; map names to functions with a dictionary instead of evaluating code.',
  },
  {
    id: 'python-sql-string-building',
    title: 'SQL statement built from strings',
    severity: 'HIGH',
    cwes: ['CWE-89'],
    language: 'python',
    keywords: ['execute', '.raw(', 'mogrify', 'read_sql'],
    pattern: /(?:\.(?:execute|executemany|executescript|raw|mogrify)|\bread_sql(?:_query)?)\s*\(/g,
    argument: { index: 0, test: 'built-sql' },
    limits: `${NO_FLOW} Only a query built in the call is reported; one built on an earlier line and passed as a variable is missed. Composition with psycopg's sql.SQL(...).format(...) is safe and not reported.`,
    remediation:
      'Pass values as query parameters (cursor.execute("SELECT ... WHERE id = %s", (user_id,))); compose identifiers with psycopg.sql or the ORM.',
  },
  {
    id: 'python-weak-hash',
    title: 'Weak hash function (MD5, SHA-1)',
    severity: 'MEDIUM',
    cwes: ['CWE-328', 'CWE-327'],
    language: 'python',
    keywords: ['md5', 'sha1', 'md4', 'sha.new'],
    pattern:
      /\bhashlib\.(?:md5|sha1|md4)\s*\(|\bhashlib\.new\s*\(\s*['"](?:md5|MD5|sha1|SHA1|md4|MD4)['"]|\b(?:MD5|MD4|SHA1|SHA)\.new\s*\(/g,
    unless: /\busedforsecurity\s*=\s*False\b/,
    limits:
      'Reports every MD5 or SHA-1 use not marked usedforsecurity=False, including checksums and cache keys where collisions do not matter; a hash imported under another name (from hashlib import md5) is missed.',
    remediation:
      'Use SHA-256 or better (hashlib.sha256), a password hash (argon2, bcrypt, hashlib.scrypt) for passwords, or mark a non-security use with usedforsecurity=False.',
  },
  {
    id: 'python-weak-cipher',
    title: 'Weak cipher or ECB mode',
    severity: 'HIGH',
    cwes: ['CWE-327'],
    language: 'python',
    keywords: [
      'des.new',
      'des3.new',
      'arc2.new',
      'arc4',
      'blowfish',
      'cast.new',
      'cast5',
      'mode_ecb',
      'modes.ecb',
      'tripledes',
      'algorithms.idea',
      'algorithms.seed',
    ],
    pattern:
      /\b(?:DES3?|ARC2|ARC4|Blowfish|CAST)\.new\s*\(|\balgorithms\.(?:TripleDES|ARC4|Blowfish|CAST5|IDEA|SEED)\s*\(|\bmodes\.ECB\s*\(|\bMODE_ECB\b/g,
    limits:
      'Knows PyCryptodome (Crypto.Cipher) and cryptography (hazmat) spellings; other libraries, or a cipher chosen by name at run time, are missed.',
    remediation:
      'Use an authenticated cipher (AES-GCM or ChaCha20-Poly1305, for example cryptography.fernet or AESGCM) with a random nonce.',
  },
  {
    id: 'python-tls-verify-disabled',
    title: 'TLS certificate verification turned off',
    severity: 'HIGH',
    cwes: ['CWE-295'],
    language: 'python',
    keywords: [
      'verify=false',
      'verify = false',
      '_create_unverified_context',
      'cert_none',
      'check_hostname',
    ],
    // Not in a def line (a parameter's default), not compared (== CERT_NONE), not a mapping's key.
    pattern:
      /(?<!\bdef\s[^\n]{0,300})(?:\bverify\s*=\s*False\b|\bssl\._create_unverified_context\b|(?<![=!]=\s{0,5}(?:ssl\.)?)\bCERT_NONE\b(?!\s*:)|\bcheck_hostname\s*=\s*False\b)/g,
    limits:
      'Reports verify=False on any call or attribute, whatever the function (requests and httpx, but also a numeric solver with a verify option), also in code meant only for a local endpoint or that turns verification off only when a user asks; verification turned off through a variable (verify=settings.VERIFY) or an environment variable is missed.',
    remediation:
      'Keep verification on; to trust a private CA, pass its bundle (verify="/etc/ssl/private-ca.pem", ssl.create_default_context(cafile=...)).',
  },
  {
    id: 'python-pickle-load',
    title: 'Deserialization with pickle',
    severity: 'HIGH',
    cwes: ['CWE-502'],
    language: 'python',
    keywords: ['pickle', 'dill', 'shelve', 'marshal'],
    pattern:
      /\b(?:(?:c?[pP]ickle|_pickle|dill|marshal)\.(?:loads?|Unpickler)|jsonpickle\.decode|shelve\.open|read_pickle)\s*\(/g,
    limits: `${NO_FLOW} Loading a file the program wrote itself is reported too; joblib, torch.load and other pickle-based loaders are missed.`,
    remediation:
      'Exchange data as JSON (or another data-only format); if pickle must stay, sign the bytes (hmac) and check the signature before loading.',
  },
  {
    id: 'python-yaml-unsafe-load',
    title: 'YAML loaded without a safe loader',
    severity: 'HIGH',
    cwes: ['CWE-502'],
    language: 'python',
    keywords: ['yaml.'],
    pattern: /\byaml\.(?:load|load_all|unsafe_load|unsafe_load_all)\s*\(/g,
    // SafeLoader, CSafeLoader and the program's own subclasses named Safe…Loader.
    unless: /\b(?:C?Safe\w*Loader|BaseLoader)\b/,
    limits:
      'A loader passed in a variable, or a safe subclass not named Safe…Loader, is reported even when it is safe; ruamel.yaml and other libraries are not read.',
    remediation: 'Use yaml.safe_load (or Loader=yaml.SafeLoader).',
  },
  {
    id: 'js-child-process-shell',
    title: 'Shell command from a non-literal (child_process.exec)',
    severity: 'HIGH',
    cwes: ['CWE-78'],
    language: 'javascript',
    keywords: ['exec'],
    pattern: /(?:\b(?:child_?process|childProcess|cp|shell)\.|(?<![\w$.]))(?:exec|execSync)\s*\(/g,
    argument: { index: 0, test: 'non-literal' },
    limits: `${NO_FLOW} A command held in a variable that is in fact constant is reported; spawn with shell: true is missed. A function of the program's own named exec is read as child_process.exec.`,
    remediation:
      'Use execFile or spawn with an array of arguments (no shell); never put request values into a shell command line.',
  },
  {
    id: 'js-eval',
    title: 'eval or vm of a non-literal',
    severity: 'HIGH',
    cwes: ['CWE-95'],
    language: 'javascript',
    keywords: ['eval', 'vm.'],
    pattern:
      /(?<![\w$.])eval\s*\(|\bvm\.(?:runInThisContext|runInNewContext|runInContext|compileFunction)\s*\(|\bnew\s+vm\.Script\s*\(/g,
    argument: { index: 0, test: 'non-literal' },
    limits: `${NO_FLOW} Indirect eval ((0, eval)(x), window.eval) and setTimeout with a string are missed.`,
    remediation:
      'Parse data with JSON.parse; look functions up in a map instead of evaluating code.',
  },
  {
    id: 'js-new-function',
    title: 'new Function with a non-literal body',
    severity: 'HIGH',
    cwes: ['CWE-95'],
    language: 'javascript',
    keywords: ['function'],
    pattern: /\bnew\s+Function\s*\(/g,
    argument: { index: 'last', test: 'non-literal' },
    limits: `${NO_FLOW} Function(…) called without new is missed; template engines that compile templates this way are reported.`,
    remediation:
      'Write the function in code; pass data as arguments rather than building source text.',
  },
  {
    id: 'js-sql-string-building',
    title: 'SQL statement built from strings',
    severity: 'HIGH',
    cwes: ['CWE-89'],
    language: 'javascript',
    keywords: ['query', 'execute', 'raw', 'unsafe'],
    pattern: /\.(?:query|execute|raw|unsafe|\$queryRawUnsafe|\$executeRawUnsafe)\s*\(/g,
    argument: { index: 0, test: 'built-sql' },
    limits: `${NO_FLOW} Only a query built in the call is reported (a template literal with \${…} or concatenation); tagged templates (sql\`…\`) are safe and not reported; a query built on an earlier line is missed.`,
    remediation:
      "Pass values as parameters (pool.query('SELECT … WHERE id = $1', [id])) or use the driver's tagged template.",
  },
  {
    id: 'js-weak-hash',
    title: 'Weak hash function (MD5, SHA-1)',
    severity: 'MEDIUM',
    cwes: ['CWE-328', 'CWE-327'],
    language: 'javascript',
    keywords: ['createhash'],
    pattern: /\bcreateHash\s*\(\s*['"`](?:md5|md4|sha1|sha-1|ripemd160|rsa-md5|rsa-sha1)['"`]/gi,
    limits:
      'Reports MD5 and SHA-1 also where collisions do not matter (ETags, cache keys); an algorithm chosen through a variable is missed.',
    remediation: "Use createHash('sha256') or better; for passwords use crypto.scrypt or argon2.",
  },
  {
    id: 'js-weak-cipher',
    title: 'Weak cipher, ECB mode or createCipher',
    severity: 'HIGH',
    cwes: ['CWE-327'],
    language: 'javascript',
    keywords: ['createcipher', 'createdecipher'],
    pattern:
      /\bcreate(?:Cipher|Decipher)\s*\(|\bcreate(?:Cipheriv|Decipheriv)\s*\(\s*['"`](?:(?:des|rc2|rc4|bf|blowfish|cast|idea|seed)[\w-]*|[\w-]*-ecb)['"`]/gi,
    limits:
      'A cipher chosen through a variable is missed; libraries other than node:crypto are not read.',
    remediation:
      "Use an authenticated cipher (createCipheriv('aes-256-gcm', key, randomIv)) and check the tag when decrypting.",
  },
  {
    id: 'js-tls-verify-disabled',
    title: 'TLS certificate verification turned off',
    severity: 'HIGH',
    cwes: ['CWE-295'],
    language: 'javascript',
    keywords: ['rejectunauthorized', 'strictssl', 'node_tls_reject_unauthorized'],
    pattern:
      /(?<!\brequestCert\s*:\s*true\b[^\n]{0,200})\b(?:rejectUnauthorized|strictSSL)\s*[:=]\s*false\b(?![^\n]{0,200}\brequestCert\s*:\s*true)|\bNODE_TLS_REJECT_UNAUTHORIZED\s*[:=]\s*['"`]?0\b|\bprocess\.env\[\s*['"`]NODE_TLS_REJECT_UNAUTHORIZED['"`]\s*\]\s*=\s*['"`]?0\b/g,
    limits:
      'A quoted property name ({"rejectUnauthorized": false}) or a value from a variable is missed; code meant only for a local endpoint is reported too. On a server, rejectUnauthorized: false with requestCert: true on the same line (optional client certificates) is not reported; on separate lines it is.',
    remediation:
      'Keep verification on; to trust a private CA, pass it as ca (https.Agent({ ca })) or set NODE_EXTRA_CA_CERTS.',
  },
  {
    id: 'shell-eval',
    title: 'eval of an expanded value in a shell script',
    severity: 'HIGH',
    cwes: ['CWE-78', 'CWE-95'],
    language: 'shell',
    keywords: ['eval'],
    pattern: /(?<![\w$.-])eval[ \t]+/g,
    argument: { index: 0, test: 'non-literal' },
    limits: `${NO_FLOW} eval of a constant command's output ("$(ssh-agent -s)") is not reported; a variable that is constant in practice is. Heredocs are not read as strings.`,
    remediation:
      'Run the command directly with quoted arguments ("$@", arrays); parse data with read or a real parser instead of evaluating it.',
  },
  {
    id: 'shell-curl-insecure',
    title: 'Download with TLS verification turned off (curl -k, wget --no-check-certificate)',
    severity: 'MEDIUM',
    cwes: ['CWE-295'],
    language: 'shell',
    keywords: ['curl', 'wget'],
    pattern: /(?<![\w$.-])(?:curl|wget)[ \t]/g,
    requires:
      /^curl\b[^\n]*?[ \t](?:-[a-zA-Z]*k[a-zA-Z]*|--insecure)(?=[ \t\\]|$)|^wget\b[^\n]*?[ \t]--no-check-certificate\b/,
    limits:
      'Options in a variable ($CURL_OPTS) or a ~/.curlrc are missed; a clustered short option whose letter before k takes a value (-ok) is misread.',
    remediation:
      'Drop -k/--insecure; trust a private CA with --cacert FILE (wget --ca-certificate FILE), and check downloads against a published checksum.',
  },
  {
    id: 'shell-tls-verify-disabled-env',
    title: 'TLS verification turned off by an environment setting',
    severity: 'HIGH',
    cwes: ['CWE-295'],
    language: 'shell',
    keywords: [
      'node_tls_reject_unauthorized',
      'git_ssl_no_verify',
      'pythonhttpsverify',
      'sslverify',
    ],
    pattern:
      /\b(?:NODE_TLS_REJECT_UNAUTHORIZED=["']?0|GIT_SSL_NO_VERIFY=["']?(?:1|true)|PYTHONHTTPSVERIFY=["']?0)\b|\bhttp\.sslVerify[= ]["']?false\b/g,
    limits: 'Only these four settings; a value from a variable is missed.',
    remediation:
      'Remove the setting; trust a private CA with NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO or SSL_CERT_FILE instead.',
  },
];

/** Looks up a code-flaw rule by id. */
export function flawRule(id: string): FlawRule | undefined {
  return FLAW_RULES.find((r) => r.id === id);
}
