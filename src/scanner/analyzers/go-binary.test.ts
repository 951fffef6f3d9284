import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanRootfs } from '../rootfs.ts';
import type { FileAnalysis, RandomAccessFile } from './analyzer.ts';
import {
  buildInfoPackages,
  goBinaryAnalyzer,
  goToolchainVersion,
  parseBuildInfo,
  readBuildInfo,
} from './go-binary.ts';
import { planFromHead } from './go-exe.ts';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');

function streamed(data: Buffer, path = 'bin/x', chunk = 65536): FileAnalysis | undefined {
  const scanner = goBinaryAnalyzer.stream!({ path, size: data.length, mode: 0o755 });
  for (let i = 0; i < data.length; i += chunk) {
    if (!scanner.write(data.subarray(i, i + chunk))) break;
  }
  return scanner.end();
}

/** Reads through the random-access path, counting the bytes it asks for. */
async function randomAccess(
  data: Buffer,
  path = 'bin/x',
): Promise<{ result: FileAnalysis | undefined; bytes: number }> {
  let bytes = 0;
  const file: RandomAccessFile = {
    size: data.length,
    read: (offset, length) => {
      const piece = data.subarray(offset, offset + length);
      bytes += piece.length;
      return Promise.resolve(Buffer.from(piece));
    },
  };
  const result = await readBuildInfo(path, file);
  return { result, bytes };
}

/** The module lines and platform settings `go version -m` prints: the reference reading. */
function goVersionM(file: string): { modules: string[]; goos: string; goarch: string } {
  const out = execFileSync('go', ['version', '-m', file], { encoding: 'utf8' });
  const modules: string[] = [];
  let goos = '';
  let goarch = '';
  let pending: string | undefined;
  for (const line of out.split('\n')) {
    const f = line.trim().split('\t');
    if (f[0] === 'dep' || f[0] === 'mod') {
      if (pending !== undefined) modules.push(pending);
      pending = f[2] === '(devel)' || f[2] === undefined ? undefined : `${f[1]}@${f[2]}`;
    } else if (f[0] === '=>') {
      pending = `${f[1]}@${f[2]}`;
    } else if (f[0] === 'build' && f[1]?.startsWith('GOOS=')) goos = f[1].slice(5);
    else if (f[0] === 'build' && f[1]?.startsWith('GOARCH=')) goarch = f[1].slice(7);
  }
  if (pending !== undefined) modules.push(pending);
  return { modules: modules.sort(), goos, goarch };
}

describe('Go build info in module info', () => {
  it('reads main module, dependencies, replacements and the platform', () => {
    const info = [
      'path\texample.com/app',
      'mod\texample.com/app\t(devel)\t',
      'dep\tgolang.org/x/net\tv0.17.0\th1:abc=',
      'dep\tgithub.com/a/b\tv1.0.0\th1:def=',
      '=>\tgithub.com/fork/b\tv1.0.1\th1:ghi=',
      'build\tGOOS=linux',
      'build\tGOARCH=arm64',
    ].join('\n');
    const p = { goos: 'linux', goarch: 'arm64' };
    expect(buildInfoPackages('go1.21.3', info)).toEqual([
      { type: 'golang', name: 'stdlib', version: 'v1.21.3', ...p },
      { type: 'golang', name: 'golang.org/x/net', version: 'v0.17.0', ...p },
      { type: 'golang', name: 'github.com/fork/b', version: 'v1.0.1', ...p },
    ]);
  });

  it('leaves the platform out when the build settings do not name it', () => {
    expect(buildInfoPackages('go1.20', 'path\texample.com/app\n')).toEqual([
      { type: 'golang', name: 'stdlib', version: 'v1.20.0' },
    ]);
  });

  it('reports the go command and the other tools of the Go distribution as the toolchain too', () => {
    const info = 'path\tcmd/go\nbuild\tGOOS=linux\nbuild\tGOARCH=amd64\n';
    expect(buildInfoPackages('go1.22.1', info).map((p) => `${p.name}@${p.version}`)).toEqual([
      'stdlib@v1.22.1',
      'toolchain@v1.22.1',
    ]);
  });

  it('reports a command of the module cmd as the toolchain, a module with a cmd/ folder not', () => {
    const distribution = 'path\tcmd/vet\nmod\tcmd\t(devel)\t\n';
    const other = 'path\tcmd/tool\nmod\texample.com/x\tv1.0.0\th1:a=\n';
    const nested = 'path\texample.com/x/cmd/tool\nmod\texample.com/x\tv1.0.0\th1:a=\n';
    const names = (info: string): string[] =>
      buildInfoPackages('go1.22.1', info).map((p) => p.name);
    expect(names(distribution)).toEqual(['stdlib', 'toolchain']);
    expect(names(other)).toEqual(['stdlib', 'example.com/x']);
    expect(names(nested)).toEqual(['stdlib', 'example.com/x']);
  });

  it('parses a blob in the inline format and refuses the old pointer format', () => {
    const head = Buffer.alloc(32);
    MAGIC.copy(head);
    head[14] = 8;
    head[15] = 2;
    const version = Buffer.from('go1.22rc1');
    const mod = Buffer.from('path\tx\n');
    const blob = Buffer.concat([
      head,
      Buffer.from([version.length]),
      version,
      Buffer.from([mod.length]),
      mod,
    ]);
    expect(parseBuildInfo(blob)).toEqual({ goVersion: 'go1.22rc1', modInfo: 'path\tx\n' });
    expect(parseBuildInfo(blob.subarray(0, 40))).toBeUndefined();
    head[15] = 0;
    expect(parseBuildInfo(head)).toBe('unsupported');
  });

  it.each([
    ['go1.21', 'v1.21.0'],
    ['go1.22.4', 'v1.22.4'],
    ['go1.22rc1', 'v1.22.0-rc.1'],
    ['go1.21beta2', 'v1.21.0-beta.2'],
    ['go1.25.0 X:nodwarf5', 'v1.25.0'],
    ['go1.21-pre3', 'v1.21.0-pre.3'],
    ['go1.25-20250209-RC00 cl/724970549 +ff27d270c9', undefined],
    ['devel +abc', undefined],
  ])('normalises the toolchain version %s to %s, as govulncheck does', (input, want) => {
    expect(goToolchainVersion(input)).toBe(want);
  });
});

describe('Go build info in executables', () => {
  let dir: string;
  const bins: Record<string, Buffer> = {};
  const builds = [
    ['linux-amd64', 'linux', 'amd64', 'app'],
    ['linux-386', 'linux', '386', 'app'],
    ['windows-amd64', 'windows', 'amd64', 'app.exe'],
  ] as const;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ki-gobin-'));
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'go.mod'), 'module example.com/hello\n\ngo 1.21\n');
    writeFileSync(
      join(src, 'main.go'),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    );
    for (const [name, goos, goarch, file] of builds) {
      const out = join(dir, name, file);
      execFileSync('go', ['build', '-trimpath', '-o', out, '.'], {
        cwd: src,
        env: { ...process.env, GOOS: goos, GOARCH: goarch, CGO_ENABLED: '0', GOFLAGS: '' },
        stdio: 'pipe',
      });
      bins[name] = readFileSync(out);
    }
  }, 300_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(builds)(
    'reads a %s binary as go version -m does, streamed and by offset alike',
    async (name, goos, goarch, file) => {
      const data = bins[name]!;
      const want = goVersionM(join(dir, name, file));
      expect(want).toMatchObject({ goos, goarch });
      const { result, bytes } = await randomAccess(data);
      const pkgs = result?.packages ?? [];
      expect(pkgs[0]).toMatchObject({ name: 'stdlib', goos, goarch });
      expect(
        pkgs
          .filter((p) => p.name !== 'stdlib')
          .map((p) => `${p.name}@${p.version}`)
          .sort(),
      ).toEqual(want.modules);
      expect(pkgs.every((p) => p.goos === goos && p.goarch === goarch)).toBe(true);
      expect(streamed(data)).toEqual(result);
      // Headers, the section table and the blob: a few KiB of a file of megabytes.
      expect(bytes).toBeLessThan(64 * 1024);
      expect(data.length).toBeGreaterThan(1024 * 1024);
    },
  );

  it('finds the blob in the first writable region when the ELF file has no section table', async () => {
    const data = Buffer.from(bins['linux-amd64']!);
    // Zero the section-table fields (e_shoff, e_shnum, e_shstrndx), as sstrip does.
    data.fill(0, 0x28, 0x30);
    data.fill(0, 0x3c, 0x40);
    const plan = planFromHead(data.subarray(0, 8192), data.length);
    expect(plan).toMatchObject({ kind: 'region', format: 'ELF' });
    expect(plan.kind === 'region' && plan.sections).toBeFalsy();
    const { result } = await randomAccess(data);
    expect(result?.packages?.map((p) => p.name)).toEqual(['stdlib']);
  });

  it('finds the blob when the writable segment does not start on a 16-byte boundary', () => {
    // As an external linker lays it out (RELRO data first): move the writable segment's start
    // 8 bytes down; the blob keeps its own alignment.
    const data = Buffer.from(bins['linux-amd64']!);
    const phoff = Number(data.readBigUInt64LE(0x20));
    const phentsize = data.readUInt16LE(0x36);
    let moved = 0;
    for (let i = 0; i < data.readUInt16LE(0x38); i++) {
      const at = phoff + i * phentsize;
      if (data.readUInt32LE(at) !== 1 || (data.readUInt32LE(at + 4) & 3) !== 2) continue;
      data.writeBigUInt64LE(data.readBigUInt64LE(at + 8) - 8n, at + 8);
      data.writeBigUInt64LE(data.readBigUInt64LE(at + 16) - 8n, at + 16);
      data.writeBigUInt64LE(data.readBigUInt64LE(at + 32) + 8n, at + 32);
      moved++;
    }
    expect(moved).toBe(1);
    const plan = planFromHead(data.subarray(0, 8192), data.length);
    expect(plan.kind === 'region' && plan.start % 16).toBe(8);
    expect(streamed(data)?.packages?.map((p) => p.name)).toEqual(['stdlib']);
  });

  it('finds build info whatever chunk boundary splits its magic', () => {
    const data = bins['linux-amd64']!;
    const plan = planFromHead(data.subarray(0, 8192), data.length);
    if (plan.kind !== 'region') throw new Error(`unexpected plan ${plan.kind}`);
    const at = data.indexOf(MAGIC, plan.start);
    expect(at).toBeGreaterThan(0);
    const want = streamed(data);
    for (let split = at - 20; split <= at + 40; split++) {
      const scanner = goBinaryAnalyzer.stream!({ path: 'bin/x', size: data.length, mode: 0o755 });
      const pieces = [data.subarray(0, 9000), data.subarray(9000, split), data.subarray(split)];
      for (const p of pieces) if (p.length > 0 && !scanner.write(p)) break;
      expect(scanner.end(), `split at ${split}`).toEqual(want);
    }
  });

  it('ignores an ELF file that is not a Go binary after reading its headers and data', async () => {
    const data = readFileSync('/bin/ls');
    const { result, bytes } = await randomAccess(data);
    expect(result).toBeUndefined();
    expect(bytes).toBeLessThan(data.length);
    expect(streamed(data)).toBeUndefined();
  });

  it('ignores executables that are not ELF or PE files after four bytes', () => {
    const scanner = goBinaryAnalyzer.stream!({ path: 'bin/script', size: 5000, mode: 0o755 });
    expect(scanner.write(Buffer.from('#!/bin/sh\n\xff Go buildinf:', 'latin1'))).toBe(false);
    expect(scanner.end()).toBeUndefined();
  });

  it('says a packed executable cannot be analysed, in both reading modes', async () => {
    // A UPX-packed ELF file: the original headers, the packer's `UPX!` mark, compressed bytes.
    const data = Buffer.concat([bins['linux-amd64']!.subarray(0, 0x200), Buffer.alloc(200_000)]);
    Buffer.from('UPX!', 'latin1').copy(data, 0xf0);
    const { result } = await randomAccess(data, 'usr/bin/packed');
    expect(result?.packages).toBeUndefined();
    expect(result?.warnings).toEqual([
      expect.stringMatching(/^usr\/bin\/packed: .*packed with UPX/),
    ]);
    expect(streamed(data, 'usr/bin/packed')).toEqual(result);
  });

  it('says so when the build info is in a format it does not read', async () => {
    const data = Buffer.from(bins['linux-amd64']!);
    const plan = planFromHead(data.subarray(0, 8192), data.length);
    if (plan.kind !== 'region') throw new Error(`unexpected plan ${plan.kind}`);
    data[data.indexOf(MAGIC, plan.start) + 15] = 0; // the pre-1.18 pointer format's flags
    const { result } = await randomAccess(data, 'app');
    expect(result?.warnings).toEqual([
      expect.stringMatching(/^app: Go build info is in a format .*not analysed$/),
    ]);
    expect(streamed(data, 'app')).toEqual(result);
  });

  it('says so when a streamed file ends inside its build info', () => {
    const data = bins['linux-amd64']!;
    const plan = planFromHead(data.subarray(0, 8192), data.length);
    if (plan.kind !== 'region') throw new Error(`unexpected plan ${plan.kind}`);
    const cut = data.subarray(0, data.indexOf(MAGIC, plan.start) + 34);
    const scanner = goBinaryAnalyzer.stream!({ path: 'app', size: data.length, mode: 0o755 });
    scanner.write(cut);
    expect(scanner.end()?.warnings).toEqual([expect.stringMatching(/^app: .*cut short/)]);
  });

  it('reports packages with their platform and unanalysable files as warnings in a root filesystem scan', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/app'), bins['linux-amd64']!, { mode: 0o755 });
    writeFileSync(join(root, 'usr/bin/app.exe'), bins['windows-amd64']!, { mode: 0o644 });
    const packed = Buffer.concat([bins['linux-amd64']!.subarray(0, 0x200), Buffer.alloc(4096)]);
    Buffer.from('UPX!', 'latin1').copy(packed, 0xf0);
    writeFileSync(join(root, 'usr/bin/packed'), packed, { mode: 0o755 });
    const outcome = await scanRootfs(root);
    if (outcome.status !== 'inventory') throw new Error(outcome.message);
    const inv = outcome.inventory;
    expect(
      inv.packages.map((p) => `${p.filePath} ${p.purl}`).sort((a, b) => (a < b ? -1 : 1)),
    ).toEqual([
      expect.stringMatching(
        /^usr\/bin\/app pkg:golang\/stdlib@v1\.\d+\.\d+\?goarch=amd64&goos=linux$/,
      ),
      expect.stringMatching(
        /^usr\/bin\/app\.exe pkg:golang\/stdlib@v1\.\d+\.\d+\?goarch=amd64&goos=windows$/,
      ),
    ]);
    expect(inv.warnings).toEqual([expect.stringMatching(/^usr\/bin\/packed: .*UPX/)]);
    // Headers and build info only, not the binaries' megabytes.
    expect(inv.stats.uncompressedBytes).toBeLessThan(128 * 1024);
  });
});
