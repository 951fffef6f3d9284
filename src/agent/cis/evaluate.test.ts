import {
  chmodSync,
  readFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CIS_CHECKS } from './checks.ts';
import { evaluateCis } from './evaluate.ts';

const KUBELET_CONFIG = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
readOnlyPort: 0
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
podPidsLimit: 4096
rotateCertificates: true
serverTLSBootstrap: true
`;

const MOUNTS = [
  '/dev/sda1 / ext4 rw,relatime 0 0',
  'tmpfs /tmp tmpfs rw,nosuid,nodev,noexec,relatime 0 0',
  'tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0',
  '',
].join('\n');

/** A node laid out as kubeadm lays out a worker, passing every check. */
function passingNode(root: string): void {
  const file = (path: string, content: string, mode = 0o600) => {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    chmodSync(p, mode);
    chownSync(p, 0, 0);
  };
  file('etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '[Service]\n');
  file('etc/kubernetes/kubelet.conf', 'apiVersion: v1\nkind: Config\n');
  file('etc/kubernetes/pki/ca.crt', '-----BEGIN CERTIFICATE-----\n');
  file('var/lib/kubelet/config.yaml', KUBELET_CONFIG);
  file('proc/1/mounts', MOUNTS, 0o444);
  for (const conf of ['all', 'default']) {
    file(`proc/sys/net/ipv4/conf/${conf}/send_redirects`, '0\n', 0o644);
    file(`proc/sys/net/ipv4/conf/${conf}/accept_redirects`, '0\n', 0o644);
    file(`proc/sys/net/ipv6/conf/${conf}/accept_redirects`, '0\n', 0o644);
  }
  file('proc/sys/net/ipv4/tcp_syncookies', '1\n', 0o644);
  file('proc/sys/kernel/randomize_va_space', '2\n', 0o644);
}

const config = (from: string, to: string) => (root: string) =>
  writeFileSync(join(root, 'var/lib/kubelet/config.yaml'), KUBELET_CONFIG.replace(from, to));
const sys = (path: string, value: string) => (root: string) =>
  writeFileSync(join(root, 'proc/sys', path), `${value}\n`);
const mounts = (from: string, to: string) => (root: string) =>
  writeFileSync(join(root, 'proc/1/mounts'), MOUNTS.replace(from, to));

/** One way to break each check, and what the result then says. */
const FAILING: Record<string, { breakIt: (root: string) => void; found: string }> = {
  '4.1.1': {
    breakIt: (r) =>
      chmodSync(join(r, 'etc/systemd/system/kubelet.service.d/10-kubeadm.conf'), 0o644),
    found: 'mode 644',
  },
  '4.1.2': {
    breakIt: (r) =>
      chownSync(join(r, 'etc/systemd/system/kubelet.service.d/10-kubeadm.conf'), 1000, 0),
    found: '1000:0',
  },
  '4.1.5': {
    breakIt: (r) => chmodSync(join(r, 'etc/kubernetes/kubelet.conf'), 0o640),
    found: 'mode 640',
  },
  '4.1.6': {
    breakIt: (r) => chownSync(join(r, 'etc/kubernetes/kubelet.conf'), 0, 1000),
    found: '0:1000',
  },
  '4.1.7': {
    breakIt: (r) => chmodSync(join(r, 'etc/kubernetes/pki/ca.crt'), 0o666),
    found: 'mode 666',
  },
  '4.1.8': {
    breakIt: (r) => chownSync(join(r, 'etc/kubernetes/pki/ca.crt'), 1000, 1000),
    found: '1000:1000',
  },
  '4.1.9': {
    breakIt: (r) => chmodSync(join(r, 'var/lib/kubelet/config.yaml'), 0o604),
    found: 'mode 604',
  },
  '4.1.10': {
    breakIt: (r) => chownSync(join(r, 'var/lib/kubelet/config.yaml'), 1000, 0),
    found: '1000:0',
  },
  '4.2.1': {
    breakIt: config('    enabled: false\n  webhook', '    enabled: true\n  webhook'),
    found: 'true',
  },
  '4.2.2': { breakIt: config('  mode: Webhook\n', ''), found: 'absent' },
  '4.2.3': {
    breakIt: config('    clientCAFile: /etc/kubernetes/pki/ca.crt\n', ''),
    found: 'absent',
  },
  '4.2.4': { breakIt: config('readOnlyPort: 0', 'readOnlyPort: 10255'), found: '10255' },
  '4.2.5': {
    breakIt: config('readOnlyPort: 0', 'readOnlyPort: 0\nstreamingConnectionIdleTimeout: 0s'),
    found: '0s',
  },
  '4.2.6': {
    breakIt: config('readOnlyPort: 0', 'readOnlyPort: 0\nmakeIPTablesUtilChains: false'),
    found: 'false',
  },
  '4.2.9': {
    breakIt: config('tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key\n', ''),
    found: 'tlsCertFile=/var/lib/kubelet/pki/kubelet.crt, tlsPrivateKeyFile absent',
  },
  '4.2.13': { breakIt: config('podPidsLimit: 4096\n', ''), found: 'absent' },
  '4.2.10': {
    breakIt: config('rotateCertificates: true', 'rotateCertificates: false'),
    found: 'false',
  },
  '4.2.11': {
    breakIt: config(
      'serverTLSBootstrap: true\n',
      'featureGates:\n  RotateKubeletServerCertificate: false\n',
    ),
    found: 'false',
  },
  '1.1.3': {
    breakIt: mounts('tmpfs /tmp tmpfs rw,nosuid,nodev,noexec', 'tmpfs /tmp tmpfs rw,nosuid,noexec'),
    found: 'rw,nosuid,noexec,relatime',
  },
  '1.1.4': {
    breakIt: mounts('tmpfs /tmp tmpfs rw,nosuid,nodev,noexec', 'tmpfs /tmp tmpfs rw,nodev,noexec'),
    found: 'rw,nodev,noexec,relatime',
  },
  '1.1.5': {
    breakIt: mounts('tmpfs /tmp tmpfs rw,nosuid,nodev,noexec', 'tmpfs /tmp tmpfs rw,nosuid,nodev'),
    found: 'rw,nosuid,nodev,relatime',
  },
  '1.1.15': {
    breakIt: mounts('/dev/shm tmpfs rw,nosuid,nodev,noexec', '/dev/shm tmpfs rw,nosuid,noexec'),
    found: 'rw,nosuid,noexec',
  },
  '1.1.16': {
    breakIt: mounts('/dev/shm tmpfs rw,nosuid,nodev,noexec', '/dev/shm tmpfs rw,nodev,noexec'),
    found: 'rw,nodev,noexec',
  },
  '1.1.17': {
    breakIt: mounts('/dev/shm tmpfs rw,nosuid,nodev,noexec', '/dev/shm tmpfs rw,nosuid,nodev'),
    found: 'rw,nosuid,nodev',
  },
  '1.5.3': {
    breakIt: sys('kernel/randomize_va_space', '0'),
    found: 'kernel.randomize_va_space=0',
  },
  '3.1.2': {
    breakIt: sys('net/ipv4/conf/default/send_redirects', '1'),
    found: 'net.ipv4.conf.all.send_redirects=0, net.ipv4.conf.default.send_redirects=1',
  },
  '3.2.2': {
    breakIt: sys('net/ipv6/conf/all/accept_redirects', '1'),
    found:
      'net.ipv4.conf.all.accept_redirects=0, net.ipv4.conf.default.accept_redirects=0, net.ipv6.conf.all.accept_redirects=1, net.ipv6.conf.default.accept_redirects=0',
  },
  '3.2.8': { breakIt: sys('net/ipv4/tcp_syncookies', '0'), found: 'net.ipv4.tcp_syncookies=0' },
};

describe('cis node checks on a prepared node root', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cis-node-'));
    passingNode(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('a node laid out like a hardened kubeadm worker passes every check', async () => {
    const results = await evaluateCis(root, CIS_CHECKS);
    expect(results.filter((r) => r.status !== 'PASSED')).toEqual([]);
    expect(results.map((r) => r.id)).toEqual(CIS_CHECKS.map((c) => c.id));
  });

  it('every check has a failing variant', () => {
    expect(Object.keys(FAILING).sort()).toEqual(CIS_CHECKS.map((c) => c.id).sort());
  });

  it.each(Object.entries(FAILING))(
    '%s fails when broken, and only it',
    async (id, { breakIt, found }) => {
      breakIt(root);
      const results = await evaluateCis(root, CIS_CHECKS);
      const failed = results.filter((r) => r.status !== 'PASSED');
      expect(failed).toEqual([{ id, status: 'FAILED', found }]);
    },
  );

  it('a file that is not there does not apply; one that cannot be parsed is an error', async () => {
    rmSync(join(root, 'etc/systemd'), { recursive: true });
    writeFileSync(join(root, 'var/lib/kubelet/config.yaml'), 'authentication: [unclosed');
    const results = await evaluateCis(root, CIS_CHECKS);
    const byId = new Map(results.map((r) => [r.id, r]));
    expect(byId.get('4.1.1')).toMatchObject({ status: 'NOT_APPLICABLE' });
    expect(byId.get('4.1.1')?.found).toContain('10-kubeadm.conf does not exist');
    expect(byId.get('4.2.1')?.status).toBe('ERROR');
    expect(byId.get('4.1.9')?.status).toBe('PASSED');
  });

  it('a mount point that is not a separate mount does not apply', async () => {
    writeFileSync(join(root, 'proc/1/mounts'), '/dev/sda1 / ext4 rw 0 0\n');
    const results = await evaluateCis(root, CIS_CHECKS);
    expect(results.find((r) => r.id === '1.1.3')).toEqual({
      id: '1.1.3',
      status: 'NOT_APPLICABLE',
      found: '/tmp is not a separate mount',
    });
  });
});

describe('cis node checks: values written in other ways', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cis-node-'));
    passingNode(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const statusOf = async (id: string) =>
    (await evaluateCis(root, CIS_CHECKS)).find((r) => r.id === id)?.status;

  it.each([
    ['0', 'FAILED'],
    ['0m0s', 'FAILED'],
    ['"0"', 'FAILED'],
    ['5m', 'PASSED'],
    ['4h0m0s', 'PASSED'],
  ])('streamingConnectionIdleTimeout: %s is %s', async (value, status) => {
    config('readOnlyPort: 0', `readOnlyPort: 0\nstreamingConnectionIdleTimeout: ${value}`)(root);
    expect(await statusOf('4.2.5')).toBe(status);
  });

  it('a node without IPv6 is judged on its IPv4 redirects alone', async () => {
    rmSync(join(root, 'proc/sys/net/ipv6'), { recursive: true });
    expect(await statusOf('3.2.2')).toBe('PASSED');
    sys('net/ipv4/conf/all/accept_redirects', '1')(root);
    expect(await statusOf('3.2.2')).toBe('FAILED');
    rmSync(join(root, 'proc/sys/net'), { recursive: true });
    expect(await statusOf('3.2.2')).toBe('NOT_APPLICABLE');
  });
});

describe('the cis documentation', () => {
  it('lists every check, in order, with its level and weight', () => {
    const doc = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'docs', 'rules-cis.md'),
      'utf8',
    );
    const block = /<!-- checks -->\n([\s\S]*?)<!-- \/checks -->/.exec(doc)?.[1] ?? '';
    const rows = [
      ...block.matchAll(/^\| `([0-9.]+)` +\| \w+ +\| (LEVEL_\d) +\| (scored|not scored) /gm),
    ].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    expect(rows).toEqual(
      CIS_CHECKS.map((c) => `${c.id} ${c.level} ${c.scored ? 'scored' : 'not scored'}`),
    );
  });
});
