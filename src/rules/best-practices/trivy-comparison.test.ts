/**
 * security-best-practices against Trivy's Kubernetes configuration checks (the checks
 * trivy-operator's configuration audit runs), on the same manifests: every case of the control
 * table as a Deployment, run through `trivy config` offline with the checks built into its
 * binary. For each case and each control with a Trivy equivalent, both must agree whether it is
 * broken, except where a difference is listed below with its reason (docs/rules-security-best-practices.md
 * has the same list for people).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trivyConfig } from '../trivy-testing.ts';
import { workloadFacts } from '../workload.ts';
import { CONTROLS } from './controls.ts';
import { controlViolations } from './evaluate.ts';
import { CASES, compliantSpec, type Case } from './testing.ts';

/** Our control → the Trivy checks (AVD KSV ids) that look at the same thing. */
const TRIVY_EQUIVALENTS: Readonly<Record<string, readonly string[]>> = {
  'PSS-BASELINE-HOST-PROCESS': ['KSV103'],
  'PSS-BASELINE-HOST-NAMESPACES': ['KSV008', 'KSV009', 'KSV010'],
  'PSS-BASELINE-PRIVILEGED': ['KSV017'],
  'PSS-BASELINE-CAPABILITIES': ['KSV005', 'KSV022'],
  'PSS-BASELINE-HOST-PATH': ['KSV023'],
  'PSS-BASELINE-HOST-PORTS': ['KSV024'],
  'PSS-BASELINE-APPARMOR': ['KSV002'],
  'PSS-BASELINE-SELINUX': ['KSV025'],
  'PSS-BASELINE-PROC-MOUNT': ['KSV027'],
  'PSS-BASELINE-SECCOMP': ['KSV104'],
  'PSS-BASELINE-SYSCTLS': ['KSV026'],
  'PSS-RESTRICTED-VOLUME-TYPES': ['KSV028'],
  'PSS-RESTRICTED-PRIVILEGE-ESCALATION': ['KSV001'],
  'PSS-RESTRICTED-RUN-AS-NON-ROOT': ['KSV012'],
  'PSS-RESTRICTED-RUN-AS-USER': ['KSV105'],
  'PSS-RESTRICTED-SECCOMP': ['KSV030'],
  'PSS-RESTRICTED-CAPABILITIES': ['KSV003', 'KSV106'],
  'HARDENING-MEMORY-LIMIT': ['KSV018'],
  'HARDENING-CPU-LIMIT': ['KSV011'],
  // No equivalent among Trivy's built-in checks: image by digest (KSV013 looks only for
  // `:latest`), the automounted service-account token.
  'HARDENING-IMAGE-DIGEST': [],
  'HARDENING-SERVICE-ACCOUNT-TOKEN': [],
};

/**
 * Where the two disagree: `<case name> | <control>`, with who reports it. `*` stands for every
 * case in which a container leaves its seccomp profile to the pod.
 */
const DIFFERENCES: Readonly<Record<string, 'only Trivy' | 'only kube-inspector'>> = {
  // Trivy reads hostProcess on containers only, not on the pod's securityContext.
  'pod hostProcess true | PSS-BASELINE-HOST-PROCESS': 'only kube-inspector',
  // Trivy does not look at ephemeral containers.
  'privileged ephemeral container | PSS-BASELINE-PRIVILEGED': 'only kube-inspector',
  'privileged ephemeral container | PSS-RESTRICTED-PRIVILEGE-ESCALATION': 'only kube-inspector',
  'privileged ephemeral container | PSS-RESTRICTED-CAPABILITIES': 'only kube-inspector',
  'privileged ephemeral container | HARDENING-MEMORY-LIMIT': 'only kube-inspector',
  'privileged ephemeral container | HARDENING-CPU-LIMIT': 'only kube-inspector',
  // KSV022 allows no added capability at all; the baseline allows the default set.
  'adds default-set capabilities only | PSS-BASELINE-CAPABILITIES': 'only Trivy',
  'adds CHOWN (baseline allows it, restricted does not) | PSS-BASELINE-CAPABILITIES': 'only Trivy',
  // KSV022 again: restricted allows NET_BIND_SERVICE after drop ALL.
  'drop ALL and add NET_BIND_SERVICE is allowed | PSS-BASELINE-CAPABILITIES': 'only Trivy',
  // KSV024 reports a hostPort of 0, which the baseline allows (it means no host port).
  'hostPort 0 is allowed | PSS-BASELINE-HOST-PORTS': 'only Trivy',
  // Trivy reads the AppArmor annotations only, not the appArmorProfile fields (Kubernetes
  // 1.30), and reports a `localhost/` profile, which the baseline allows.
  'pod profile Unconfined | PSS-BASELINE-APPARMOR': 'only kube-inspector',
  'Localhost profile and localhost/ annotation are allowed | PSS-BASELINE-APPARMOR': 'only Trivy',
  // KSV027 reports any procMount, even Default.
  'procMount Default is allowed | PSS-BASELINE-PROC-MOUNT': 'only Trivy',
  // KSV026 reports any sysctl, even the safe set the baseline allows.
  'safe sysctls are allowed | PSS-BASELINE-SYSCTLS': 'only Trivy',
  // KSV028's list of volume types predates csi and ephemeral volumes in the restricted profile,
  // and it leaves hostPath to KSV023.
  'projected, csi and ephemeral are allowed | PSS-RESTRICTED-VOLUME-TYPES': 'only Trivy',
  'hostPath volume | PSS-RESTRICTED-VOLUME-TYPES': 'only kube-inspector',
  // KSV012 takes the pod's runAsNonRoot and misses a container that sets it back to false.
  'container overrides the pod with false | PSS-RESTRICTED-RUN-AS-NON-ROOT': 'only kube-inspector',
  // KSV104 wants a profile on every container and does not read the pod's, which containers
  // inherit; the baseline is met by the pod's RuntimeDefault.
  '* | PSS-BASELINE-SECCOMP': 'only Trivy',
};

const all: Case[] = [
  { control: '', name: 'the compliant template', mutate: () => undefined, fields: [] },
  ...CASES,
];

function manifest(c: Case, i: number) {
  const spec = compliantSpec();
  const metadata: Record<string, unknown> = { labels: { app: 'web' } };
  c.mutate(spec, metadata);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `case-${i}`, namespace: 'shop' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata, spec } },
  };
}

/** Whether a container (of any kind) leaves its seccomp profile to the pod's. */
function inheritsSeccomp(obj: ReturnType<typeof manifest>): boolean {
  const spec = obj.spec.template.spec;
  const containers = ['containers', 'initContainers', 'ephemeralContainers'].flatMap(
    (k) => (spec[k] as { securityContext?: { seccompProfile?: unknown } }[] | undefined) ?? [],
  );
  return containers.some((c) => c.securityContext?.seccompProfile === undefined);
}

describe('security-best-practices compared with Trivy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-trivy-'));
  const manifests = all.map(manifest);
  let trivy = new Map<string, Set<string>>();

  beforeAll(async () => {
    mkdirSync(join(dir, 'm'));
    manifests.forEach((m, i) => writeFileSync(join(dir, 'm', `case-${i}.yaml`), stringify(m)));
    const report = await trivyConfig(join(dir, 'm'), join(dir, 'cache'));
    trivy = new Map(
      (report.Results ?? []).map((r) => [
        r.Target,
        new Set((r.Misconfigurations ?? []).filter((m) => m.Status !== 'PASS').map((m) => m.ID)),
      ]),
    );
  }, 320_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('Trivy read every manifest', () => {
    expect(trivy.size).toBe(all.length);
  });

  it('agrees on every control with a Trivy equivalent, except the differences explained', () => {
    expect(Object.keys(TRIVY_EQUIVALENTS).sort()).toEqual(CONTROLS.map((c) => c.id).sort());
    const found: Record<string, string> = {};
    all.forEach((c, i) => {
      const facts = workloadFacts(manifests[i]!);
      if (typeof facts === 'string') throw new Error(facts);
      const theirs = trivy.get(`case-${i}.yaml`) ?? new Set<string>();
      for (const control of CONTROLS) {
        const ids = TRIVY_EQUIVALENTS[control.id]!;
        if (ids.length === 0) continue;
        const ours = controlViolations(control, facts).length > 0;
        const trivyToo = ids.some((id) => theirs.has(id));
        if (ours === trivyToo) continue;
        const who = ours ? 'only kube-inspector' : 'only Trivy';
        const systematic = `* | ${control.id}`;
        if (DIFFERENCES[systematic] === who && inheritsSeccomp(manifests[i]!)) continue;
        found[`${c.name} | ${control.id}`] = who;
      }
    });
    const listed = Object.fromEntries(
      Object.entries(DIFFERENCES).filter(([k]) => !k.startsWith('* | ')),
    );
    expect(found).toEqual(listed);
  });

  it('both report the plainly broken cases', () => {
    // A sample both must report, so an empty Trivy answer cannot pass as agreement.
    const agreed = ['privileged container', 'hostNetwork true', 'allowPrivilegeEscalation true'];
    for (const name of agreed) {
      const i = all.findIndex((c) => c.name === name);
      const ids = TRIVY_EQUIVALENTS[all[i]!.control]!;
      expect(
        ids.some((id) => trivy.get(`case-${i}.yaml`)?.has(id)),
        name,
      ).toBe(true);
    }
  });
});
