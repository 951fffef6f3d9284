import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { createNamespace, eventually, kubeConfig, kubectl } from './helpers.ts';

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

describe('two controller replicas', () => {
  it('elect one leader, and the other takes over when the leader is killed', async () => {
    const ns = await createNamespace(kubeConfig(), 'leader');
    const start = (name: string) => {
      const child = spawn(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          main,
          'controller',
          '--metrics-bind-address=127.0.0.1:0',
          '--health-probe-bind-address=127.0.0.1:0',
          `--leader-election-namespace=${ns}`,
        ],
        { env: { PATH: process.env.PATH, KUBECONFIG: inject('kubeconfig'), POD_NAME: name } },
      );
      const state = { child, leadingAt: 0, lines: [] as string[] };
      let buffered = '';
      child.stdout.on('data', (c: Buffer) => {
        buffered += c.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          state.lines.push(line);
          if (line.includes('"became leader"')) state.leadingAt = Date.now();
        }
      });
      return state;
    };
    const a = start('replica-a');
    const b = start('replica-b');
    try {
      const first = await eventually('one replica to lead', () =>
        Promise.resolve(a.leadingAt || b.leadingAt ? (a.leadingAt ? a : b) : undefined),
      );
      const other = first === a ? b : a;
      // Only one leads while both run.
      await new Promise((r) => setTimeout(r, 3000));
      expect(other.leadingAt).toBe(0);

      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await eventually(
        'the other replica to take over',
        () => Promise.resolve(other.leadingAt || undefined),
        45_000,
      );
      const gapSeconds = (other.leadingAt - killedAt) / 1000;
      console.log(`leader failover after SIGKILL: ${gapSeconds.toFixed(1)} s`);
      // The lease lasts 15 s and candidates retry every 2 s (jittered up to 2.4 s): well under 30 s.
      expect(gapSeconds).toBeLessThan(30);
      const holder = await kubectl(
        'get',
        'lease',
        '-n',
        ns,
        'kube-inspector-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      );
      expect(holder).toMatch(other === a ? /^replica-a_/ : /^replica-b_/);
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
  }, 90_000);
});
