import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assetVariable, cacheRoot, pidAlive, resolveBinaries } from './binaries.ts';
import { parseGoDuration } from './control-plane.ts';

const scratch = mkdtempSync(join(tmpdir(), 'ki-harness-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fakeBinary(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho fake\n');
  chmodSync(path, 0o755);
  return path;
}

describe('Go durations for the KUBEBUILDER_CONTROLPLANE_*_TIMEOUT variables', () => {
  it.each([
    ['20s', 20_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['250ms', 250],
    ['1h', 3_600_000],
  ])('parses %s as %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '20', 'ten seconds', '5d'])('rejects "%s" with a message naming it', (text) => {
    expect(() => parseGoDuration(text)).toThrow(/duration/);
  });
});

describe('finding the control-plane binaries', () => {
  it('names the envtest variables as envtest does', () => {
    expect(assetVariable('kube-apiserver')).toBe('TEST_ASSET_KUBE_APISERVER');
    expect(assetVariable('kube-controller-manager')).toBe('TEST_ASSET_KUBE_CONTROLLER_MANAGER');
    expect(assetVariable('etcd')).toBe('TEST_ASSET_ETCD');
  });

  it('prefers TEST_ASSET_* over KUBEBUILDER_ASSETS', async () => {
    const assets = mkdtempSync(join(scratch, 'assets-'));
    const explicit = mkdtempSync(join(scratch, 'explicit-'));
    fakeBinary(assets, 'etcd');
    fakeBinary(assets, 'kube-apiserver');
    const etcd = fakeBinary(explicit, 'my-etcd');
    const resolved = await resolveBinaries({
      env: { KUBEBUILDER_ASSETS: assets, TEST_ASSET_ETCD: etcd },
      need: ['etcd', 'kube-apiserver'],
    });
    expect(resolved.binaries.etcd).toBe(etcd);
    expect(resolved.sources.etcd).toBe('TEST_ASSET');
    expect(resolved.binaries['kube-apiserver']).toBe(join(assets, 'kube-apiserver'));
    expect(resolved.sources['kube-apiserver']).toBe('KUBEBUILDER_ASSETS');
  });

  it('refuses a TEST_ASSET_* that is not an executable file, naming the variable', async () => {
    await expect(
      resolveBinaries({ env: { TEST_ASSET_KUBECTL: join(scratch, 'missing') }, need: ['kubectl'] }),
    ).rejects.toThrow(/TEST_ASSET_KUBECTL=.*missing is not an executable file/);
  });

  it('finds binaries already in the cache without building', async () => {
    const cache = mkdtempSync(join(scratch, 'cache-'));
    const env = { KUBE_INSPECTOR_CACHE_DIR: cache, PATH: '/nonexistent' };
    // With no Go on PATH the build fails with a message that says what to do instead.
    await expect(resolveBinaries({ env, need: ['etcd'] })).rejects.toThrow(
      /Go \(>= 1.26\) is not on PATH.*KUBEBUILDER_ASSETS.*USE_EXISTING_CLUSTER/s,
    );
    expect(cacheRoot(env)).toBe(cache);
  });
});

describe('child processes of the harness', () => {
  it('die with the process that started them, even when it is killed with SIGKILL', async () => {
    // A parent starts `sleep` the way the harness starts etcd and kube-apiserver, prints its pid,
    // then is killed without a chance to clean up.
    const script = join(scratch, 'parent.ts');
    const module = new URL('./control-plane.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      [
        "import { execFileSync } from 'node:child_process';",
        `import { Process } from ${JSON.stringify(module)};`,
        `const p = new Process('sleep', 'sleep', ['300'], ${JSON.stringify(join(scratch, 'sleep.log'))}, false);`,
        'p.start();',
        'setTimeout(() => {',
        "  const children = execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' });",
        '  console.log(children.trim());',
        '}, 300);',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const parent = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const pid = Number.parseInt(out, 10);
        if (out.includes('\n') && Number.isFinite(pid)) resolve(pid);
      });
      parent.once('exit', () => reject(new Error(`parent exited early: ${out}`)));
    });
    expect(pidAlive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (pidAlive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pidAlive(childPid)).toBe(false);
  });
});
