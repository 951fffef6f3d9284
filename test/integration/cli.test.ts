import { spawnSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';

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
  it('stops at once, naming the kinds that are not installed', () => {
    // This shared control plane serves none of the product's kinds.
    const result = spawnSync(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        main,
        'controller',
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
        '--leader-elect=false',
      ],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, KUBECONFIG: inject('kubeconfig') },
        timeout: 60_000,
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /the CustomResourceDefinitions of ScanConfiguration, CoveredResource, .*Finding.* \(kubeinspector\.io\) are not installed: apply crds\//,
    );
  });
});
