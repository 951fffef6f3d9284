import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../test/support/registry.ts';
import { RegistryClient } from '../registry/client.ts';
import { scanImage } from './image.ts';
import type { Inventory } from './types.ts';

const fixtures = join(import.meta.dirname, '../../test/fixtures/images');
const status = readFileSync(join(fixtures, 'dpkg/status'), 'utf8');

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}

/**
 * Images made by Debian's umoci (layers, including the whiteouts it writes for deleted files)
 * and copied into the registry by Debian's skopeo, in OCI and Docker formats, gzip and zstd.
 */
describe('images built with umoci and pushed with skopeo', { timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let dir: string;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    dir = mkdtempSync(join(tmpdir(), 'ki-umoci-'));
    const layout = join(dir, 'layout');
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', `${layout}:v1`]);
    // v1: a Debian system with two npm packages.
    const b1 = join(dir, 'b1');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, b1]);
    const root1 = join(b1, 'rootfs');
    mkdirSync(join(root1, 'etc'), { recursive: true });
    mkdirSync(join(root1, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(join(root1, 'etc/os-release'), readFileSync(join(fixtures, 'dpkg/os-release')));
    writeFileSync(join(root1, 'var/lib/dpkg/status'), status);
    for (const name of ['left', 'right']) {
      mkdirSync(join(root1, 'app/node_modules', name), { recursive: true });
      writeFileSync(
        join(root1, 'app/node_modules', name, 'package.json'),
        JSON.stringify({ name, version: '1.0.0' }),
      );
    }
    run('umoci', ['repack', '--image', `${layout}:v1`, b1]);
    // v2: on top of v1, `left` deleted (umoci writes a whiteout) and tzdata removed from dpkg.
    const b2 = join(dir, 'b2');
    run('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, b2]);
    rmSync(join(b2, 'rootfs/app/node_modules/left'), { recursive: true });
    writeFileSync(
      join(b2, 'rootfs/var/lib/dpkg/status'),
      status
        .split('\n\n')
        .filter((s) => !s.startsWith('Package: tzdata\n'))
        .join('\n\n'),
    );
    run('umoci', ['repack', '--image', `${layout}:v2`, b2]);
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const skopeo = (...args: string[]): void =>
      run('skopeo', ['--policy', policy, 'copy', ...args]);
    const push = (from: string, to: string, ...extra: string[]): void =>
      skopeo('--dest-tls-verify=false', ...extra, from, `docker://${registry.host}/${to}`);
    push(`oci:${layout}:v1`, 'umoci/app:v1');
    push(`oci:${layout}:v2`, 'umoci/app:v2');
    push(`oci:${layout}:v2`, 'umoci/docker:v2', '--format', 'v2s2');
    // skopeo keeps compressed blobs as they are: decompress into a layout, recompress with
    // zstd into another, then push that one as it is.
    skopeo('--dest-decompress', `oci:${layout}:v2`, `oci:${join(dir, 'plain')}:v2`);
    skopeo(
      '--dest-compress',
      '--dest-compress-format',
      'zstd',
      `oci:${join(dir, 'plain')}:v2`,
      `oci:${join(dir, 'zstd')}:v2`,
    );
    push(`oci:${join(dir, 'zstd')}:v2`, 'umoci/zstd:v2');
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function inventory(ref: string): Promise<Inventory> {
    const outcome = await scanImage(`${registry.host}/${ref}`, { client });
    if (outcome.status !== 'inventory') throw new Error(`${outcome.reason}: ${outcome.message}`);
    return outcome.inventory;
  }

  it('reads the first image as umoci packed it', async () => {
    const inv = await inventory('umoci/app:v1');
    expect(inv.packages.filter((p) => p.type === 'npm').map((p) => p.name)).toEqual([
      'left',
      'right',
    ]);
    expect(inv.packages.filter((p) => p.type === 'deb').map((p) => p.name)).toContain('tzdata');
  });

  it.each(['umoci/app:v2', 'umoci/docker:v2', 'umoci/zstd:v2'])(
    'honours the whiteout umoci wrote and the rewritten dpkg database in %s',
    async (ref) => {
      const inv = await inventory(ref);
      expect(inv.packages.filter((p) => p.type === 'npm').map((p) => p.name)).toEqual(['right']);
      const debs = inv.packages.filter((p) => p.type === 'deb');
      expect(debs.map((p) => p.name)).not.toContain('tzdata');
      expect(debs).toHaveLength(11);
      // Unchanged packages keep the first layer as their origin.
      expect(new Set(debs.map((p) => p.layerDigest))).toEqual(new Set([inv.layers[0]!.digest]));
    },
  );

  it('sees the formats and compressions skopeo wrote', async () => {
    const docker = await inventory('umoci/docker:v2');
    expect(docker.layers).toHaveLength(2);
    const zstd = await client.resolve({
      registry: registry.host,
      repository: 'umoci/zstd',
      tag: 'v2',
    });
    expect(zstd.manifest.layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ]);
    const dockerImage = await client.resolve({
      registry: registry.host,
      repository: 'umoci/docker',
      tag: 'v2',
    });
    expect(dockerImage.manifestMediaType).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    );
  });
});
