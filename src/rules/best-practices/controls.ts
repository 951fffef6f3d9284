/**
 * The controls of the `security-best-practices` rules package, as data: the Pod Security
 * Standards' baseline and restricted controls, with their restricted fields and allowed values
 * as the standard defines them, and a short list of hardening rules outside the standard.
 *
 * A control's `scope` says what its rules are evaluated on: `pod` (the pod template: metadata
 * and spec, plus `serviceAccount` for the template's service account) or `container` (each of
 * spec.containers, spec.initContainers and spec.ephemeralContainers; an `inherits` rule falls
 * back to the pod template). The list and its sources are in docs/rules-security-best-practices.md.
 */
import type { Severity } from '../../api/v1alpha1/common.ts';
import type { FieldRule, Scalar } from '../fields.ts';

export type ControlLevel = 'baseline' | 'restricted' | 'hardening';

export interface Control {
  id: string;
  title: string;
  level: ControlLevel;
  severity: Severity;
  scope: 'pod' | 'container';
  /** The restricted fields as the source writes them. */
  fields: readonly string[];
  rules: readonly FieldRule[];
  description: string;
  remediation: string;
  source: string;
}

export const PSS_SOURCE = 'https://kubernetes.io/docs/concepts/security/pod-security-standards/';
export const PSS_VERSION = 'v1.33';

const BASELINE_URL = `${PSS_SOURCE}#baseline`;
const RESTRICTED_URL = `${PSS_SOURCE}#restricted`;

/** Capabilities the baseline level allows to add (the container runtimes' default set). */
export const BASELINE_CAPABILITIES: readonly Scalar[] = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

/** Sysctls the baseline level allows (namespaced and isolated from other pods). */
export const SAFE_SYSCTLS: readonly Scalar[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/** Volume types the restricted level allows. */
export const RESTRICTED_VOLUME_TYPES: readonly string[] = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

const SELINUX_TYPES: readonly Scalar[] = [
  null,
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
];

const CONTAINER_LISTS = 'spec.(containers|initContainers|ephemeralContainers)[*]';

export const CONTROLS: readonly Control[] = [
  // ------------------------------------------------------------------ baseline
  {
    id: 'PSS-BASELINE-HOST-PROCESS',
    title: 'HostProcess containers',
    level: 'baseline',
    severity: 'HIGH',
    scope: 'pod',
    fields: [
      'spec.securityContext.windowsOptions.hostProcess',
      `${CONTAINER_LISTS}.securityContext.windowsOptions.hostProcess`,
    ],
    rules: [
      {
        op: 'oneOf',
        path: 'spec.securityContext.windowsOptions.hostProcess',
        values: [null, false],
      },
      {
        op: 'oneOf',
        path: 'spec.containers[*].securityContext.windowsOptions.hostProcess',
        values: [null, false],
      },
      {
        op: 'oneOf',
        path: 'spec.initContainers[*].securityContext.windowsOptions.hostProcess',
        values: [null, false],
      },
      {
        op: 'oneOf',
        path: 'spec.ephemeralContainers[*].securityContext.windowsOptions.hostProcess',
        values: [null, false],
      },
    ],
    description:
      'Windows HostProcess containers have privileged access to the Windows node; the baseline level forbids them.',
    remediation: 'Remove windowsOptions.hostProcess or set it to false.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-HOST-NAMESPACES',
    title: 'Host namespaces',
    level: 'baseline',
    severity: 'HIGH',
    scope: 'pod',
    fields: ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC'],
    rules: [
      { op: 'oneOf', path: 'spec.hostNetwork', values: [null, false] },
      { op: 'oneOf', path: 'spec.hostPID', values: [null, false] },
      { op: 'oneOf', path: 'spec.hostIPC', values: [null, false] },
    ],
    description: "Sharing the host's network, PID or IPC namespace must be disallowed.",
    remediation: 'Remove hostNetwork, hostPID and hostIPC, or set them to false.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-PRIVILEGED',
    title: 'Privileged containers',
    level: 'baseline',
    severity: 'CRITICAL',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.securityContext.privileged`],
    rules: [{ op: 'oneOf', path: 'securityContext.privileged', values: [null, false] }],
    description: 'Privileged containers disable most security mechanisms and must be disallowed.',
    remediation: 'Remove securityContext.privileged or set it to false.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-CAPABILITIES',
    title: 'Added capabilities',
    level: 'baseline',
    severity: 'HIGH',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.securityContext.capabilities.add`],
    rules: [
      {
        op: 'oneOf',
        path: 'securityContext.capabilities.add[*]',
        values: BASELINE_CAPABILITIES,
      },
    ],
    description:
      'Adding capabilities beyond the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) must be disallowed.',
    remediation: 'Remove the other capabilities from securityContext.capabilities.add.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-HOST-PATH',
    title: 'HostPath volumes',
    level: 'baseline',
    severity: 'HIGH',
    scope: 'pod',
    fields: ['spec.volumes[*].hostPath'],
    rules: [{ op: 'oneOf', path: 'spec.volumes[*].hostPath', values: [null] }],
    description: 'HostPath volumes must be forbidden.',
    remediation:
      'Replace hostPath volumes with configMap, secret, emptyDir or persistentVolumeClaim volumes.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-HOST-PORTS',
    title: 'Host ports',
    level: 'baseline',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.ports[*].hostPort`],
    rules: [{ op: 'oneOf', path: 'ports[*].hostPort', values: [null, 0] }],
    description: 'Host ports should be disallowed (or at least limited to a known list).',
    remediation: 'Remove ports[].hostPort; expose the pod through a Service instead.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-APPARMOR',
    title: 'AppArmor profile overridden',
    level: 'baseline',
    severity: 'MEDIUM',
    scope: 'pod',
    fields: [
      'spec.securityContext.appArmorProfile.type',
      `${CONTAINER_LISTS}.securityContext.appArmorProfile.type`,
      "metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']",
    ],
    rules: [
      {
        op: 'oneOf',
        path: 'spec.securityContext.appArmorProfile.type',
        values: [null, 'RuntimeDefault', 'Localhost'],
      },
      ...['containers', 'initContainers', 'ephemeralContainers'].map((list): FieldRule => ({
        op: 'oneOf',
        path: `spec.${list}[*].securityContext.appArmorProfile.type`,
        values: [null, 'RuntimeDefault', 'Localhost'],
      })),
      {
        op: 'mapValues',
        path: 'metadata.annotations',
        keyPrefix: 'container.apparmor.security.beta.kubernetes.io/',
        values: ['runtime/default'],
        valuePrefixes: ['localhost/'],
      },
    ],
    description:
      'Overriding or disabling the default AppArmor profile must be disallowed: only RuntimeDefault and Localhost profiles.',
    remediation: 'Use appArmorProfile type RuntimeDefault or Localhost, never Unconfined.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-SELINUX',
    title: 'Custom SELinux options',
    level: 'baseline',
    severity: 'MEDIUM',
    scope: 'pod',
    fields: [
      'spec.securityContext.seLinuxOptions.type',
      `${CONTAINER_LISTS}.securityContext.seLinuxOptions.type`,
      'spec.securityContext.seLinuxOptions.user',
      `${CONTAINER_LISTS}.securityContext.seLinuxOptions.user`,
      'spec.securityContext.seLinuxOptions.role',
      `${CONTAINER_LISTS}.securityContext.seLinuxOptions.role`,
    ],
    rules: ['', 'containers[*].', 'initContainers[*].', 'ephemeralContainers[*].'].flatMap(
      (at): FieldRule[] => [
        {
          op: 'oneOf',
          path: `spec.${at}securityContext.seLinuxOptions.type`,
          values: SELINUX_TYPES,
        },
        { op: 'oneOf', path: `spec.${at}securityContext.seLinuxOptions.user`, values: [null, ''] },
        { op: 'oneOf', path: `spec.${at}securityContext.seLinuxOptions.role`, values: [null, ''] },
      ],
    ),
    description:
      'Setting the SELinux type to other than the container types, or a custom SELinux user or role, must be forbidden.',
    remediation:
      'Remove seLinuxOptions, or use type container_t, container_init_t, container_kvm_t or container_engine_t without user and role.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-PROC-MOUNT',
    title: 'Unmasked /proc mount',
    level: 'baseline',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.securityContext.procMount`],
    rules: [{ op: 'oneOf', path: 'securityContext.procMount', values: [null, 'Default'] }],
    description: 'The default /proc masks reduce the attack surface and should be required.',
    remediation: 'Remove securityContext.procMount or set it to Default.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-SECCOMP',
    title: 'Seccomp profile Unconfined',
    level: 'baseline',
    severity: 'MEDIUM',
    scope: 'pod',
    fields: [
      'spec.securityContext.seccompProfile.type',
      `${CONTAINER_LISTS}.securityContext.seccompProfile.type`,
    ],
    rules: ['', 'containers[*].', 'initContainers[*].', 'ephemeralContainers[*].'].map(
      (at): FieldRule => ({
        op: 'oneOf',
        path: `spec.${at}securityContext.seccompProfile.type`,
        values: [null, 'RuntimeDefault', 'Localhost'],
      }),
    ),
    description: 'The seccomp profile must not be explicitly set to Unconfined.',
    remediation: 'Set seccompProfile.type to RuntimeDefault or Localhost.',
    source: BASELINE_URL,
  },
  {
    id: 'PSS-BASELINE-SYSCTLS',
    title: 'Unsafe sysctls',
    level: 'baseline',
    severity: 'HIGH',
    scope: 'pod',
    fields: ['spec.securityContext.sysctls[*].name'],
    rules: [{ op: 'oneOf', path: 'spec.securityContext.sysctls[*].name', values: SAFE_SYSCTLS }],
    description:
      'Sysctls can disable security mechanisms or affect every container on the host; only the safe, namespaced subset is allowed.',
    remediation: 'Remove the sysctls that are not in the safe list.',
    source: BASELINE_URL,
  },
  // ------------------------------------------------------------------ restricted
  {
    id: 'PSS-RESTRICTED-VOLUME-TYPES',
    title: 'Volume types',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'pod',
    fields: ['spec.volumes[*]'],
    rules: [
      { op: 'onlyKeys', path: 'spec.volumes[*]', keys: RESTRICTED_VOLUME_TYPES, ignore: ['name'] },
    ],
    description:
      'The restricted level allows only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret volumes.',
    remediation: 'Use one of the allowed volume types, or a persistentVolumeClaim for storage.',
    source: RESTRICTED_URL,
  },
  {
    id: 'PSS-RESTRICTED-PRIVILEGE-ESCALATION',
    title: 'Privilege escalation allowed',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.securityContext.allowPrivilegeEscalation`],
    rules: [{ op: 'oneOf', path: 'securityContext.allowPrivilegeEscalation', values: [false] }],
    description:
      'Privilege escalation (for example through set-user-ID binaries) must not be allowed.',
    remediation: 'Set securityContext.allowPrivilegeEscalation to false.',
    source: RESTRICTED_URL,
  },
  {
    id: 'PSS-RESTRICTED-RUN-AS-NON-ROOT',
    title: 'Running as root allowed',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [
      'spec.securityContext.runAsNonRoot',
      `${CONTAINER_LISTS}.securityContext.runAsNonRoot`,
    ],
    rules: [
      {
        op: 'inherits',
        path: 'securityContext.runAsNonRoot',
        fallback: 'spec.securityContext.runAsNonRoot',
        values: [true],
      },
    ],
    description:
      'Containers must be required to run as non-root users: runAsNonRoot true on each container, or on the pod.',
    remediation: 'Set spec.securityContext.runAsNonRoot to true (or on each container).',
    source: RESTRICTED_URL,
  },
  {
    id: 'PSS-RESTRICTED-RUN-AS-USER',
    title: 'Running as UID 0',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'pod',
    fields: ['spec.securityContext.runAsUser', `${CONTAINER_LISTS}.securityContext.runAsUser`],
    rules: ['', 'containers[*].', 'initContainers[*].', 'ephemeralContainers[*].'].map(
      (at): FieldRule => ({
        op: 'noneOf',
        path: `spec.${at}securityContext.runAsUser`,
        values: [0],
      }),
    ),
    description: 'Containers must not set runAsUser to 0.',
    remediation: 'Set runAsUser to a non-zero UID, or remove it.',
    source: RESTRICTED_URL,
  },
  {
    id: 'PSS-RESTRICTED-SECCOMP',
    title: 'Seccomp profile not set',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [
      'spec.securityContext.seccompProfile.type',
      `${CONTAINER_LISTS}.securityContext.seccompProfile.type`,
    ],
    rules: [
      {
        op: 'inherits',
        path: 'securityContext.seccompProfile.type',
        fallback: 'spec.securityContext.seccompProfile.type',
        values: ['RuntimeDefault', 'Localhost'],
      },
    ],
    description:
      'A seccomp profile must be set to RuntimeDefault or Localhost, on the pod or on each container.',
    remediation: 'Set spec.securityContext.seccompProfile.type to RuntimeDefault.',
    source: RESTRICTED_URL,
  },
  {
    id: 'PSS-RESTRICTED-CAPABILITIES',
    title: 'Capabilities not dropped',
    level: 'restricted',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [
      `${CONTAINER_LISTS}.securityContext.capabilities.drop`,
      `${CONTAINER_LISTS}.securityContext.capabilities.add`,
    ],
    rules: [
      { op: 'contains', path: 'securityContext.capabilities.drop', value: 'ALL' },
      { op: 'oneOf', path: 'securityContext.capabilities.add[*]', values: ['NET_BIND_SERVICE'] },
    ],
    description:
      'Containers must drop ALL capabilities, and are only permitted to add back NET_BIND_SERVICE.',
    remediation: 'Set securityContext.capabilities.drop to [ALL]; add only NET_BIND_SERVICE.',
    source: RESTRICTED_URL,
  },
  // ------------------------------------------------------------------ hardening
  {
    id: 'HARDENING-IMAGE-DIGEST',
    title: 'Image not pinned by digest',
    level: 'hardening',
    severity: 'LOW',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.image`],
    rules: [{ op: 'matches', path: 'image', pattern: '@sha256:[0-9a-f]{64}$' }],
    description:
      'An image named by tag can change under the same name; a digest names exactly what was reviewed and scanned.',
    remediation: 'Name the image by digest: registry/repository@sha256:….',
    source: 'https://kubernetes.io/docs/concepts/containers/images/#image-names',
  },
  {
    id: 'HARDENING-MEMORY-LIMIT',
    title: 'No memory limit',
    level: 'hardening',
    severity: 'MEDIUM',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.resources.limits.memory`],
    rules: [{ op: 'present', path: 'resources.limits.memory' }],
    description:
      'A container without a memory limit can take the memory of the whole node and get other pods evicted.',
    remediation: 'Set resources.limits.memory.',
    source: 'https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/',
  },
  {
    id: 'HARDENING-CPU-LIMIT',
    title: 'No CPU limit',
    level: 'hardening',
    severity: 'LOW',
    scope: 'container',
    fields: [`${CONTAINER_LISTS}.resources.limits.cpu`],
    rules: [{ op: 'present', path: 'resources.limits.cpu' }],
    description: 'A container without a CPU limit can starve the other containers of its node.',
    remediation: 'Set resources.limits.cpu (or a LimitRange default in the namespace).',
    source: 'https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/',
  },
  {
    id: 'HARDENING-SERVICE-ACCOUNT-TOKEN',
    title: 'Service account token automounted',
    level: 'hardening',
    severity: 'LOW',
    scope: 'pod',
    fields: ['spec.automountServiceAccountToken', 'ServiceAccount automountServiceAccountToken'],
    rules: [
      {
        op: 'inherits',
        path: 'spec.automountServiceAccountToken',
        fallback: 'serviceAccount.automountServiceAccountToken',
        otherwise: true,
        values: [false],
      },
    ],
    description:
      'The API token of the service account is mounted in every container unless the pod or its service account opts out; a workload that does not call the API does not need it, and an attacker in the container gets it.',
    remediation:
      'Set spec.automountServiceAccountToken to false (or on the ServiceAccount), and mount a projected token only where the API is called.',
    source:
      'https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting',
  },
];
