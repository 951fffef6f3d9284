/**
 * Registry credentials of a pod: its own imagePullSecrets, then its service account's, each
 * Secret read by name with a GET. The controller never lists or watches Secrets, so RBAC can
 * stay at `get` and no Secret is ever held in a cache.
 */
import type { Cache } from '../kube/cache.ts';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import { core, type KubeObject, objectPath } from '../kube/resources.ts';
import type { ScanCredentials } from '../scanner/index.ts';

interface PodSpecLike {
  serviceAccountName?: string;
  imagePullSecrets?: { name?: string }[];
}

const PULL_SECRET_TYPES = new Set(['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']);

/** Names of the pull secrets a pod uses, most specific first, without repeats. */
export function pullSecretNames(pod: KubeObject, serviceAccounts: Cache): string[] {
  const spec = (pod.spec ?? {}) as PodSpecLike;
  const names = (spec.imagePullSecrets ?? []).map((s) => s.name ?? '');
  const sa = serviceAccounts.get(
    `${pod.metadata.namespace}/${spec.serviceAccountName ?? 'default'}`,
  );
  const saSecrets = (sa as { imagePullSecrets?: { name?: string }[] } | undefined)
    ?.imagePullSecrets;
  for (const s of saSecrets ?? []) names.push(s.name ?? '');
  return [...new Set(names.filter((n) => n !== ''))];
}

export interface PullSecretsResult {
  credentials: ScanCredentials;
  /** Secrets that could not be used, with why (missing, wrong type): reported, not fatal. */
  problems: string[];
}

/** Reads a pod's pull secrets by name. */
export async function podCredentials(
  client: KubeClient,
  serviceAccounts: Cache,
  pod: KubeObject,
): Promise<PullSecretsResult> {
  const namespace = pod.metadata.namespace ?? 'default';
  const pullSecrets: Record<string, string>[] = [];
  const problems: string[] = [];
  for (const name of pullSecretNames(pod, serviceAccounts)) {
    try {
      const secret = await client.get<{ type?: string; data?: Record<string, string> }>(
        objectPath(core.secrets, name, namespace),
      );
      if (!PULL_SECRET_TYPES.has(secret.type ?? '')) {
        problems.push(
          `secret ${namespace}/${name} has type ${secret.type ?? '(none)'}, not a pull secret`,
        );
        continue;
      }
      // The scanner reads `data` as the API returns it (base64 values).
      pullSecrets.push(secret.data ?? {});
    } catch (err) {
      if (isNotFound(err)) problems.push(`secret ${namespace}/${name} not found`);
      else throw err;
    }
  }
  return { credentials: { pullSecrets }, problems };
}
