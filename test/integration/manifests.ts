// Helpers of the manifests tests: render manifests/ with the kustomize built into kubectl, find
// objects in the result, and turn the controller Deployment's container into a local command
// line (its args with the $(VAR) references expanded from its env and ConfigMap).
import { execFile } from 'node:child_process';
import type { ControlPlane } from '../../hack/control-plane/control-plane.ts';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { endInput } from '../support/child-input.ts';

const execFileAsync = promisify(execFile);
export const repoRoot = join(import.meta.dirname, '..', '..');
export const manifestsDir = join(repoRoot, 'manifests');
export const monitoringCrdsFixture = join(
  import.meta.dirname,
  'fixtures',
  'prometheus-operator-crds.yaml',
);
export const certManagerCrdsFixture = join(
  import.meta.dirname,
  'fixtures',
  'cert-manager-crds.yaml',
);
export const ADMIN_NAMESPACE = 'kube-inspector-system';
export const CONTROLLER_SA = 'kube-inspector-controller';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** `kubectl kustomize manifests/`, parsed. */
export async function renderManifests(kubectl: string, dir = manifestsDir): Promise<Manifest[]> {
  const { stdout } = await execFileAsync(kubectl, ['kustomize', dir], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

export function find(objects: Manifest[], kind: string, name?: string): Manifest {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0]!;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  [k: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
  [k: string]: unknown;
}

export function podSpec(deployment: Manifest): PodSpec {
  return (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

/**
 * The controller container's args with every $(VAR) replaced as the kubelet would: from
 * `env` values, then from the ConfigMaps of `envFrom`, then from `overrides` (for variables
 * the downward API fills in). Fails on a reference nothing defines.
 */
export function expandedArgs(
  objects: Manifest[],
  container: Container,
  overrides: Record<string, string> = {},
): string[] {
  const vars: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (name === undefined) continue;
    const cm = find(objects, 'ConfigMap', name) as Manifest & { data?: Record<string, string> };
    Object.assign(vars, cm.data ?? {});
  }
  for (const e of container.env ?? []) if (e.value !== undefined) vars[e.name] = e.value;
  Object.assign(vars, overrides);
  return (container.args ?? []).map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, v: string) => {
      const value = vars[v];
      if (value === undefined) throw new Error(`${arg}: $(${v}) is not defined`);
      return value;
    }),
  );
}

export type Kubectl = (...args: string[]) => Promise<string>;

/** kubectl of `plane` as its admin; `input` goes to stdin. Errors carry kubectl's stderr. */
export function kubectlOf(
  plane: ControlPlane,
): Kubectl & { withInput: (input: string, ...args: string[]) => Promise<string> } {
  const run = (input: string | undefined, args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        plane.binaries.kubectl,
        ['--kubeconfig', plane.kubeconfig, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) =>
          err
            ? reject(
                new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`, { cause: err }),
              )
            : resolve(stdout),
      );
      endInput(child, input, reject);
    });
  return Object.assign((...args: string[]) => run(undefined, args), {
    withInput: (input: string, ...args: string[]) => run(input, args),
  });
}

/**
 * Installs the stand-in Prometheus Operator and cert-manager CRDs (test fixtures), then `kubectl
 * apply -k manifests/`, and waits until the kube-inspector CRDs are served. Returns apply's output.
 */
export async function applyManifests(kubectl: Kubectl): Promise<string> {
  await kubectl('apply', '--server-side', '-f', monitoringCrdsFixture);
  await kubectl('apply', '--server-side', '-f', certManagerCrdsFixture);
  await kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/servicemonitors.monitoring.coreos.com',
    'crd/prometheusrules.monitoring.coreos.com',
    'crd/issuers.cert-manager.io',
    'crd/certificates.cert-manager.io',
  );
  const applied = await kubectl('apply', '-k', manifestsDir);
  await kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '-l',
    'app.kubernetes.io/part-of=kube-inspector',
  );
  return applied;
}
