/**
 * Go build-info benchmark (`make bench`): bytes read to find the build info of about 1 GiB of
 * real Go binaries (this machine's: /usr/bin, the Go distribution, the control-plane binaries
 * in the cache), by
 *
 *   1. kube-inspector scanning them as a root filesystem (files read at chosen offsets: the
 *      headers, the ELF section table, the build-info blob),
 *   2. kube-inspector streaming them, as it reads a layer's files (every byte up to the end
 *      of the first writable region passes by; the code before it is not searched),
 *   3. govulncheck (`-mode binary -scan module`) on each binary, when it has been prepared
 *      (hack/govulncheck/tools.ts) and strace is installed: bytes its reads return from the
 *      binary's file descriptors.
 *
 * Environment: GO_BENCH_BYTES (default 1 GiB of binaries).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheRoot } from '../hack/control-plane/binaries.ts';
import { GOVULNCHECK_VERSION } from '../hack/govulncheck/tools.ts';
import type { Analyzer } from '../src/scanner/analyzers/analyzer.ts';
import { goBinaryAnalyzer, readBuildInfo } from '../src/scanner/analyzers/go-binary.ts';
import { scanRootfs } from '../src/scanner/rootfs.ts';

const LIMIT = Number(process.env.GO_BENCH_BYTES ?? 1024 ** 3);

function mb(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function candidates(): string[] {
  const dirs = [
    '/usr/bin',
    join(execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim(), 'bin'),
  ];
  const plane = join(cacheRoot(), 'control-plane');
  if (existsSync(plane)) for (const d of readdirSync(plane)) dirs.push(join(plane, d));
  const out: string[] = [];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) out.push(join(d, name));
  }
  return out;
}

/** Real Go binaries (build info found), one per inode, up to LIMIT bytes in all. */
async function corpus(): Promise<{ files: string[]; bytes: number }> {
  const seen = new Set<string>();
  const files: string[] = [];
  let bytes = 0;
  for (const link of candidates()) {
    // The scan does not follow symlinks: take the file a link points to.
    const path = existsSync(link) ? realpathSync(link) : link;
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isFile() || (st.mode & 0o111) === 0 || st.size < 1024) continue;
    const inode = `${st.dev}:${st.ino}`;
    if (seen.has(inode)) continue;
    seen.add(inode);
    const handle = await open(path, 'r');
    try {
      const result = await readBuildInfo(path, {
        size: st.size,
        read: async (offset, length) => {
          const buf = Buffer.alloc(Math.max(0, Math.min(length, st.size - offset)));
          const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
          return buf.subarray(0, bytesRead);
        },
      });
      if (result?.packages === undefined) continue;
    } finally {
      await handle.close();
    }
    files.push(path);
    bytes += st.size;
    if (bytes >= LIMIT) break;
  }
  return { files, bytes };
}

async function scanned(
  files: string[],
  streamed: boolean,
): Promise<{ bytes: number; seconds: number; packages: number }> {
  // Without readAt, the root-filesystem scan streams files as a layer scan does.
  const streaming: Analyzer = {
    name: goBinaryAnalyzer.name,
    version: goBinaryAnalyzer.version,
    matches: (facts) => goBinaryAnalyzer.matches(facts),
    stream: (facts) => goBinaryAnalyzer.stream!(facts),
  };
  const analyzers = [streamed ? streaming : goBinaryAnalyzer];
  const started = performance.now();
  const outcome = await scanRootfs('/', {
    paths: files.map((f) => f.slice(1)),
    analyzers,
    limits: { timeoutMs: 3_600_000 },
  });
  if (outcome.status !== 'inventory') throw new Error(outcome.message);
  return {
    bytes: outcome.inventory.stats.uncompressedBytes,
    seconds: (performance.now() - started) / 1000,
    packages: outcome.inventory.packages.length,
  };
}

/** Bytes govulncheck's reads return from file descriptors it opened on `binary` (strace). */
function govulncheckBytes(govulncheck: string, db: string, binary: string, log: string): number {
  const args = ['-db', db, '-mode', 'binary', '-scan', 'module', '-json', binary];
  spawnSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=openat,read,pread64,close', '-o', log, govulncheck, ...args],
    {
      stdio: 'ignore',
      env: { ...process.env, GOTOOLCHAIN: 'local' },
    },
  );
  // Calls interrupted by another thread's are printed in two parts: join them first.
  const pending = new Map<string, string>();
  const fds = new Set<string>();
  let bytes = 0;
  for (const raw of readFileSync(log, 'utf8').split('\n')) {
    const tid = /^(\d+)\s+/.exec(raw)?.[1];
    if (tid === undefined) continue;
    let line = raw.slice(raw.indexOf(' ') + 1).trimStart();
    if (line.endsWith('<unfinished ...>')) {
      pending.set(tid, line.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(line);
    if (resumed !== null) line = `${pending.get(tid) ?? ''}${resumed[1]}`;
    const m = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (m === null) continue;
    const [, call, callArgs, ret] = m;
    const fd = callArgs!.split(',')[0]!.trim();
    if (call === 'openat' && callArgs!.includes(JSON.stringify(binary))) fds.add(ret!);
    else if (call === 'close') fds.delete(fd);
    else if ((call === 'read' || call === 'pread64') && Number(ret) > 0 && fds.has(fd))
      bytes += Number(ret);
  }
  return bytes;
}

const { files, bytes } = await corpus();
console.log(`corpus: ${files.length} Go binaries, ${mb(bytes)}`);
const random = await scanned(files, false);
console.log(
  `kube-inspector, files read at offsets: ${mb(random.bytes)} read in ${random.seconds.toFixed(2)} s, ${random.packages} packages`,
);
const stream = await scanned(files, true);
console.log(
  `kube-inspector, files streamed:        ${mb(stream.bytes)} read in ${stream.seconds.toFixed(2)} s, ${stream.packages} packages`,
);
const govulncheck = join(
  cacheRoot(),
  'govulncheck',
  `govulncheck-${GOVULNCHECK_VERSION}`,
  'govulncheck',
);
const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
if (!existsSync(govulncheck) || !hasStrace) {
  console.log(
    `govulncheck: not measured (${hasStrace ? 'run node hack/govulncheck/tools.ts first' : 'strace is not installed'})`,
  );
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'ki-go-bench-'));
  try {
    // An empty database: only the reading of the binaries is measured.
    const db = pathToFileURL(join(tmp, 'db')).href;
    execFileSync('mkdir', ['-p', join(tmp, 'db', 'index'), join(tmp, 'db', 'ID')]);
    execFileSync('sh', [
      '-c',
      `echo '{"modified":"2024-01-01T00:00:00Z"}' > ${tmp}/db/index/db.json; echo '[]' > ${tmp}/db/index/modules.json`,
    ]);
    const started = performance.now();
    let total = 0;
    for (const f of files) total += govulncheckBytes(govulncheck, db, f, join(tmp, 'strace.log'));
    console.log(
      `govulncheck ${GOVULNCHECK_VERSION} (under strace): ${mb(total)} read in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
