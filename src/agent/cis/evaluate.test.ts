import {
  chmodSync,
  readFileSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CIS_CHECKS } from './checks.ts';
import { type CisResult, evaluateCis, FLAGS_NOT_READ } from './evaluate.ts';

/** The kubelet's flags as kubeadm starts it (its drop-in's KUBELET_KUBECONFIG_ARGS and CONFIG). */
const KUBEADM_FLAGS = [
  '--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf',
  '--kubeconfig=/etc/kubernetes/kubelet.conf',
  '--config=/var/lib/kubelet/config.yaml',
  '--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock',
  '--pod-infra-container-image=registry.k8s.io/pause:3.10',
];

/**
 * A process in a procfs-shaped folder, as the kernel shows it: `cmdline` (arguments ended by
 * NUL bytes), `comm` (the executable's base name and a newline) and the `exe` link.
 */
function processEntry(
  proc: string,
  pid: number,
  exe: string,
  args: readonly string[],
  argv0 = exe,
): void {
  const dir = join(proc, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cmdline'), [argv0, ...args].map((a) => `${a}\0`).join(''));
  writeFileSync(join(dir, 'comm'), `${exe.split('/').at(-1)!.slice(0, 15)}\n`);
  symlinkSync(exe, join(dir, 'exe'));
}

/** The kubelet, as pid 812, with these flags. */
const kubeletProcess = (root: string, flags: readonly string[]) =>
  processEntry(join(root, 'proc'), 812, '/usr/bin/kubelet', flags);

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
eventRecordQPS: 5
tlsCipherSuites:
  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
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
  processEntry(join(root, 'proc'), 1, '/usr/lib/systemd/systemd', ['--system'], '/sbin/init');
  file('proc/1/mounts', MOUNTS, 0o444);
  kubeletProcess(root, KUBEADM_FLAGS);
  processEntry(join(root, 'proc'), 903, '/usr/bin/containerd', []);
  for (const conf of ['all', 'default']) {
    file(`proc/sys/net/ipv4/conf/${conf}/send_redirects`, '0\n', 0o644);
    file(`proc/sys/net/ipv4/conf/${conf}/accept_redirects`, '0\n', 0o644);
    file(`proc/sys/net/ipv6/conf/${conf}/accept_redirects`, '0\n', 0o644);
  }
  file('proc/sys/net/ipv4/tcp_syncookies', '1\n', 0o644);
  file('proc/sys/kernel/randomize_va_space', '2\n', 0o644);
  // The account files as Debian installs them: the shadow ones in group shadow (gid 42).
  file('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n', 0o644);
  file('etc/passwd-', 'root:x:0:0:root:/root:/bin/bash\n', 0o600);
  file('etc/group', 'root:x:0:\nshadow:x:42:\n', 0o644);
  file('etc/group-', 'root:x:0:\nshadow:x:42:\n', 0o644);
  for (const f of ['shadow', 'shadow-', 'gshadow', 'gshadow-']) {
    file(`etc/${f}`, 'root:*::\n', 0o640);
    chownSync(join(root, 'etc', f), 0, 42);
  }
  // Enabled units a node has (its kubelet, containerd, ssh), none of the services 2.2 names.
  for (const unit of ['kubelet.service', 'containerd.service', 'ssh.service']) {
    mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    symlinkSync(
      `/lib/systemd/system/${unit}`,
      join(root, 'etc/systemd/system/multi-user.target.wants', unit),
    );
  }
}

const config = (from: string, to: string) => (root: string) =>
  writeFileSync(join(root, 'var/lib/kubelet/config.yaml'), KUBELET_CONFIG.replace(from, to));
const sys = (path: string, value: string) => (root: string) =>
  writeFileSync(join(root, 'proc/sys', path), `${value}\n`);
const mounts = (from: string, to: string) => (root: string) =>
  writeFileSync(join(root, 'proc/1/mounts'), MOUNTS.replace(from, to));
/** Enables a unit as `systemctl enable` does (a link in a target's wants folder). */
const enable =
  (unit: string, target = 'multi-user.target.wants') =>
  (root: string) => {
    mkdirSync(join(root, 'etc/systemd/system', target), { recursive: true });
    symlinkSync(`/lib/systemd/system/${unit}`, join(root, 'etc/systemd/system', target, unit));
  };
const mode = (path: string, m: number) => (root: string) => chmodSync(join(root, path), m);
const owner = (path: string, uid: number, gid: number) => (root: string) =>
  chownSync(join(root, path), uid, gid);

/** The service checks (2.2): one unit each enables, as its package would. */
const SERVICES: Record<string, string> = {
  '2.2.3': 'avahi-daemon.service',
  '2.2.4': 'cups.socket',
  '2.2.5': 'isc-dhcp-server.service',
  '2.2.6': 'slapd.service',
  '2.2.7': 'rpcbind.socket',
  '2.2.8': 'named.service',
  '2.2.9': 'vsftpd.service',
  '2.2.10': 'nginx.service',
  '2.2.11': 'dovecot.service',
  '2.2.12': 'smbd.service',
  '2.2.13': 'squid.service',
  '2.2.14': 'snmpd.service',
  '2.2.16': 'rsync.service',
  '2.2.17': 'ypserv.service',
};

/** One way to break each check, and what the result then says. */
const FAILING: Record<
  string,
  { breakIt: (root: string) => void; found: string; others?: CisResult[] }
> = {
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
    // The kubelet names no client CA file any more: there is none to check.
    others: ['4.1.7', '4.1.8'].map((id) => ({
      id,
      status: 'NOT_APPLICABLE',
      found: 'the kubelet names no client CA file (--client-ca-file, clientCAFile)',
    })),
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
  '4.2.8': { breakIt: config('eventRecordQPS: 5', 'eventRecordQPS: -1'), found: '-1' },
  '4.2.12': {
    // A weak suite among strong ones.
    breakIt: config(
      '  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n',
      '  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  - TLS_RSA_WITH_3DES_EDE_CBC_SHA\n',
    ),
    found:
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  },
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
  '4.2.7': {
    breakIt: (r) => kubeletProcess(r, [...KUBEADM_FLAGS, '--hostname-override=worker-1']),
    found: '--hostname-override=worker-1',
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
  ...Object.fromEntries(
    Object.entries(SERVICES).map(([id, unit]) => [
      id,
      {
        breakIt: enable(unit, unit.endsWith('.socket') ? 'sockets.target.wants' : undefined),
        found: `enabled: ${unit}`,
      },
    ]),
  ),
  '6.1.2': {
    breakIt: mode('etc/passwd', 0o664),
    found: 'mode 0664, owner 0:0 (group root)',
  },
  '6.1.3': {
    breakIt: mode('etc/shadow', 0o644),
    found: 'mode 0644, owner 0:42 (group shadow)',
  },
  '6.1.4': {
    breakIt: owner('etc/group', 1000, 0),
    found: 'mode 0644, owner 1000:0 (group root)',
  },
  '6.1.5': {
    // A group other than root or shadow may not own it.
    breakIt: owner('etc/gshadow', 0, 1000),
    found: 'mode 0640, owner 0:1000',
  },
  '6.1.6': {
    breakIt: mode('etc/passwd-', 0o644),
    found: 'mode 0644, owner 0:0 (group root)',
  },
  '6.1.7': {
    breakIt: mode('etc/shadow-', 0o4640),
    found: 'mode 4640, owner 0:42 (group shadow)',
  },
  '6.1.8': {
    breakIt: mode('etc/group-', 0o646),
    found: 'mode 0646, owner 0:0 (group root)',
  },
  '6.1.9': {
    breakIt: owner('etc/gshadow-', 1000, 42),
    found: 'mode 0640, owner 1000:42 (group shadow)',
  },
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
    async (id, { breakIt, found, others = [] }) => {
      breakIt(root);
      const results = await evaluateCis(root, CIS_CHECKS);
      const failed = results.filter((r) => r.status !== 'PASSED');
      expect(failed).toEqual([...others, { id, status: 'FAILED', found }]);
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

  it('no cipher suites named: the Go defaults are not a list of strong ones (4.2.12 fails); no eventRecordQPS: the default passes (4.2.8)', async () => {
    config('eventRecordQPS: 5\n', '')(root);
    writeFileSync(
      join(root, 'var/lib/kubelet/config.yaml'),
      readFileSync(join(root, 'var/lib/kubelet/config.yaml'), 'utf8').replace(
        /tlsCipherSuites:\n( {2}- .*\n)+/,
        '',
      ),
    );
    const results = await evaluateCis(root, CIS_CHECKS);
    expect(results.find((r) => r.id === '4.2.12')).toEqual({
      id: '4.2.12',
      status: 'FAILED',
      found: 'absent',
    });
    expect(results.find((r) => r.id === '4.2.8')?.status).toBe('PASSED');
  });

  it('services: a masked unit is not enabled; a host without systemd units does not apply', async () => {
    enable('cups.service')(root);
    symlinkSync('/dev/null', join(root, 'etc/systemd/system/cups.service'));
    expect(await statusOf('2.2.4')).toBe('PASSED');
    rmSync(join(root, 'etc/systemd'), { recursive: true });
    const results = await evaluateCis(root, CIS_CHECKS);
    expect(results.find((r) => r.id === '2.2.4')).toEqual({
      id: '2.2.4',
      status: 'NOT_APPLICABLE',
      found: '/etc/systemd/system does not exist (no systemd)',
    });
  });

  it('account files: group root passes where shadow is allowed; an unnamed group is shown by number', async () => {
    chownSync(join(root, 'etc/shadow'), 0, 0);
    expect(await statusOf('6.1.3')).toBe('PASSED');
    chownSync(join(root, 'etc/shadow'), 0, 4242);
    const results = await evaluateCis(root, CIS_CHECKS);
    expect(results.find((r) => r.id === '6.1.3')).toEqual({
      id: '6.1.3',
      status: 'FAILED',
      found: 'mode 0640, owner 0:4242',
    });
    rmSync(join(root, 'etc/gshadow-'));
    expect(await statusOf('6.1.9')).toBe('NOT_APPLICABLE');
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

describe("cis node checks: the kubelet's command line", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'cis-node-'));
    passingNode(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const byId = async () => new Map((await evaluateCis(root, CIS_CHECKS)).map((r) => [r.id, r]));

  it('a flag overrides the configuration file, in either spelling', async () => {
    kubeletProcess(root, [
      ...KUBEADM_FLAGS,
      '--anonymous-auth=true',
      '--read-only-port',
      '10255',
      '--feature-gates=NodeSwap=true,RotateKubeletServerCertificate=false',
    ]);
    const r = await byId();
    expect(r.get('4.2.1')).toEqual({
      id: '4.2.1',
      status: 'FAILED',
      found: '--anonymous-auth=true (command line)',
    });
    expect(r.get('4.2.4')).toEqual({
      id: '4.2.4',
      status: 'FAILED',
      found: '--read-only-port=10255 (command line)',
    });
    expect(r.get('4.2.11')).toEqual({
      id: '4.2.11',
      status: 'FAILED',
      found: 'RotateKubeletServerCertificate=false (command line)',
    });
  });

  it('a flag can also pass a check the file fails', async () => {
    config('    enabled: false\n  webhook', '    enabled: true\n  webhook')(root);
    config('podPidsLimit: 4096\n', '')(root);
    kubeletProcess(root, [...KUBEADM_FLAGS, '--anonymous-auth=false', '--pod-max-pids', '1024']);
    const r = await byId();
    expect(r.get('4.2.1')?.status).toBe('PASSED');
    expect(r.get('4.2.13')).toEqual({
      id: '4.2.13',
      status: 'PASSED',
      found: '--pod-max-pids=1024 (command line)',
    });
  });

  it('--config and --kubeconfig elsewhere than kubeadm puts them are followed', async () => {
    mkdirSync(join(root, 'opt/node'), { recursive: true });
    renameSync(join(root, 'var/lib/kubelet/config.yaml'), join(root, 'opt/node/kubelet.yaml'));
    renameSync(
      join(root, 'etc/kubernetes/kubelet.conf'),
      join(root, 'opt/node/kubelet.kubeconfig'),
    );
    chmodSync(join(root, 'opt/node/kubelet.yaml'), 0o644);
    // A relative clientCAFile is relative to the configuration file's folder.
    config('', '')(root);
    writeFileSync(
      join(root, 'opt/node/kubelet.yaml'),
      KUBELET_CONFIG.replace(
        'clientCAFile: /etc/kubernetes/pki/ca.crt',
        'clientCAFile: pki/ca.crt',
      ).replace('readOnlyPort: 0', 'readOnlyPort: 10255'),
    );
    mkdirSync(join(root, 'opt/node/pki'));
    writeFileSync(join(root, 'opt/node/pki/ca.crt'), '-----BEGIN CERTIFICATE-----\n', {
      mode: 0o640,
    });
    kubeletProcess(root, [
      '--config',
      '/opt/node/kubelet.yaml',
      '--kubeconfig=/opt/node/kubelet.kubeconfig',
      '--v=2',
    ]);
    const r = await byId();
    expect(r.get('4.1.9')).toEqual({
      id: '4.1.9',
      status: 'FAILED',
      found: 'mode 644 (/opt/node/kubelet.yaml)',
    });
    expect(r.get('4.1.5')).toEqual({
      id: '4.1.5',
      status: 'PASSED',
      found: 'mode 600 (/opt/node/kubelet.kubeconfig)',
    });
    expect(r.get('4.1.7')).toEqual({
      id: '4.1.7',
      status: 'FAILED',
      found: 'mode 640 (/opt/node/pki/ca.crt)',
    });
    expect(r.get('4.2.4')).toEqual({ id: '4.2.4', status: 'FAILED', found: '10255' });
    expect(r.get('4.2.1')?.status).toBe('PASSED');
  });

  it('a kubelet without --config or --kubeconfig: their file checks do not apply, flags and defaults decide', async () => {
    kubeletProcess(root, ['--client-ca-file=/etc/kubernetes/pki/ca.crt']);
    const r = await byId();
    expect(r.get('4.1.9')).toEqual({
      id: '4.1.9',
      status: 'NOT_APPLICABLE',
      found: 'the kubelet runs without --config',
    });
    expect(r.get('4.1.5')?.found).toBe('the kubelet runs without --kubeconfig');
    expect(r.get('4.1.7')?.status).toBe('PASSED');
    // The kubelet's defaults: anonymous requests allowed, AlwaysAllow.
    expect(r.get('4.2.1')).toEqual({ id: '4.2.1', status: 'FAILED', found: 'absent' });
    expect(r.get('4.2.2')).toEqual({ id: '4.2.2', status: 'FAILED', found: 'absent' });
    expect(r.get('4.2.3')).toEqual({
      id: '4.2.3',
      status: 'PASSED',
      found: '--client-ca-file=/etc/kubernetes/pki/ca.crt (command line)',
    });
  });

  it("no kubelet process in sight: kubeadm's files, and every kubelet result says the flags were not read", async () => {
    rmSync(join(root, 'proc/812'), { recursive: true });
    const results = await evaluateCis(root, CIS_CHECKS);
    const r = new Map(results.map((x) => [x.id, x]));
    expect(r.get('4.2.7')).toEqual({
      id: '4.2.7',
      status: 'NOT_APPLICABLE',
      found: `${FLAGS_NOT_READ}: no kubelet process visible`,
    });
    expect(r.get('4.2.1')).toEqual({
      id: '4.2.1',
      status: 'PASSED',
      found: `false (${FLAGS_NOT_READ})`,
    });
    expect(r.get('4.1.9')).toEqual({
      id: '4.1.9',
      status: 'PASSED',
      found: `mode 600 (${FLAGS_NOT_READ})`,
    });
    // The service file is not named by the command line: nothing to say about flags.
    expect(r.get('4.1.1')?.found).toBe('mode 600');
    expect(results.filter((x) => x.status !== 'PASSED').map((x) => x.id)).toEqual(['4.2.7']);
  });

  it('a process called kubelet whose executable is not the kubelet is not taken for it', async () => {
    rmSync(join(root, 'proc/812'), { recursive: true });
    processEntry(join(root, 'proc'), 812, '/usr/bin/sleep', ['3600'], 'kubelet');
    writeFileSync(join(root, 'proc/812/comm'), 'kubelet\n');
    expect((await byId()).get('4.2.7')?.status).toBe('NOT_APPLICABLE');
  });

  it('the procfs can be mounted apart from the host root', async () => {
    renameSync(join(root, 'proc'), join(root, 'hostproc'));
    processEntry(join(root, 'hostproc'), 812, '/usr/bin/kubelet', [
      ...KUBEADM_FLAGS,
      '--hostname-override=worker-1',
    ]);
    const results = await evaluateCis(root, CIS_CHECKS, { proc: join(root, 'hostproc') });
    expect(results.filter((x) => x.status !== 'PASSED')).toEqual([
      { id: '4.2.7', status: 'FAILED', found: '--hostname-override=worker-1' },
    ]);
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
