/**
 * The `cis` node checks, as data: what each reads from the host's files and the rule its value
 * must follow. The node agent evaluates them (evaluate.ts) on the host's root filesystem,
 * mounted read-only, and reports one result per check. Ids and levels follow the CIS
 * Kubernetes Benchmark's worker node section (4.1 configuration files, 4.2 kubelet) and the CIS
 * distribution-independent Linux benchmark (1.1 filesystem mounts, 3.x network sysctls).
 */

export type CisLevel = 'LEVEL_1' | 'LEVEL_2';

/** What a check reads. Paths are absolute on the host; the agent prefixes its mount. */
export type CisTarget =
  /** The permission bits of a file (a missing file: the check does not apply). */
  | { read: 'file-mode'; path: string }
  /** The owner of a file, as `uid:gid`. */
  | { read: 'file-owner'; path: string }
  /** A field of the kubelet's configuration file (YAML), by dotted key. */
  | { read: 'kubelet-config'; path: string; key: string }
  /** A sysctl, from /proc/sys. */
  | { read: 'sysctl'; name: string }
  /** The mount options of a mount point, from /proc/1/mounts (absent: not a mount). */
  | { read: 'mount-options'; mountPoint: string };

/** The rule the value read must follow. */
export type CisRule =
  /** Permission bits no wider than this (for example 0o600). */
  | { op: 'mode-at-most'; mode: number }
  | { op: 'equals'; value: string | number | boolean }
  | { op: 'not-equals'; value: string | number | boolean }
  /** A value is set (not absent, not empty). */
  | { op: 'set' }
  /** Absent counts as this value (the kubelet's default). */
  | {
      op: 'equals-or-default';
      value: string | number | boolean;
      default: string | number | boolean;
    }
  | { op: 'includes'; value: string };

export interface CisCheck {
  id: string;
  benchmark: 'CIS Kubernetes Benchmark' | 'CIS Distribution Independent Linux Benchmark';
  title: string;
  level: CisLevel;
  /** The CIS weight: Automated checks are scored, Manual ones are not. */
  scored: boolean;
  target: CisTarget;
  rule: CisRule;
  remediation: string;
}

const K8S = 'CIS Kubernetes Benchmark' as const;
const LINUX = 'CIS Distribution Independent Linux Benchmark' as const;

const KUBELET_SERVICE = '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf';
const KUBELET_KUBECONFIG = '/etc/kubernetes/kubelet.conf';
const CLIENT_CA = '/etc/kubernetes/pki/ca.crt';
const KUBELET_CONFIG = '/var/lib/kubelet/config.yaml';

function filePair(ids: [string, string], what: string, path: string, scored: boolean): CisCheck[] {
  return [
    {
      id: ids[0],
      benchmark: K8S,
      title: `Ensure that the ${what} permissions are set to 600 or more restrictive`,
      level: 'LEVEL_1',
      scored,
      target: { read: 'file-mode', path },
      rule: { op: 'mode-at-most', mode: 0o600 },
      remediation: `chmod 600 ${path}`,
    },
    {
      id: ids[1],
      benchmark: K8S,
      title: `Ensure that the ${what} ownership is set to root:root`,
      level: 'LEVEL_1',
      scored,
      target: { read: 'file-owner', path },
      rule: { op: 'equals', value: '0:0' },
      remediation: `chown root:root ${path}`,
    },
  ];
}

const kubelet = (
  id: string,
  title: string,
  key: string,
  rule: CisRule,
  remediation: string,
): CisCheck => ({
  id,
  benchmark: K8S,
  title,
  level: 'LEVEL_1',
  scored: true,
  target: { read: 'kubelet-config', path: KUBELET_CONFIG, key },
  rule,
  remediation: `In ${KUBELET_CONFIG}: ${remediation}; restart the kubelet.`,
});

/** A Manual check: not scored. */
const manual = (c: CisCheck): CisCheck => ({ ...c, scored: false });

const sysctl = (
  id: string,
  name: string,
  value: string,
  level: CisLevel = 'LEVEL_1',
): CisCheck => ({
  id,
  benchmark: LINUX,
  title: `Ensure ${name} is ${value}`,
  level,
  scored: true,
  target: { read: 'sysctl', name },
  rule: { op: 'equals', value },
  remediation: `Set ${name} = ${value} in /etc/sysctl.d/ and run sysctl --system.`,
});

const mountOption = (id: string, mountPoint: string, option: string): CisCheck => ({
  id,
  benchmark: LINUX,
  title: `Ensure ${option} option set on ${mountPoint} partition`,
  level: 'LEVEL_1',
  scored: true,
  target: { read: 'mount-options', mountPoint },
  rule: { op: 'includes', value: option },
  remediation: `Add ${option} to the options of ${mountPoint} in /etc/fstab and remount it.`,
});

export const CIS_CHECKS: readonly CisCheck[] = [
  // 4.1 Worker node configuration files
  ...filePair(['4.1.1', '4.1.2'], 'kubelet service file', KUBELET_SERVICE, true),
  ...filePair(['4.1.5', '4.1.6'], '--kubeconfig kubelet.conf file', KUBELET_KUBECONFIG, true),
  ...filePair(['4.1.7', '4.1.8'], 'certificate authorities file', CLIENT_CA, false),
  ...filePair(['4.1.9', '4.1.10'], 'kubelet config.yaml file', KUBELET_CONFIG, true),
  // 4.2 Kubelet
  kubelet(
    '4.2.1',
    'Ensure that the --anonymous-auth argument is set to false',
    'authentication.anonymous.enabled',
    { op: 'equals', value: false },
    'set authentication.anonymous.enabled: false',
  ),
  kubelet(
    '4.2.2',
    'Ensure that the --authorization-mode argument is not set to AlwaysAllow',
    'authorization.mode',
    { op: 'equals-or-default', value: 'Webhook', default: 'AlwaysAllow' },
    'set authorization.mode: Webhook',
  ),
  kubelet(
    '4.2.3',
    'Ensure that the --client-ca-file argument is set as appropriate',
    'authentication.x509.clientCAFile',
    { op: 'set' },
    `set authentication.x509.clientCAFile: ${CLIENT_CA}`,
  ),
  manual(
    kubelet(
      '4.2.4',
      'Verify that the --read-only-port argument is set to 0',
      'readOnlyPort',
      { op: 'equals-or-default', value: 0, default: 0 },
      'set readOnlyPort: 0',
    ),
  ),
  manual(
    kubelet(
      '4.2.5',
      'Ensure that the --streaming-connection-idle-timeout argument is not set to 0',
      'streamingConnectionIdleTimeout',
      { op: 'not-equals', value: '0s' },
      'remove streamingConnectionIdleTimeout or set it to a duration such as 5m',
    ),
  ),
  kubelet(
    '4.2.6',
    'Ensure that the --make-iptables-util-chains argument is set to true',
    'makeIPTablesUtilChains',
    { op: 'equals-or-default', value: true, default: true },
    'remove makeIPTablesUtilChains or set it to true',
  ),
  kubelet(
    '4.2.10',
    'Ensure that the --rotate-certificates argument is not set to false',
    'rotateCertificates',
    { op: 'not-equals', value: false },
    'remove rotateCertificates: false or set it to true',
  ),
  manual(
    kubelet(
      '4.2.11',
      'Verify that the RotateKubeletServerCertificate argument is set to true',
      'serverTLSBootstrap',
      { op: 'equals', value: true },
      'set serverTLSBootstrap: true (and approve the serving certificate requests)',
    ),
  ),
  // Linux: filesystem mounts, network parameters
  mountOption('1.1.3', '/tmp', 'nodev'),
  mountOption('1.1.4', '/tmp', 'nosuid'),
  mountOption('1.1.5', '/tmp', 'noexec'),
  mountOption('1.1.7', '/dev/shm', 'nodev'),
  mountOption('1.1.8', '/dev/shm', 'nosuid'),
  mountOption('1.1.9', '/dev/shm', 'noexec'),
  sysctl('3.1.2', 'net.ipv4.conf.all.send_redirects', '0'),
  sysctl('3.2.2', 'net.ipv4.conf.all.accept_redirects', '0'),
  sysctl('3.2.8', 'net.ipv4.tcp_syncookies', '1'),
  sysctl('1.5.3', 'kernel.randomize_va_space', '2'),
];
