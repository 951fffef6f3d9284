// Helpers of the end-to-end tests: kubectl against the shared control plane and
// a namespace per test that is deleted (and waited for) afterwards.
import { execFile } from 'node:child_process';
import { inject } from 'vitest';
import { endInput } from '../support/child-input.ts';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with the admin kubeconfig; never throws (the result carries the exit code). */
export function kubectlResult(args: readonly string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      inject('kubectl'),
      ['--kubeconfig', inject('kubeconfig'), ...args],
      { maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
    endInput(child, input, (err) => resolve({ code: 1, stdout: '', stderr: err.message }));
  });
}

/** Runs kubectl and returns stdout; a failure throws with kubectl's stderr. */
export async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectlResult(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** kubectl apply -f - of JSON objects. */
export async function apply(...objects: object[]): Promise<void> {
  await kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  );
}

/** Polls `probe` every 500 ms until it returns a value other than undefined. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not true within ${timeoutMs / 1000} s${last ? ` (${last.message})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The test image with busybox and kubectl, in the node's loopback registry. */
export function toolsImage(): string {
  return `${inject('registry')}/tools:1`;
}

/** Creates a namespace; the returned function deletes it and waits until it is gone. */
export async function namespace(name: string): Promise<() => Promise<void>> {
  await kubectl(['create', 'namespace', name]);
  return async () => {
    await kubectl(['delete', 'namespace', name, '--wait=true', '--timeout=120s']);
  };
}

/** A pod's phase once it is Succeeded or Failed. */
export function podFinished(ns: string, pod: string, timeoutMs = 90_000): Promise<string> {
  return eventually(`pod ${ns}/${pod} finished`, timeoutMs, async () => {
    const phase = await kubectl(['-n', ns, 'get', 'pod', pod, '-o', 'jsonpath={.status.phase}']);
    return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
  });
}

/** Fault injection on the node: SIGKILL (`kill`), SIGTERM (`stop`) or `start` a node process. */
export async function nodeControl(
  name: 'containerd' | 'kubelet' | 'kube-proxy' | 'registry' | 'auth-registry',
  action: 'kill' | 'stop' | 'start',
): Promise<void> {
  const res = await fetch(`${inject('nodeControl')}/${name}/${action}`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`${action} ${name}: ${res.status} ${await res.text()}`);
}
