import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { startControlPlane } from '../../hack/control-plane/control-plane.ts';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

describe('kube-inspector controller against the real API server', () => {
  it('connects with the kubeconfig from KUBECONFIG and reports the server version', () => {
    const result = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', main, 'controller', '--once'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, KUBECONFIG: inject('kubeconfig') },
        timeout: 60_000,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; serverVersion?: string; kinds?: string[] });
    const connected = lines.find((l) => l.msg === 'connected to the Kubernetes API server');
    expect(connected?.serverVersion).toMatch(/^v1\.\d+\.\d+/);
    expect(lines.some((l) => Array.isArray(l.kinds))).toBe(true);
  });
});

describe('kube-inspector controller without the CRDs', () => {
  it('stops at once, naming the kinds that are not installed', async () => {
    // A control plane of its own: other files install the CRDs into the shared one.
    const plane = await startControlPlane({ log: () => {} });
    let result: { status: number | null; stderr: string };
    try {
      const child = spawn(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          main,
          'controller',
          '--metrics-bind-address=127.0.0.1:0',
          '--health-probe-bind-address=127.0.0.1:0',
          '--leader-elect=false',
          '--vulnerability-db=none',
        ],
        { env: { PATH: process.env.PATH, KUBECONFIG: plane.kubeconfig } },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      clearTimeout(timer);
      result = { status, stderr };
    } finally {
      await plane.stop();
    }
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /the CustomResourceDefinitions of ScanConfiguration, CoveredResource, .*SuppressionRule \(kubeinspector\.io\) are not installed: apply crds\//,
    );
    // Finding is served by kube-inspector itself, not a CRD to install.
    expect(result.stderr).not.toContain('Finding');
  });
});
