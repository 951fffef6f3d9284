import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { endInput } from '../support/child-input.ts';

const execFileAsync = promisify(execFile);

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfig'));
  return kc;
}

/** Runs the kubectl of the control plane against it; resolves to stdout. */
export async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    inject('kubectl'),
    ['--kubeconfig', inject('kubeconfig'), ...args],
    {
      maxBuffer: 32 * 1024 * 1024,
    },
  );
  return stdout;
}

/** A DNS-1123 name that no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Creates a namespace for one test; returns its name. */
export async function createNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** Polls until check() returns a value other than undefined, or fails with the last state. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The HTTP status of a client-node ApiException, or undefined. */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** Runs kubectl with `input` on standard input; resolves to stdout, rejects with stderr. */
export function kubectlWithInput(input: string, ...args: string[]): Promise<string> {
  return kubectlOfWithInput(inject('kubectl'), inject('kubeconfig'), input, ...args);
}

/** The same for a given kubectl and kubeconfig (a control plane of a test's own). */
export function kubectlOfWithInput(
  kubectl: string,
  kubeconfig: string,
  input: string,
  ...args: string[]
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, ['--kubeconfig', kubeconfig, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
    endInput(child, input, reject);
  });
}

/** Server-side applies objects with kubectl, as a person would. */
export function kubectlApply(...objects: object[]): Promise<string> {
  return kubectlWithInput(
    objects.map((o) => JSON.stringify(o)).join('\n'),
    'apply',
    '--server-side',
    '--field-manager=kubectl',
    '-f',
    '-',
  );
}

/** A namespaced test CRD (version v1, status subresource) with the given spec and status schemas. */
export function testCrd(
  group: string,
  plural: string,
  kind: string,
  schemas: { spec: Record<string, unknown>; status: Record<string, unknown> },
) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', ...schemas.spec },
                status: { type: 'object', ...schemas.status },
              },
            },
          },
        },
      ],
    },
  };
}

/** Applies a CRD and waits until it is established. */
export async function installCrd(crd: { metadata: { name: string } }): Promise<void> {
  await kubectlApply(crd);
  await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${crd.metadata.name}`);
}
