import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  layer,
  pushImage,
  startRegistry,
  type BuiltLayer,
  type TarEntry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { RegistryClient } from '../registry/client.ts';
import { analyzersVersion, ANALYZERS } from '../scanner/analyzers/index.ts';
import { LayerCache } from '../scanner/cache.ts';
import { scanImage } from '../scanner/image.ts';
import { analyzeLayer, type LayerAnalysis } from '../scanner/layer.ts';
import { DEFAULT_LIMITS, type Inventory } from '../scanner/types.ts';
import { secretAnalyzer } from './analyzer.ts';
import { excludedBecause } from './files.ts';
import { fakeSecrets, plantedFiles } from './testing.ts';

const s = fakeSecrets('layer');
const planted = plantedFiles('layer');
const osRelease = 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n';

async function analyse(l: BuiltLayer, maxFileBytes?: number): Promise<LayerAnalysis> {
  const analyzers = [
    ...ANALYZERS,
    secretAnalyzer(maxFileBytes === undefined ? {} : { maxFileBytes }),
  ];
  return analyzeLayer(Readable.from([l.blob]), l.compression, {
    name: l.digest,
    limits: DEFAULT_LIMITS,
    budget: { entries: 0, uncompressedBytes: 0 },
    analyzers,
  });
}

describe('which files are application files', () => {
  const table: [string, ReturnType<typeof excludedBecause>][] = [
    ['app/server.js', undefined],
    ['srv/app/.env', undefined],
    ['etc/myapp/config.yaml', undefined],
    ['root/.aws/credentials', undefined],
    ['usr/local/lib/python3.12/site-packages/requests/api.py', undefined],
    ['app/node_modules/left-pad/index.js', undefined],
    ['usr/share/doc/openssl/README', 'os'],
    ['usr/lib/python3/dist-packages/apt/cache.py', 'os'],
    ['usr/bin/perl', 'os'],
    ['var/lib/dpkg/status', 'os'],
    ['usr/local/go/src/crypto/tls/testdata/key.pem', 'os'],
    ['app/node_modules/jsonwebtoken/test/fixtures/key.pem', 'dependency-extra'],
    ['app/node_modules/aws-sdk/README.md', 'dependency-extra'],
    ['app/node_modules/@types/node/fs.d.ts', 'dependency-extra'],
    ['app/src/types.d.ts', undefined],
    ['app/static/logo.png', 'binary'],
    ['app/lib/native.so.1.2', 'binary'],
  ];
  for (const [path, why] of table) {
    it(`${path}: ${why ?? 'scanned'}`, () => expect(excludedBecause(path)).toBe(why));
  }
});

describe('secret scanning in the layer pass', () => {
  it('finds planted secrets in application files, with path and line, and only there', async () => {
    const l = layer(
      [
        { path: 'etc/os-release', content: osRelease },
        ...planted.map((f): TarEntry => ({ path: f.path, content: f.text })),
        // The same secrets in places that are not the application's own.
        { path: 'usr/share/doc/tool/example.env', content: planted[4]!.text },
        { path: 'app/node_modules/sdk/test/creds.js', content: planted[2]!.text },
        // Binary content: skipped, even with a token inside.
        {
          path: 'app/bin/tool',
          content: Buffer.concat([Buffer.from([0x7f, 0x45, 0, 0]), Buffer.from(planted[4]!.text)]),
        },
      ],
      'gzip',
    );
    const a = await analyse(l);
    const byPath = new Map<string, string[]>();
    for (const f of a.files)
      for (const m of f.code ?? []) byPath.set(f.path, [...(byPath.get(f.path) ?? []), m.ruleId]);
    for (const f of planted)
      expect(byPath.get(f.path)?.sort(), f.path).toEqual([...f.ruleIds].sort());
    expect([...byPath.keys()].sort()).toEqual(planted.map((f) => f.path).sort());
    const aws = a.files.find((f) => f.path === 'app/config/aws.ini')!.code!;
    expect(aws.find((m) => m.ruleId === 'aws-access-key-id')).toMatchObject({
      line: 2,
      column: 21,
    });
    expect(a.code).toMatchObject({ files: planted.length + 1, skippedBinary: 1, skippedSize: 0 });
    // Code scanning adds nothing to the overlay: package results are untouched.
    expect(a.removed).toEqual(['etc/os-release']);
  });

  it('skips files over the size cap and counts them', async () => {
    const l = layer(
      [
        { path: 'app/big.js', content: `${'x'.repeat(5000)}\nconst t = "${s['github-token']}";\n` },
        { path: 'app/small.js', content: `const t = "${s['github-token']}";\n` },
      ],
      'none',
    );
    const a = await analyse(l, 4096);
    expect(a.files.map((f) => f.path)).toEqual(['app/small.js']);
    expect(a.code).toMatchObject({ files: 1, skippedSize: 1 });
  });

  it('refuses a size cap that is not a positive integer', () => {
    expect(() => secretAnalyzer({ maxFileBytes: 0 })).toThrow(
      /maxFileBytes must be a positive integer/,
    );
  });
});

describe('secret scanning of a registry image', { timeout: 60_000 }, () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let cacheDir: string;
  const base = layer(
    [
      { path: 'etc/os-release', content: osRelease },
      { path: 'app/.env', content: `GITHUB_TOKEN=${s['github-token']}\n` },
    ],
    'gzip',
  );
  // The next layer deletes the file and copies the same token elsewhere, plus a new secret.
  const top = layer(
    [
      { path: 'app/.wh..env', content: '' },
      { path: 'app/settings.py', content: `# moved\n\nTOKEN = "${s['github-token']}"\n` },
      {
        path: 'app/settings.py.bak',
        content: `DATABASE_URL = "postgres://shop:${s['connection-string-password']}@db:5432/shop"\n`,
      },
    ],
    'zstd',
  );
  const image = buildImage({ layers: [base, top] });

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({
      insecureRegistries: [registry.host],
      retries: 1,
      backoffBaseMs: 10,
    });
    cacheDir = mkdtempSync(join(tmpdir(), 'ki-code-cache-'));
    await pushImage(registry.url, 'leaky', 'v1', image);
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (cacheDir !== undefined) rmSync(cacheDir, { recursive: true, force: true });
  });

  const analyzers = [...ANALYZERS, secretAnalyzer()];
  const scan = async (cache?: LayerCache): Promise<Inventory> => {
    const out = await scanImage(`${registry.host}/leaky:v1`, {
      client,
      analyzers,
      ...(cache === undefined ? {} : { cache }),
    });
    if (out.status !== 'inventory') throw new Error(out.message);
    return out.inventory;
  };

  it('reports a deleted file’s secret for the layer that shipped it, and each secret once per file', async () => {
    const inv = await scan();
    const f = inv.code!.findings.map((x) => `${x.ruleId} ${x.path}:${x.line} ${x.layerDigest}`);
    expect(f.sort()).toEqual(
      [
        `github-token app/.env:1 ${base.digest}`,
        `github-token app/settings.py:3 ${top.digest}`,
        `connection-string-password app/settings.py.bak:1 ${top.digest}`,
      ].sort(),
    );
    // etc/os-release is read too: /etc is configuration, not package-owned as a whole.
    expect(inv.code).toMatchObject({ files: 4, skippedBinary: 0, skippedSize: 0 });
    // The same secret in two files has one fingerprint.
    const gh = inv.code!.findings.filter((x) => x.ruleId === 'github-token');
    expect(gh[0]!.fingerprint).toBe(gh[1]!.fingerprint);
  });

  it('caches code results with the layer, under a key that names the analyzers', async () => {
    const cache = new LayerCache(cacheDir, DEFAULT_LIMITS, analyzersVersion(analyzers));
    const cold = await scan(cache);
    const warm = await scan(cache);
    expect(warm.layers.every((l) => l.fromCache)).toBe(true);
    expect(warm.code!.findings).toEqual(cold.code!.findings);
    // Nothing the scanner writes or returns holds a secret.
    const keyDir = join(cacheDir, 'layers', readdirSync(join(cacheDir, 'layers'))[0]!);
    const written = readFileSync(
      join(keyDir, `${top.digest.slice('sha256:'.length)}.json`),
      'utf8',
    );
    expect(written).toContain('"github-token"');
    for (const secret of [s['github-token']!, s['connection-string-password']!]) {
      expect(written).not.toContain(secret);
      expect(JSON.stringify(warm)).not.toContain(secret);
    }
    expect(analyzersVersion(analyzers)).not.toBe(analyzersVersion(ANALYZERS));
    expect(analyzersVersion([secretAnalyzer({ maxFileBytes: 10 })])).not.toBe(
      analyzersVersion([secretAnalyzer()]),
    );
  });
});
