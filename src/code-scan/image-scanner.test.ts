import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { createImageScanner } from '../scanner/index.ts';
import type { ScanOutcome } from '../scanner/types.ts';
import { fakeSecrets } from './testing.ts';

const s = fakeSecrets('scanner');

function inventory(o: ScanOutcome) {
  if (o.status !== 'inventory') throw new Error(o.message);
  return o.inventory;
}

describe('the controllers’ image scanner with code scanning', { timeout: 30_000 }, () => {
  let registry: TestRegistry;
  let cacheDir: string;
  const image = buildImage({
    layers: [
      [
        { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
        { path: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n' },
        { path: 'app/.env', content: `SLACK_TOKEN=${s['slack-token']}\n` },
      ],
    ],
  });
  beforeAll(async () => {
    registry = await startRegistry();
    cacheDir = mkdtempSync(join(tmpdir(), 'ki-scanner-code-'));
    await pushImage(registry.url, 'shop/app', 'v1', image);
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
    if (cacheDir !== undefined) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('reads secrets only when asked, and keeps the two kinds of results apart in one cache folder', async () => {
    const scanner = createImageScanner({ insecureRegistries: [registry.host], cacheDir });
    const ref = `${registry.host}/shop/app:v1`;
    const plain = inventory(await scanner.scan(ref));
    expect(plain.code).toBeUndefined();
    const code = inventory(await scanner.scan(ref, { codeScanning: true }));
    expect(code.layers.every((l) => l.fromCache)).toBe(false);
    expect(code.code?.findings.map((f) => `${f.ruleId} ${f.path}:${f.line}`)).toEqual([
      'slack-token app/.env:1',
    ]);
    const again = inventory(await scanner.scan(ref, { codeScanning: true }));
    expect(again.layers.every((l) => l.fromCache)).toBe(true);
    expect(again.code?.findings).toEqual(code.code?.findings);
    const plainAgain = inventory(await scanner.scan(ref));
    expect(plainAgain.layers.every((l) => l.fromCache)).toBe(true);
    expect(plainAgain.code).toBeUndefined();
    expect(plainAgain.packages.map((p) => p.name)).toEqual(['musl']);
  });
});
