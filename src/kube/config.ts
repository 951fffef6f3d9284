import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Where the in-cluster service-account token is mounted. */
const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export class NoClusterConfigError extends Error {
  constructor(tried: string[]) {
    super(
      `no Kubernetes configuration found (tried ${tried.join(', ')}); ` +
        'pass --kubeconfig, set KUBECONFIG, or run inside a cluster',
    );
    this.name = 'NoClusterConfigError';
  }
}

export interface LoadOptions {
  /** An explicit kubeconfig path (the --kubeconfig flag); wins over everything else. */
  kubeconfig?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the cluster configuration in controller-runtime's order: the flag, then
 * KUBECONFIG, then the in-cluster service account, then ~/.kube/config.
 * Unlike client-node's loadFromDefault it never falls back to
 * http://localhost:8080: with no configuration it throws NoClusterConfigError.
 */
export function loadKubeConfig(options: LoadOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  const tried: string[] = [];

  const fromFiles = (files: string[]): boolean => {
    const present = files.filter((f) => f !== '' && existsSync(f));
    if (present.length === 0) return false;
    // The first file wins for conflicting entries, as in kubectl.
    kc.loadFromFile(present[0] as string);
    for (const extra of present.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(extra);
      kc.mergeConfig(more, true);
    }
    return true;
  };

  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig)) {
      throw new Error(`kubeconfig ${options.kubeconfig} (from --kubeconfig) does not exist`);
    }
    kc.loadFromFile(options.kubeconfig);
  } else if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== '') {
    tried.push(`KUBECONFIG=${env.KUBECONFIG}`);
    if (!fromFiles(env.KUBECONFIG.split(delimiter))) throw new NoClusterConfigError(tried);
  } else if (env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(serviceAccountTokenPath)) {
    kc.loadFromCluster();
  } else {
    tried.push('in-cluster service account');
    const home = join(homedir(), '.kube', 'config');
    tried.push(home);
    if (!fromFiles([home])) throw new NoClusterConfigError(tried);
  }

  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    throw new Error(
      `kubeconfig has no cluster for its current context "${kc.getCurrentContext()}"`,
    );
  }
  return kc;
}
