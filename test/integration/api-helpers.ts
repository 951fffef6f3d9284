// Helpers of the API tests: install the generated CRDs, serve the findings API, write objects of
// our kinds through the API, and read the message of a refusal.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { GROUP, VERSION, kindInfo } from '../../src/api/v1alpha1/index.ts';
import { createFindingsApiServer } from '../../src/findings-api/server.ts';
import { SubjectAccessReviewAuthorizer } from '../../src/findings-api/subject-access-review.ts';
import { SqliteFindingStore } from '../../src/findings-store/sqlite.ts';
import { serveAggregatedApi } from './findings-api-harness.ts';
import { createNamespace, kubectl, kubectlApply } from './helpers.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const crdDir = join(repoRoot, 'crds');

/** Installs (or updates) every CRD of crds/ by server-side apply and waits until they are served. */
export async function installCrds(): Promise<string[]> {
  const files = readdirSync(crdDir).filter((f) => /^kubeinspector\.io_.*\.yaml$/.test(f));
  await kubectl('apply', '--server-side', '--force-conflicts', '-k', crdDir);
  const names = files.map((f) =>
    f.replace(/^kubeinspector\.io_(.*)\.yaml$/, '$1.kubeinspector.io'),
  );
  await kubectl(
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...names.map((n) => `crd/${n}`),
  );
  return names;
}

type Body = Record<string, unknown>;

function path(kind: string): { group: string; plural: string; namespaced: boolean } {
  const info = kindInfo(kind);
  return {
    group: info.group ?? GROUP,
    plural: info.plural,
    namespaced: info.scope === 'Namespaced',
  };
}

/** Creates an object of one of our kinds with strict field validation. */
export async function createObject(
  kc: KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  spec: Body | undefined,
): Promise<Body> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const { group, plural, namespaced } = path(kind);
  const body: Body = {
    apiVersion: `${group}/${VERSION}`,
    kind,
    metadata: namespaced ? { name, namespace } : { name },
    ...(spec ? { spec } : {}),
  };
  const common = { group, version: VERSION, plural, body, fieldValidation: 'Strict' };
  return (await (namespaced
    ? api.createNamespacedCustomObject({ ...common, namespace })
    : api.createClusterCustomObject(common))) as Body;
}

/** Replaces the status of an existing object: through its status subresource where it has one. */
export async function writeStatus(
  kc: KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  status: Body,
): Promise<Body> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const { group, plural, namespaced } = path(kind);
  const common = { group, version: VERSION, plural, name };
  const current = (await (namespaced
    ? api.getNamespacedCustomObject({ ...common, namespace })
    : api.getClusterCustomObject(common))) as Body;
  const body = { ...current, status };
  // A kind without the status subresource (CoveredResource, ADR 505) takes status on the object.
  if (kindInfo(kind).statusSubresource === false)
    return (await (namespaced
      ? api.replaceNamespacedCustomObject({ ...common, namespace, body, fieldValidation: 'Strict' })
      : api.replaceClusterCustomObject({ ...common, body, fieldValidation: 'Strict' }))) as Body;
  return (await (namespaced
    ? api.replaceNamespacedCustomObjectStatus({
        ...common,
        namespace,
        body,
        fieldValidation: 'Strict',
      })
    : api.replaceClusterCustomObjectStatus({
        ...common,
        body,
        fieldValidation: 'Strict',
      }))) as Body;
}

/** Replaces the spec of an existing object. */
export async function writeSpec(
  kc: KubeConfig,
  kind: string,
  namespace: string,
  name: string,
  spec: Body,
): Promise<Body> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const { group, plural, namespaced } = path(kind);
  const common = { group, version: VERSION, plural, name };
  const current = (await (namespaced
    ? api.getNamespacedCustomObject({ ...common, namespace })
    : api.getClusterCustomObject(common))) as Body;
  const body = { ...current, spec };
  return (await (namespaced
    ? api.replaceNamespacedCustomObject({ ...common, namespace, body, fieldValidation: 'Strict' })
    : api.replaceClusterCustomObject({ ...common, body, fieldValidation: 'Strict' }))) as Body;
}

/** The same cluster and credentials, acting as another user (kube-apiserver impersonation). */
export function impersonating(kc: KubeConfig, username: string): KubeConfig {
  const as = new KubeConfig();
  const user = kc.getCurrentUser();
  const cluster = kc.getCurrentCluster();
  if (user === null || cluster === null) throw new Error('kubeconfig has no current user');
  as.loadFromOptions({
    clusters: [cluster],
    users: [{ ...user, impersonateUser: username }],
    contexts: [{ name: 'as', cluster: cluster.name, user: user.name }],
    currentContext: 'as',
  });
  return as;
}

/** Deletes a cluster-scoped object of ours, or a Namespace; missing is fine. */
export async function deleteClusterObject(
  kc: KubeConfig,
  kind: string,
  name: string,
): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    if (kind === 'Namespace') {
      await kc.makeApiClient(CoreV1Api).deleteNamespace({ name });
      return;
    }
    await api.deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: path(kind).plural,
      name,
    });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 404) throw err;
  }
}

/** The HTTP status and the Status message of a refused request. */
export function refusal(err: unknown): { code: number | undefined; message: string } {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  const code = typeof e.code === 'number' ? e.code : undefined;
  let message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.body === 'string') {
    try {
      const parsed = JSON.parse(e.body) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      message = e.body;
    }
  }
  return { code, message };
}

/** Runs fn and returns how it was refused; fails when it was accepted. */
export async function refused(
  fn: () => Promise<unknown>,
): Promise<{ code: number | undefined; message: string }> {
  try {
    await fn();
  } catch (err) {
    return refusal(err);
  }
  throw new Error('the API server accepted the object');
}

export const examplesDir = join(repoRoot, 'examples');

/** Every YAML file of examples/, relative to it, the scenario last. */
export function exampleFiles(): string[] {
  return [
    ...readdirSync(examplesDir).filter((f) => f.endsWith('.yaml')),
    ...readdirSync(join(examplesDir, 'scenario'))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join('scenario', f)),
  ];
}

export interface Rewritten {
  /** The documents, moved into one namespace and renamed where cluster-scoped. */
  documents: Body[];
  /** Cluster-scoped objects that the rewrite created names for: [kind, name]. */
  clusterObjects: [string, string][];
}

/**
 * Makes an example safe to apply to the shared control plane: namespaced
 * objects move into `namespace` (a Namespace object is renamed to it),
 * cluster-scoped objects of ours get `suffix` appended to their names (so
 * `default` does not become the configuration of other tests).
 */
export function rewriteExample(documents: Body[], namespace: string, suffix: string): Rewritten {
  const out: Body[] = [];
  const clusterObjects: [string, string][] = [];
  for (const doc of documents) {
    const kind = String(doc.kind);
    const metadata = { ...(doc.metadata as Body) };
    const ours = String(doc.apiVersion).startsWith(`${GROUP}/`);
    if (kind === 'Namespace') {
      metadata.name = namespace;
      clusterObjects.push([kind, namespace]);
    } else if (ours && kindInfo(kind).scope === 'Cluster') {
      metadata.name = `${String(metadata.name)}-${suffix}`;
      clusterObjects.push([kind, String(metadata.name)]);
    } else {
      metadata.namespace = namespace;
    }
    out.push({ ...doc, metadata });
  }
  return { documents: out, clusterObjects };
}

/** The controller's username on the shared control plane (the manifests' service account). */
export const controllerUsername =
  'system:serviceaccount:kube-inspector-system:kube-inspector-controller';

export interface SharedFindingsApi {
  /** The store the API serves (the controller writes here directly). */
  store: SqliteFindingStore;
  /** Unregisters the API (APIService first), stops it and removes the store. */
  stop(): Promise<void>;
}

/**
 * Serves the findings API on the shared control plane for one test file, from a store on a
 * temporary file, as the controller process serves it: the controller's username writes status
 * and creates, the control plane's controller manager may delete.
 */
export async function serveFindingsApi(kc: KubeConfig): Promise<SharedFindingsApi> {
  const dir = await mkdtemp(join(tmpdir(), 'ki-api-findings-'));
  const store = new SqliteFindingStore({ path: join(dir, 'findings.db') });
  const serviceNamespace = await createNamespace(kc, 'findings-api');
  // The controller's RBAC on the findings API, as the manifests grant it (applied again by every
  // file that serves the API; the same objects each time).
  await kubectlApply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kube-inspector-test-findings-writer' },
      rules: [
        {
          apiGroups: ['findings.kubeinspector.io'],
          resources: ['findings', 'findings/status'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kube-inspector-test-findings-writer' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'kube-inspector-test-findings-writer',
      },
      subjects: [
        {
          kind: 'ServiceAccount',
          name: 'kube-inspector-controller',
          namespace: 'kube-inspector-system',
        },
      ],
    },
  );
  const served = await serveAggregatedApi({
    kubeConfig: kc,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    service: { name: 'kube-inspector-findings-api', namespace: serviceNamespace },
    handler: (authenticator, client) =>
      createFindingsApiServer({
        store,
        authenticator,
        authorizer: new SubjectAccessReviewAuthorizer(client),
        controllerUsernames: [controllerUsername],
        deleterUsernames: ['system:kube-controller-manager'],
      }).handler,
  });
  return {
    store,
    async stop() {
      await served.stop();
      await store.close();
      await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: serviceNamespace });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
