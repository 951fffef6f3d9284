/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call -- the table mutates plain pod specs */
/**
 * The table of security-best-practices cases the tests share: a pod spec that passes every
 * control, and for each control the variants that break it (with the offending field paths) and
 * the variants the standard allows.
 */
import { workloadFacts, type WorkloadFacts } from '../workload.ts';

export const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A pod spec that passes every control: restricted, pinned, limited, no token. */
export function compliantSpec(): Record<string, unknown> {
  return {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'app',
        image: `registry.example/app@${DIGEST}`,
        ports: [{ containerPort: 8080 }],
        resources: { limits: { cpu: '500m', memory: '256Mi' } },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
    volumes: [{ name: 'config', configMap: { name: 'app' } }],
  };
}

export function deployment(mutate: (spec: any, meta: any) => void = () => {}): WorkloadFacts {
  const spec = compliantSpec();
  const metadata: any = { labels: { app: 'web' } };
  mutate(spec, metadata);
  const facts = workloadFacts({
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { template: { metadata, spec } },
  });
  if (typeof facts === 'string') throw new Error(facts);
  return facts;
}

export const ctr = (spec: any) => spec.containers[0];

export interface Case {
  control: string;
  name: string;
  mutate: (spec: any, meta: any) => void;
  /** Expected offending field paths; [] means the variant passes. */
  fields: string[];
}

export const T = 'spec.template.spec';

// Each control: variants that break it and variants that the standard allows.
export const CASES: Case[] = [
  // HostProcess
  {
    control: 'PSS-BASELINE-HOST-PROCESS',
    name: 'pod hostProcess true',
    mutate: (s) => {
      s.securityContext.windowsOptions = { hostProcess: true };
    },
    fields: [`${T}.securityContext.windowsOptions.hostProcess`],
  },
  {
    control: 'PSS-BASELINE-HOST-PROCESS',
    name: 'init container hostProcess true',
    mutate: (s) => {
      s.initContainers = [
        {
          name: 'i',
          image: `x@${DIGEST}`,
          securityContext: { windowsOptions: { hostProcess: true } },
        },
      ];
    },
    fields: [`${T}.initContainers[0].securityContext.windowsOptions.hostProcess`],
  },
  {
    control: 'PSS-BASELINE-HOST-PROCESS',
    name: 'hostProcess false is allowed',
    mutate: (s) => {
      s.securityContext.windowsOptions = { hostProcess: false };
    },
    fields: [],
  },
  // Host namespaces
  {
    control: 'PSS-BASELINE-HOST-NAMESPACES',
    name: 'hostNetwork true',
    mutate: (s) => {
      s.hostNetwork = true;
    },
    fields: [`${T}.hostNetwork`],
  },
  {
    control: 'PSS-BASELINE-HOST-NAMESPACES',
    name: 'hostPID and hostIPC true',
    mutate: (s) => {
      s.hostPID = true;
      s.hostIPC = true;
    },
    fields: [`${T}.hostPID`, `${T}.hostIPC`],
  },
  {
    control: 'PSS-BASELINE-HOST-NAMESPACES',
    name: 'all three false is allowed',
    mutate: (s) => {
      s.hostNetwork = false;
      s.hostPID = false;
      s.hostIPC = false;
    },
    fields: [],
  },
  // Privileged
  {
    control: 'PSS-BASELINE-PRIVILEGED',
    name: 'privileged container',
    mutate: (s) => {
      ctr(s).securityContext.privileged = true;
    },
    fields: [`${T}.containers[0].securityContext.privileged`],
  },
  {
    control: 'PSS-BASELINE-PRIVILEGED',
    name: 'privileged ephemeral container',
    mutate: (s) => {
      s.ephemeralContainers = [
        { name: 'debug', image: `x@${DIGEST}`, securityContext: { privileged: true } },
      ];
    },
    fields: [`${T}.ephemeralContainers[0].securityContext.privileged`],
  },
  {
    control: 'PSS-BASELINE-PRIVILEGED',
    name: 'privileged false is allowed',
    mutate: (s) => {
      ctr(s).securityContext.privileged = false;
    },
    fields: [],
  },
  // Capabilities (baseline)
  {
    control: 'PSS-BASELINE-CAPABILITIES',
    name: 'adds SYS_ADMIN',
    mutate: (s) => {
      ctr(s).securityContext.capabilities.add = ['CHOWN', 'SYS_ADMIN'];
    },
    fields: [`${T}.containers[0].securityContext.capabilities.add[1]`],
  },
  {
    control: 'PSS-BASELINE-CAPABILITIES',
    name: 'adds NET_RAW',
    mutate: (s) => {
      ctr(s).securityContext.capabilities.add = ['NET_RAW'];
    },
    fields: [`${T}.containers[0].securityContext.capabilities.add[0]`],
  },
  {
    control: 'PSS-BASELINE-CAPABILITIES',
    name: 'adds default-set capabilities only',
    mutate: (s) => {
      ctr(s).securityContext.capabilities.add = ['CHOWN', 'KILL', 'SYS_CHROOT'];
    },
    fields: [],
  },
  // HostPath
  {
    control: 'PSS-BASELINE-HOST-PATH',
    name: 'hostPath volume',
    mutate: (s) => {
      s.volumes.push({ name: 'docker', hostPath: { path: '/var/run/docker.sock' } });
    },
    fields: [`${T}.volumes[1].hostPath`],
  },
  {
    control: 'PSS-BASELINE-HOST-PATH',
    name: 'emptyDir volume is allowed',
    mutate: (s) => {
      s.volumes.push({ name: 'tmp', emptyDir: {} });
    },
    fields: [],
  },
  // Host ports
  {
    control: 'PSS-BASELINE-HOST-PORTS',
    name: 'hostPort 80',
    mutate: (s) => {
      ctr(s).ports[0].hostPort = 80;
    },
    fields: [`${T}.containers[0].ports[0].hostPort`],
  },
  {
    control: 'PSS-BASELINE-HOST-PORTS',
    name: 'hostPort 0 is allowed',
    mutate: (s) => {
      ctr(s).ports[0].hostPort = 0;
    },
    fields: [],
  },
  // AppArmor
  {
    control: 'PSS-BASELINE-APPARMOR',
    name: 'pod profile Unconfined',
    mutate: (s) => {
      s.securityContext.appArmorProfile = { type: 'Unconfined' };
    },
    fields: [`${T}.securityContext.appArmorProfile.type`],
  },
  {
    control: 'PSS-BASELINE-APPARMOR',
    name: 'annotation unconfined',
    mutate: (_s, m) => {
      m.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' };
    },
    fields: [
      "spec.template.metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']",
    ],
  },
  {
    control: 'PSS-BASELINE-APPARMOR',
    name: 'Localhost profile and localhost/ annotation are allowed',
    mutate: (s, m) => {
      ctr(s).securityContext.appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s' };
      m.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'localhost/k8s' };
    },
    fields: [],
  },
  // SELinux
  {
    control: 'PSS-BASELINE-SELINUX',
    name: 'type spc_t',
    mutate: (s) => {
      s.securityContext.seLinuxOptions = { type: 'spc_t' };
    },
    fields: [`${T}.securityContext.seLinuxOptions.type`],
  },
  {
    control: 'PSS-BASELINE-SELINUX',
    name: 'container user set',
    mutate: (s) => {
      ctr(s).securityContext.seLinuxOptions = { user: 'system_u' };
    },
    fields: [`${T}.containers[0].securityContext.seLinuxOptions.user`],
  },
  {
    control: 'PSS-BASELINE-SELINUX',
    name: 'type container_t and a level are allowed',
    mutate: (s) => {
      s.securityContext.seLinuxOptions = { type: 'container_t', level: 's0:c123,c456' };
    },
    fields: [],
  },
  // /proc mount
  {
    control: 'PSS-BASELINE-PROC-MOUNT',
    name: 'procMount Unmasked',
    mutate: (s) => {
      ctr(s).securityContext.procMount = 'Unmasked';
    },
    fields: [`${T}.containers[0].securityContext.procMount`],
  },
  {
    control: 'PSS-BASELINE-PROC-MOUNT',
    name: 'procMount Default is allowed',
    mutate: (s) => {
      ctr(s).securityContext.procMount = 'Default';
    },
    fields: [],
  },
  // Seccomp (baseline)
  {
    control: 'PSS-BASELINE-SECCOMP',
    name: 'container Unconfined',
    mutate: (s) => {
      ctr(s).securityContext.seccompProfile = { type: 'Unconfined' };
    },
    fields: [`${T}.containers[0].securityContext.seccompProfile.type`],
  },
  {
    control: 'PSS-BASELINE-SECCOMP',
    name: 'no profile at all is allowed at baseline',
    mutate: (s) => {
      delete s.securityContext.seccompProfile;
    },
    fields: [],
  },
  // Sysctls
  {
    control: 'PSS-BASELINE-SYSCTLS',
    name: 'kernel.msgmax',
    mutate: (s) => {
      s.securityContext.sysctls = [
        { name: 'net.ipv4.tcp_syncookies', value: '1' },
        { name: 'kernel.msgmax', value: '65536' },
      ];
    },
    fields: [`${T}.securityContext.sysctls[1].name`],
  },
  {
    control: 'PSS-BASELINE-SYSCTLS',
    name: 'safe sysctls are allowed',
    mutate: (s) => {
      s.securityContext.sysctls = [
        { name: 'net.ipv4.ip_local_port_range', value: '1024 65535' },
        { name: 'net.ipv4.tcp_keepalive_time', value: '600' },
      ];
    },
    fields: [],
  },
  // Volume types
  {
    control: 'PSS-RESTRICTED-VOLUME-TYPES',
    name: 'nfs volume',
    mutate: (s) => {
      s.volumes.push({ name: 'share', nfs: { server: 'nfs', path: '/' } });
    },
    fields: [`${T}.volumes[1].nfs`],
  },
  {
    control: 'PSS-RESTRICTED-VOLUME-TYPES',
    name: 'hostPath volume',
    mutate: (s) => {
      s.volumes.push({ name: 'h', hostPath: { path: '/' } });
    },
    fields: [`${T}.volumes[1].hostPath`],
  },
  {
    control: 'PSS-RESTRICTED-VOLUME-TYPES',
    name: 'projected, csi and ephemeral are allowed',
    mutate: (s) => {
      s.volumes.push(
        { name: 'p', projected: { sources: [] } },
        { name: 'c', csi: { driver: 'x' } },
        { name: 'e', ephemeral: {} },
      );
    },
    fields: [],
  },
  // Privilege escalation
  {
    control: 'PSS-RESTRICTED-PRIVILEGE-ESCALATION',
    name: 'allowPrivilegeEscalation absent',
    mutate: (s) => {
      delete ctr(s).securityContext.allowPrivilegeEscalation;
    },
    fields: [`${T}.containers[0].securityContext.allowPrivilegeEscalation`],
  },
  {
    control: 'PSS-RESTRICTED-PRIVILEGE-ESCALATION',
    name: 'allowPrivilegeEscalation true',
    mutate: (s) => {
      ctr(s).securityContext.allowPrivilegeEscalation = true;
    },
    fields: [`${T}.containers[0].securityContext.allowPrivilegeEscalation`],
  },
  // Non-root
  {
    control: 'PSS-RESTRICTED-RUN-AS-NON-ROOT',
    name: 'not set anywhere',
    mutate: (s) => {
      delete s.securityContext.runAsNonRoot;
    },
    fields: [`${T}.containers[0].securityContext.runAsNonRoot`],
  },
  {
    control: 'PSS-RESTRICTED-RUN-AS-NON-ROOT',
    name: 'container overrides the pod with false',
    mutate: (s) => {
      ctr(s).securityContext.runAsNonRoot = false;
    },
    fields: [`${T}.containers[0].securityContext.runAsNonRoot`],
  },
  {
    control: 'PSS-RESTRICTED-RUN-AS-NON-ROOT',
    name: 'set on the container only is allowed',
    mutate: (s) => {
      delete s.securityContext.runAsNonRoot;
      ctr(s).securityContext.runAsNonRoot = true;
    },
    fields: [],
  },
  // runAsUser
  {
    control: 'PSS-RESTRICTED-RUN-AS-USER',
    name: 'pod runAsUser 0',
    mutate: (s) => {
      s.securityContext.runAsUser = 0;
    },
    fields: [`${T}.securityContext.runAsUser`],
  },
  {
    control: 'PSS-RESTRICTED-RUN-AS-USER',
    name: 'container runAsUser 0',
    mutate: (s) => {
      ctr(s).securityContext.runAsUser = 0;
    },
    fields: [`${T}.containers[0].securityContext.runAsUser`],
  },
  {
    control: 'PSS-RESTRICTED-RUN-AS-USER',
    name: 'runAsUser 1000 is allowed',
    mutate: (s) => {
      s.securityContext.runAsUser = 1000;
    },
    fields: [],
  },
  // Seccomp (restricted)
  {
    control: 'PSS-RESTRICTED-SECCOMP',
    name: 'not set anywhere',
    mutate: (s) => {
      delete s.securityContext.seccompProfile;
    },
    fields: [`${T}.containers[0].securityContext.seccompProfile.type`],
  },
  {
    control: 'PSS-RESTRICTED-SECCOMP',
    name: 'container Unconfined overrides the pod',
    mutate: (s) => {
      ctr(s).securityContext.seccompProfile = { type: 'Unconfined' };
    },
    fields: [`${T}.containers[0].securityContext.seccompProfile.type`],
  },
  {
    control: 'PSS-RESTRICTED-SECCOMP',
    name: 'Localhost on the container is allowed',
    mutate: (s) => {
      delete s.securityContext.seccompProfile;
      ctr(s).securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' };
    },
    fields: [],
  },
  // Capabilities (restricted)
  {
    control: 'PSS-RESTRICTED-CAPABILITIES',
    name: 'drop ALL missing',
    mutate: (s) => {
      ctr(s).securityContext.capabilities = { drop: ['NET_RAW'] };
    },
    fields: [`${T}.containers[0].securityContext.capabilities.drop`],
  },
  {
    control: 'PSS-RESTRICTED-CAPABILITIES',
    name: 'adds CHOWN (baseline allows it, restricted does not)',
    mutate: (s) => {
      ctr(s).securityContext.capabilities.add = ['CHOWN'];
    },
    fields: [`${T}.containers[0].securityContext.capabilities.add[0]`],
  },
  {
    control: 'PSS-RESTRICTED-CAPABILITIES',
    name: 'drop ALL and add NET_BIND_SERVICE is allowed',
    mutate: (s) => {
      ctr(s).securityContext.capabilities.add = ['NET_BIND_SERVICE'];
    },
    fields: [],
  },
  // Hardening
  {
    control: 'HARDENING-IMAGE-DIGEST',
    name: 'image by tag',
    mutate: (s) => {
      ctr(s).image = 'registry.example/app:1.2';
    },
    fields: [`${T}.containers[0].image`],
  },
  {
    control: 'HARDENING-IMAGE-DIGEST',
    name: 'tag and digest is allowed',
    mutate: (s) => {
      ctr(s).image = `registry.example/app:1.2@${DIGEST}`;
    },
    fields: [],
  },
  {
    control: 'HARDENING-MEMORY-LIMIT',
    name: 'no limits',
    mutate: (s) => {
      delete ctr(s).resources;
    },
    fields: [`${T}.containers[0].resources.limits.memory`],
  },
  {
    control: 'HARDENING-MEMORY-LIMIT',
    name: 'requests only',
    mutate: (s) => {
      ctr(s).resources = { requests: { memory: '1Gi' } };
    },
    fields: [`${T}.containers[0].resources.limits.memory`],
  },
  {
    control: 'HARDENING-CPU-LIMIT',
    name: 'memory limit only',
    mutate: (s) => {
      ctr(s).resources = { limits: { memory: '1Gi' } };
    },
    fields: [`${T}.containers[0].resources.limits.cpu`],
  },
  {
    control: 'HARDENING-SERVICE-ACCOUNT-TOKEN',
    name: 'not set (default true)',
    mutate: (s) => {
      delete s.automountServiceAccountToken;
    },
    fields: [`${T}.automountServiceAccountToken`],
  },
  {
    control: 'HARDENING-SERVICE-ACCOUNT-TOKEN',
    name: 'set true',
    mutate: (s) => {
      s.automountServiceAccountToken = true;
    },
    fields: [`${T}.automountServiceAccountToken`],
  },
];
