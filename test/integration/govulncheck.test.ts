// kube-inspector's Go findings compared with govulncheck's (`-mode binary -scan module`) on
// real Go binaries and the real Go vulnerability database, both read by the two tools: every
// (binary, module, advisory) pair must agree, except the differences docs/image-scanning.md
// explains, and exactly those.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepare, type ComparedBinary, type Prepared } from '../../hack/govulncheck/tools.ts';
import { installedPackages } from '../../src/cli/scan-image.ts';
import { scanRootfs } from '../../src/scanner/rootfs.ts';
import { loadDirectory, matchPackages, type VulnDatabase } from '../../src/vulndb/index.ts';

const execFileAsync = promisify(execFile);

/**
 * Pairs only kube-inspector reports, each decided by the record named: the go command is the
 * `toolchain` module too, and govulncheck's binary mode looks up only the standard library
 * and the modules in the build info (the go command has no main module).
 */
const ONLY_KUBE_INSPECTOR: readonly string[] = [
  'go-command toolchain GO-2026-6601',
  'go-command toolchain GO-2026-6602',
];
const ONLY_GOVULNCHECK: readonly string[] = [];

/** Go binaries of Debian packages the project installs (docker-registry, umoci): built with Go 1.19. */
const DEBIAN_BINARIES = ['/usr/bin/docker-registry', '/usr/bin/umoci'];

/** govulncheck -json prints a stream of indented JSON objects, each closed by `}` alone on a line. */
function jsonStream(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let current: string[] = [];
  for (const line of text.split('\n')) {
    current.push(line);
    if (line === '}') {
      out.push(JSON.parse(current.join('\n')) as Record<string, unknown>);
      current = [];
    }
  }
  if (current.join('').trim() !== '') throw new Error('govulncheck output ends mid-object');
  return out;
}

async function govulncheckPairs(prepared: Prepared, binary: string): Promise<Set<string>> {
  const { stdout } = await execFileAsync(
    prepared.govulncheck,
    [
      '-db',
      pathToFileURL(prepared.osvDir).href,
      '-mode',
      'binary',
      '-scan',
      'module',
      '-json',
      binary,
    ],
    { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GOTOOLCHAIN: 'local' } },
  );
  const pairs = new Set<string>();
  for (const message of jsonStream(stdout)) {
    const finding = message['finding'] as { osv: string; trace: { module: string }[] } | undefined;
    if (finding !== undefined) pairs.add(`${finding.trace[0]!.module} ${finding.osv}`);
  }
  return pairs;
}

/** kube-inspector's scanner and matcher, as `kube-inspector scan rootfs --db` runs them. */
async function kubeInspectorPairs(db: VulnDatabase, binary: string): Promise<Set<string>> {
  const root = await mkdtemp(join(tmpdir(), 'ki-govulncheck-'));
  try {
    await copyFile(binary, join(root, basename(binary)));
    const outcome = await scanRootfs(root);
    if (outcome.status !== 'inventory') throw new Error(`${binary}: ${outcome.message}`);
    expect(outcome.inventory.warnings).toEqual([]);
    const pairs = new Set<string>();
    for (const f of matchPackages(db, installedPackages(outcome.inventory)).findings) {
      for (const record of f.records) pairs.add(`${f.package.name} ${record}`);
    }
    return pairs;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('Go findings compared with govulncheck on real binaries', () => {
  let prepared: Prepared;
  let db: VulnDatabase;
  const compared: ComparedBinary[] = [];
  const pairs = new Map<string, { theirs: Set<string>; ours: Set<string> }>();

  beforeAll(async () => {
    prepared = await prepare((line) => console.error(`govulncheck: ${line}`));
    db = await loadDirectory(prepared.osvDir);
    compared.push(...prepared.binaries);
    for (const path of DEBIAN_BINARIES) {
      await access(path, constants.R_OK);
      compared.push({ name: basename(path), path });
    }
    for (const b of compared) {
      pairs.set(b.name, {
        theirs: await govulncheckPairs(prepared, b.path),
        ours: await kubeInspectorPairs(db, b.path),
      });
    }
  }, 600_000);

  it('agrees on every (binary, module, advisory) pair but the documented ones', () => {
    const onlyOurs: string[] = [];
    const onlyTheirs: string[] = [];
    let agreed = 0;
    for (const [name, { theirs, ours }] of pairs) {
      for (const p of ours) {
        if (theirs.has(p)) agreed++;
        else onlyOurs.push(`${name} ${p}`);
      }
      for (const p of theirs) if (!ours.has(p)) onlyTheirs.push(`${name} ${p}`);
    }
    expect(onlyOurs.sort()).toEqual([...ONLY_KUBE_INSPECTOR].sort());
    expect(onlyTheirs.sort()).toEqual([...ONLY_GOVULNCHECK].sort());
    // The comparison is about something: both tools find plenty on these binaries.
    expect(agreed).toBeGreaterThan(200);
    expect(compared.map((b) => b.name)).toEqual([
      'sample-linux-amd64',
      'sample-windows-amd64',
      'go-command',
      'docker-registry',
      'umoci',
    ]);
  });

  it('matches records limited to Windows only against the Windows build', () => {
    const linux = pairs.get('sample-linux-amd64')!.ours;
    const windows = pairs.get('sample-windows-amd64')!.ours;
    // golang.org/x/crypto/acme/autocert and golang.org/x/sys/windows: Windows-only imports.
    for (const p of ['golang.org/x/crypto GO-2024-2961', 'golang.org/x/sys GO-2026-5024']) {
      expect(windows.has(p), p).toBe(true);
      expect(linux.has(p), p).toBe(false);
    }
    // The Debian binaries are linux/amd64 builds of Go 1.19.8: the standard library's
    // Windows-only path/filepath fix of Go 1.20.11 is not theirs.
    const registry = pairs.get('docker-registry')!.ours;
    expect(registry.has('stdlib GO-2023-2185')).toBe(false);
    expect([...registry].filter((p) => p.startsWith('stdlib ')).length).toBeGreaterThan(50);
  });
});
