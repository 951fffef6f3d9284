import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureGate, findKubelet, parseKubeletFlags, readKubelet } from './kubelet-process.ts';

describe('parseKubeletFlags', () => {
  it.each([
    ['--flag=value', ['--config=/etc/k.yaml'], { '--config': '/etc/k.yaml' }],
    ['--flag value', ['--config', '/etc/k.yaml'], { '--config': '/etc/k.yaml' }],
    [
      'a bare boolean flag before another flag',
      ['--anonymous-auth', '--v=2'],
      { '--anonymous-auth': 'true', '--v': '2' },
    ],
    [
      'a bare boolean flag at the end',
      ['--v', '2', '--rotate-certificates'],
      { '--v': '2', '--rotate-certificates': 'true' },
    ],
    ['a single dash', ['-v=4', '-kubeconfig', '/k'], { '--v': '4', '--kubeconfig': '/k' }],
    [
      'the last one given wins',
      ['--read-only-port=0', '--read-only-port', '10255'],
      { '--read-only-port': '10255' },
    ],
    ['an empty value', ['--hostname-override='], { '--hostname-override': '' }],
    [
      'a value with = in it',
      ['--feature-gates=A=true,B=false'],
      { '--feature-gates': 'A=true,B=false' },
    ],
    ['a word after a flag with = is not its value', ['--v=2', 'stray'], { '--v': '2' }],
  ])('%s', (_name, args, flags) => {
    expect(Object.fromEntries(parseKubeletFlags(args))).toEqual(flags);
  });

  it('reads one gate of --feature-gates', () => {
    const flags = parseKubeletFlags([
      '--feature-gates=NodeSwap=true, RotateKubeletServerCertificate=false',
    ]);
    expect(featureGate(flags, 'RotateKubeletServerCertificate')).toBe('false');
    expect(featureGate(flags, 'NodeSwap')).toBe('true');
    expect(featureGate(flags, 'Other')).toBeUndefined();
    expect(featureGate(parseKubeletFlags([]), 'NodeSwap')).toBeUndefined();
  });
});

describe('the kubelet process in the real /proc', () => {
  // An executable file named kubelet (a copy of tail, which keeps running with these flags) so
  // /proc shows what it shows for a kubelet: comm, exe and cmdline.
  let dir: string;
  let child: ChildProcess;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubelet-process-'));
    copyFileSync('/usr/bin/tail', join(dir, 'kubelet'));
    child = spawn(
      join(dir, 'kubelet'),
      ['--sleep-interval', '30', '--follow=name', '--retry', '/dev/null'],
      { stdio: 'ignore' },
    );
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  });
  afterAll(() => {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is found by its executable, with its flags', async () => {
    const found = await readKubelet('/proc', child.pid!);
    expect(found?.pid).toBe(child.pid);
    expect(Object.fromEntries(found!.flags)).toEqual({
      '--sleep-interval': '30',
      '--follow': 'name',
      // `--retry /dev/null`: a bare flag followed by a word reads as `--flag value`.
      '--retry': '/dev/null',
    });
    // Some kubelet is in sight (this one, or an older one running on the machine).
    expect(await findKubelet('/proc')).toBeDefined();
  });

  it('another process is not the kubelet; a folder without processes has none', async () => {
    expect(await readKubelet('/proc', process.pid)).toBeUndefined();
    expect(await findKubelet(dir)).toBeUndefined();
    expect(await findKubelet(join(dir, 'missing'))).toBeUndefined();
  });
});
