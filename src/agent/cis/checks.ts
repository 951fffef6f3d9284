/**
 * The `cis` node checks, as data: what each reads from the host's files and the rule its value
 * must follow. The node agent evaluates them (evaluate.ts) on the host's root filesystem,
 * mounted read-only, and reports one result per check. Ids and levels follow the CIS
 * Kubernetes Benchmark's worker node section (4.1 configuration files, 4.2 kubelet) and the CIS
 * distribution-independent Linux benchmark (1.1 filesystem mounts, 1.5 and 3.x sysctls, 2.2
 * services, 6.1 system file permissions).
 */

export type CisLevel = 'LEVEL_1' | 'LEVEL_2';

/**
 * A file of the kubelet that its command line names: the configuration file (`--config`), its
 * kubeconfig (`--kubeconfig`) or the client CA (`--client-ca-file`, else the configuration
 * file's `authentication.x509.clientCAFile`). Seen the kubelet, the check reads the file it
 * names (none named: the check does not apply); not seen, the fixed (kubeadm) path.
 */
export type KubeletFile = 'config' | 'kubeconfig' | 'client-ca';

/**
 * The kubelet flag that overrides a configuration field: `--anonymous-auth`, or a gate of
 * `--feature-gates` (`{ flag: '--feature-gates', gate: 'RotateKubeletServerCertificate' }`).
 */
export interface KubeletFlag {
  flag: string;
  gate?: string;
}

/** What a check reads. Paths are absolute on the host; the agent prefixes its mount. */
export type CisTarget =
  /** The permission bits of a file (a missing file: the check does not apply). */
  | { read: 'file-mode'; path: string; kubeletFile?: KubeletFile }
  /** The owner of a file, as `uid:gid`. */
  | { read: 'file-owner'; path: string; kubeletFile?: KubeletFile }
  /**
   * A field of the kubelet's configuration file (YAML), by dotted key; the flag, when given on
   * the kubelet's command line, overrides it.
   */
  | { read: 'kubelet-config'; path: string; key: string; flag?: KubeletFlag }
  /**
   * Several fields of the kubelet's configuration file, as `key=value` (or `key absent`) pairs;
   * each flag (same order as the keys) overrides its field.
   */
  | { read: 'kubelet-config-keys'; path: string; keys: string[]; flags?: string[] }
  /**
   * A flag of the kubelet's command line that has no configuration field (`set` or absent);
   * the command line not read: the check does not apply.
   */
  | { read: 'kubelet-flag'; flag: string }
  /**
   * Sysctls, from /proc/sys, read as `name=value` pairs joined by `, ` (the ones that do not
   * exist, for example IPv6 ones on a node without IPv6, are left out; none: does not apply).
   */
  | { read: 'sysctl'; names: string[] }
  /** The mount options of a mount point, from /proc/1/mounts (absent: not a mount). */
  | { read: 'mount-options'; mountPoint: string }
  /**
   * The permission bits and owner of a file, as `<mode> <uid>:<gid> <group name>` (the name from
   * the host's /etc/group, `-` when it has none); a missing file: the check does not apply.
   */
  | { read: 'file-permissions'; path: string }
  /**
   * Which of these systemd services are enabled: their `.service` or `.socket` unit linked from
   * a `*.wants` or `*.requires` folder of /etc/systemd/system (what `systemctl enable` makes),
   * as a list joined by `, `, absent when none is; no /etc/systemd/system: the host does not
   * run systemd and the check does not apply.
   */
  | { read: 'systemd-enabled'; services: string[] };

/** The rule the value read must follow. */
export type CisRule =
  /** Permission bits no wider than this (for example 0o600). */
  | { op: 'mode-at-most'; mode: number }
  | { op: 'equals'; value: string | number | boolean }
  | { op: 'not-equals'; value: string | number | boolean }
  /** A value is set (not absent, not empty). */
  | { op: 'set' }
  /** No value is set (absent). */
  | { op: 'not-set' }
  /** Absent counts as this value (the kubelet's default). */
  | {
      op: 'equals-or-default';
      value: string | number | boolean;
      default: string | number | boolean;
    }
  | { op: 'includes'; value: string }
  /** Every key read is set (no `key absent` pair). */
  | { op: 'all-set' }
  /** Every `name=value` pair read has this value. */
  | { op: 'all-equal'; value: string }
  /** A duration that is absent or not zero (`0`, `0s`, `0m0s`... are zero). */
  | { op: 'not-zero-duration' }
  /** A number no smaller than `value`, or absent (the kubelet's default then applies). */
  | { op: 'absent-or-at-least'; value: number }
  /** A list (comma-separated) that is set and holds only these values. */
  | { op: 'subset-of'; values: string[] }
  /**
   * A `file-permissions` value: bits no wider than `mode`, owned by root (uid 0), and its group
   * root (gid 0) or one of `groups` by name (the `shadow` group of Debian-family systems).
   */
  | { op: 'permissions'; mode: number; groups?: string[] };

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

/** The TLS cipher suites the benchmark calls strong (4.2.12), as the kubelet names them. */
const STRONG_CIPHERS = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_RSA_WITH_AES_128_GCM_SHA256',
];

function filePair(
  ids: [string, string],
  titles: [string, string],
  path: string,
  scored: boolean,
  kubeletFile?: KubeletFile,
): CisCheck[] {
  const located = kubeletFile !== undefined ? { kubeletFile } : {};
  return [
    {
      id: ids[0],
      benchmark: K8S,
      title: titles[0],
      level: 'LEVEL_1',
      scored,
      target: { read: 'file-mode', path, ...located },
      rule: { op: 'mode-at-most', mode: 0o600 },
      remediation: `chmod 600 ${path}`,
    },
    {
      id: ids[1],
      benchmark: K8S,
      title: titles[1],
      level: 'LEVEL_1',
      scored,
      target: { read: 'file-owner', path, ...located },
      rule: { op: 'equals', value: '0:0' },
      remediation: `chown root:root ${path}`,
    },
  ];
}

const kubelet = (
  id: string,
  title: string,
  { key, flag }: { key: string; flag: KubeletFlag },
  rule: CisRule,
  remediation: string,
): CisCheck => ({
  id,
  benchmark: K8S,
  title,
  level: 'LEVEL_1',
  scored: true,
  target: { read: 'kubelet-config', path: KUBELET_CONFIG, key, flag },
  rule,
  remediation: `In the kubelet's configuration file (kubeadm: ${KUBELET_CONFIG}): ${remediation}, and remove ${flag.gate ?? flag.flag} from its command line; restart the kubelet.`,
});

/** A Manual check: not scored. */
const manual = (c: CisCheck): CisCheck => ({ ...c, scored: false });

const sysctl = (id: string, title: string, names: string[], value: string): CisCheck => ({
  id,
  benchmark: LINUX,
  title,
  level: 'LEVEL_1',
  scored: true,
  target: { read: 'sysctl', names },
  rule: { op: 'all-equal', value },
  remediation: `Set ${names.map((n) => `${n} = ${value}`).join(', ')} in a file of /etc/sysctl.d/ and run sysctl --system.`,
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

const service = (id: string, title: string, services: string[]): CisCheck => ({
  id,
  benchmark: LINUX,
  title,
  level: 'LEVEL_1',
  scored: true,
  target: { read: 'systemd-enabled', services },
  rule: { op: 'not-set' },
  remediation: `Disable what is enabled: systemctl --now disable ${services.join(' ')} (or remove the package).`,
});

const permissions = (id: string, path: string, mode: number, groups?: string[]): CisCheck => {
  const octal = mode.toString(8);
  const group = groups === undefined ? 'root' : `root (or ${groups.join(', ')})`;
  return {
    id,
    benchmark: LINUX,
    title: `Ensure permissions on ${path} are configured`,
    level: 'LEVEL_1',
    scored: true,
    target: { read: 'file-permissions', path },
    rule: { op: 'permissions', mode, ...(groups !== undefined ? { groups } : {}) },
    remediation: `chown root:${groups?.[0] ?? 'root'} ${path} && chmod ${octal} ${path} (mode ${octal} or more restrictive, owner root, group ${group}).`,
  };
};

export const CIS_CHECKS: readonly CisCheck[] = [
  // 4.1 Worker node configuration files
  ...filePair(
    ['4.1.1', '4.1.2'],
    [
      'Ensure that the kubelet service file permissions are set to 600 or more restrictive',
      'Ensure that the kubelet service file ownership is set to root:root',
    ],
    KUBELET_SERVICE,
    true,
  ),
  ...filePair(
    ['4.1.5', '4.1.6'],
    [
      'Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive',
      'Ensure that the --kubeconfig kubelet.conf file ownership is set to root:root',
    ],
    KUBELET_KUBECONFIG,
    true,
    'kubeconfig',
  ),
  ...filePair(
    ['4.1.7', '4.1.8'],
    [
      'Ensure that the certificate authorities file permissions are set to 600 or more restrictive',
      'Ensure that the client certificate authorities file ownership is set to root:root',
    ],
    CLIENT_CA,
    false,
    'client-ca',
  ),
  ...filePair(
    ['4.1.9', '4.1.10'],
    [
      'If the kubelet config.yaml configuration file is being used validate permissions set to 600 or more restrictive',
      'If the kubelet config.yaml configuration file is being used validate file ownership is set to root:root',
    ],
    KUBELET_CONFIG,
    true,
    'config',
  ),
  // 4.2 Kubelet
  kubelet(
    '4.2.1',
    'Ensure that the --anonymous-auth argument is set to false',
    { key: 'authentication.anonymous.enabled', flag: { flag: '--anonymous-auth' } },
    { op: 'equals', value: false },
    'set authentication.anonymous.enabled: false',
  ),
  kubelet(
    '4.2.2',
    'Ensure that the --authorization-mode argument is not set to AlwaysAllow',
    { key: 'authorization.mode', flag: { flag: '--authorization-mode' } },
    { op: 'equals-or-default', value: 'Webhook', default: 'AlwaysAllow' },
    'set authorization.mode: Webhook',
  ),
  kubelet(
    '4.2.3',
    'Ensure that the --client-ca-file argument is set as appropriate',
    { key: 'authentication.x509.clientCAFile', flag: { flag: '--client-ca-file' } },
    { op: 'set' },
    `set authentication.x509.clientCAFile: ${CLIENT_CA}`,
  ),
  manual(
    kubelet(
      '4.2.4',
      'Verify that the --read-only-port argument is set to 0',
      { key: 'readOnlyPort', flag: { flag: '--read-only-port' } },
      { op: 'equals-or-default', value: 0, default: 0 },
      'set readOnlyPort: 0',
    ),
  ),
  manual(
    kubelet(
      '4.2.5',
      'Ensure that the --streaming-connection-idle-timeout argument is not set to 0',
      {
        key: 'streamingConnectionIdleTimeout',
        flag: { flag: '--streaming-connection-idle-timeout' },
      },
      { op: 'not-zero-duration' },
      'remove streamingConnectionIdleTimeout or set it to a duration such as 5m',
    ),
  ),
  kubelet(
    '4.2.6',
    'Ensure that the --make-iptables-util-chains argument is set to true',
    { key: 'makeIPTablesUtilChains', flag: { flag: '--make-iptables-util-chains' } },
    { op: 'equals-or-default', value: true, default: true },
    'remove makeIPTablesUtilChains or set it to true',
  ),
  {
    id: '4.2.7',
    benchmark: K8S,
    title: 'Ensure that the --hostname-override argument is not set',
    level: 'LEVEL_1',
    scored: false,
    target: { read: 'kubelet-flag', flag: '--hostname-override' },
    rule: { op: 'not-set' },
    remediation:
      "Remove --hostname-override from the kubelet's command line (its service file or drop-in); restart the kubelet.",
  },
  manual(
    kubelet(
      '4.2.8',
      'Ensure that the eventRecordQPS argument is set to a level which ensures appropriate event capture',
      { key: 'eventRecordQPS', flag: { flag: '--event-qps' } },
      { op: 'absent-or-at-least', value: 0 },
      'set eventRecordQPS to the events a second the kubelet may send (0 or more; 0 sends every event unthrottled)',
    ),
  ),
  manual({
    id: '4.2.9',
    benchmark: K8S,
    title:
      'Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate',
    level: 'LEVEL_1',
    scored: false,
    target: {
      read: 'kubelet-config-keys',
      path: KUBELET_CONFIG,
      keys: ['tlsCertFile', 'tlsPrivateKeyFile'],
      flags: ['--tls-cert-file', '--tls-private-key-file'],
    },
    rule: { op: 'all-set' },
    remediation: `In the kubelet's configuration file (kubeadm: ${KUBELET_CONFIG}): set tlsCertFile and tlsPrivateKeyFile to the kubelet's serving certificate and key (or --tls-cert-file and --tls-private-key-file on its command line); restart the kubelet.`,
  }),
  kubelet(
    '4.2.10',
    'Ensure that the --rotate-certificates argument is not set to false',
    { key: 'rotateCertificates', flag: { flag: '--rotate-certificates' } },
    { op: 'not-equals', value: false },
    'remove rotateCertificates: false or set it to true',
  ),
  manual(
    kubelet(
      '4.2.11',
      'Verify that the RotateKubeletServerCertificate argument is set to true',
      {
        key: 'featureGates.RotateKubeletServerCertificate',
        flag: { flag: '--feature-gates', gate: 'RotateKubeletServerCertificate' },
      },
      { op: 'not-equals', value: false },
      'remove RotateKubeletServerCertificate: false from featureGates (it defaults to true)',
    ),
  ),
  manual(
    kubelet(
      '4.2.12',
      'Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers',
      { key: 'tlsCipherSuites', flag: { flag: '--tls-cipher-suites' } },
      { op: 'subset-of', values: STRONG_CIPHERS },
      `set tlsCipherSuites to ${STRONG_CIPHERS.join(', ')} or a subset of them`,
    ),
  ),
  manual(
    kubelet(
      '4.2.13',
      'Ensure that a limit is set on pod PIDs',
      { key: 'podPidsLimit', flag: { flag: '--pod-max-pids' } },
      { op: 'set' },
      'set podPidsLimit to the most processes a pod may run (for example 4096)',
    ),
  ),
  // Linux: filesystem mounts (1.1), process hardening (1.5), network parameters (3.1, 3.2)
  mountOption('1.1.3', '/tmp', 'nodev'),
  mountOption('1.1.4', '/tmp', 'nosuid'),
  mountOption('1.1.5', '/tmp', 'noexec'),
  mountOption('1.1.15', '/dev/shm', 'nodev'),
  mountOption('1.1.16', '/dev/shm', 'nosuid'),
  mountOption('1.1.17', '/dev/shm', 'noexec'),
  sysctl(
    '1.5.3',
    'Ensure address space layout randomization (ASLR) is enabled',
    ['kernel.randomize_va_space'],
    '2',
  ),
  sysctl(
    '3.1.2',
    'Ensure packet redirect sending is disabled',
    ['net.ipv4.conf.all.send_redirects', 'net.ipv4.conf.default.send_redirects'],
    '0',
  ),
  sysctl(
    '3.2.2',
    'Ensure ICMP redirects are not accepted',
    [
      'net.ipv4.conf.all.accept_redirects',
      'net.ipv4.conf.default.accept_redirects',
      'net.ipv6.conf.all.accept_redirects',
      'net.ipv6.conf.default.accept_redirects',
    ],
    '0',
  ),
  sysctl('3.2.8', 'Ensure TCP SYN Cookies is enabled', ['net.ipv4.tcp_syncookies'], '1'),
  // Linux: special purpose services (2.2), none of which a Kubernetes node needs
  service('2.2.3', 'Ensure Avahi Server is not enabled', ['avahi-daemon']),
  service('2.2.4', 'Ensure CUPS is not enabled', ['cups']),
  service('2.2.5', 'Ensure DHCP Server is not enabled', [
    'isc-dhcp-server',
    'isc-dhcp-server6',
    'dhcpd',
    'dhcpd6',
  ]),
  service('2.2.6', 'Ensure LDAP server is not enabled', ['slapd']),
  service('2.2.7', 'Ensure NFS and RPC are not enabled', [
    'nfs-server',
    'nfs-kernel-server',
    'rpcbind',
  ]),
  service('2.2.8', 'Ensure DNS Server is not enabled', ['named', 'bind9']),
  service('2.2.9', 'Ensure FTP Server is not enabled', ['vsftpd']),
  service('2.2.10', 'Ensure HTTP server is not enabled', ['apache2', 'httpd', 'lighttpd', 'nginx']),
  service('2.2.11', 'Ensure IMAP and POP3 server is not enabled', ['dovecot']),
  service('2.2.12', 'Ensure Samba is not enabled', ['smbd', 'smb']),
  service('2.2.13', 'Ensure HTTP Proxy Server is not enabled', ['squid']),
  service('2.2.14', 'Ensure SNMP Server is not enabled', ['snmpd']),
  service('2.2.16', 'Ensure rsync service is not enabled', ['rsync', 'rsyncd']),
  service('2.2.17', 'Ensure NIS Server is not enabled', ['ypserv']),
  // Linux: system file permissions (6.1)
  permissions('6.1.2', '/etc/passwd', 0o644),
  permissions('6.1.3', '/etc/shadow', 0o640, ['shadow']),
  permissions('6.1.4', '/etc/group', 0o644),
  permissions('6.1.5', '/etc/gshadow', 0o640, ['shadow']),
  permissions('6.1.6', '/etc/passwd-', 0o600),
  permissions('6.1.7', '/etc/shadow-', 0o640, ['shadow']),
  permissions('6.1.8', '/etc/group-', 0o644),
  permissions('6.1.9', '/etc/gshadow-', 0o640, ['shadow']),
];
