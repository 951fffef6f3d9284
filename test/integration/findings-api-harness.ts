// Registers an HTTPS server of the test process as an aggregated API of the
// control plane, the way a cluster reaches kube-inspector's findings API:
// a Service (ExternalName "localhost", since kube-proxy does not run and
// endpoints may not be loopback addresses) and an APIService whose caBundle
// trusts a serving certificate issued for <service>.<namespace>.svc. The
// server authenticates kube-apiserver's front proxy with the settings it
// follows from kube-system/extension-apiserver-authentication.
import { mkdtemp, rm } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { issueServingCertificate, type ServingCertificate } from '../../hack/control-plane/pki.ts';
import {
  createFrontProxyServer,
  FrontProxyAuthenticator,
  type FrontProxyServer,
} from '../../src/findings-api/front-proxy.ts';
import { isNotFound, KubeClient } from '../../src/kube/client.ts';

export const findingsGroup = 'findings.kubeinspector.io';
export const findingsVersion = 'v1alpha1';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface AggregatedApiOptions {
  group: string;
  version: string;
  /** The Service that names the server (its namespace must exist). */
  service: { name: string; namespace: string };
  /** The port the server listens on, on 127.0.0.1. */
  port: number;
  /** Base64 PEM of the CA that signed the serving certificate. */
  caBundle: string;
  /** How long to wait for Available=True. Default 60 s. */
  timeoutMs?: number;
}

export interface AggregatedApi {
  apiServiceName: string;
  /** Removes the APIService first (so discovery never points at a missing server), then the Service. */
  unregister(): Promise<void>;
}

async function deleteIgnoringNotFound(client: KubeClient, path: string): Promise<void> {
  try {
    await client.request('DELETE', path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/**
 * Server-side apply under the harness's own field manager: creates the object, or leaves one that
 * already says the same untouched (a replacement process finds the APIService it was given).
 */
async function applyObject(
  client: KubeClient,
  collection: string,
  body: { metadata: { name: string } },
): Promise<void> {
  await client.request('PATCH', `${collection}/${body.metadata.name}`, {
    body,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'integration-test-harness', force: true },
  });
}

/** Creates the Service and APIService and waits until kube-apiserver says the API is available. */
export async function registerAggregatedApi(
  client: KubeClient,
  options: AggregatedApiOptions,
): Promise<AggregatedApi> {
  const apiServiceName = `${options.version}.${options.group}`;
  const servicePath = `/api/v1/namespaces/${options.service.namespace}/services`;
  const apiServicePath = '/apis/apiregistration.k8s.io/v1/apiservices';
  await applyObject(client, servicePath, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: options.service.name, namespace: options.service.namespace },
    spec: {
      type: 'ExternalName',
      externalName: 'localhost',
      ports: [{ name: 'https', port: options.port, protocol: 'TCP' }],
    },
  } as { metadata: { name: string } });
  await applyObject(client, apiServicePath, {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: apiServiceName },
    spec: {
      group: options.group,
      version: options.version,
      // kube-apiserver's cluster resolver sends an ExternalName Service's traffic to this port.
      service: {
        namespace: options.service.namespace,
        name: options.service.name,
        port: options.port,
      },
      caBundle: options.caBundle,
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  } as { metadata: { name: string } });
  const unregister = async (): Promise<void> => {
    await deleteIgnoringNotFound(client, `${apiServicePath}/${apiServiceName}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await client.request('GET', `${apiServicePath}/${apiServiceName}`);
      } catch (err) {
        if (isNotFound(err)) break;
        throw err;
      }
      if (Date.now() > deadline) throw new Error(`APIService ${apiServiceName} was not removed`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await deleteIgnoringNotFound(client, `${servicePath}/${options.service.name}`);
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last: Condition | undefined;
  for (;;) {
    const apiService = await client.request<{ status?: { conditions?: Condition[] } }>(
      'GET',
      `${apiServicePath}/${apiServiceName}`,
    );
    last = apiService.status?.conditions?.find((c) => c.type === 'Available');
    if (last?.status === 'True') break;
    if (Date.now() > deadline) {
      await unregister();
      throw new Error(
        `APIService ${apiServiceName} not Available: ${last ? `${last.reason}: ${last.message}` : 'no condition'}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { apiServiceName, unregister };
}

export interface ServedApi {
  authenticator: FrontProxyAuthenticator;
  frontProxy: FrontProxyServer;
  serving: ServingCertificate;
  port: number;
  registration: AggregatedApi;
  /** The client the server uses towards kube-apiserver (settings, reviews). */
  client: KubeClient;
  /**
   * Stops the server (dropping every connection, open watches included) and starts it again on
   * the same port with a handler built anew, as a restarted process would.
   */
  restart(): Promise<void>;
  /**
   * Unregisters (APIService first), then stops the server. With `keepApiService` the Service and
   * APIService stay, as when the process is replaced and the installed objects remain.
   */
  stop(options?: { keepApiService?: boolean }): Promise<void>;
}

export interface ServeOptions {
  /** An administrator: creates the Service and APIService. */
  kubeConfig: KubeConfig;
  /**
   * The identity the server runs as (reads extension-apiserver-authentication, creates
   * SubjectAccessReviews); default kubeConfig.
   */
  serverKubeConfig?: KubeConfig;
  log: Logger;
  service: { name: string; namespace: string };
  group?: string;
  version?: string;
  /** Listen on this port of 127.0.0.1 (a replacement process reuses its predecessor's). */
  port?: number;
  /** The serving certificate to use (a replacement process reuses its predecessor's). */
  serving?: ServingCertificate;
  /** Builds the request handler (again at each restart), given the authenticator and client. */
  handler: (authenticator: FrontProxyAuthenticator, client: KubeClient) => RequestListener;
}

/** Starts an HTTPS server on 127.0.0.1 that authenticates the front proxy, and registers it. */
export async function serveAggregatedApi(options: ServeOptions): Promise<ServedApi> {
  const dir = await mkdtemp(join(tmpdir(), 'ki-aggregated-api-'));
  const client = await KubeClient.create(options.serverKubeConfig ?? options.kubeConfig, {
    qps: 0,
  });
  const adminClient =
    options.serverKubeConfig === undefined
      ? client
      : await KubeClient.create(options.kubeConfig, { qps: 0 });
  const abort = new AbortController();
  const authenticator = new FrontProxyAuthenticator();
  authenticator.follow(client, options.log, abort.signal);
  const serving = options.serving ?? (await issueServingCertificate(dir, options.service));
  const start = async (port: number): Promise<FrontProxyServer> => {
    const started = await createFrontProxyServer(
      {
        authenticator,
        certFile: serving.cert,
        keyFile: serving.key,
        handler: options.handler(authenticator, client),
        log: options.log,
      },
      AbortSignal.any([abort.signal, AbortSignal.timeout(30_000)]),
    );
    await new Promise<void>((resolve, reject) => {
      started.server.once('error', reject);
      started.server.listen(port, '127.0.0.1', () => {
        started.server.off('error', reject);
        resolve();
      });
    });
    return started;
  };
  const halt = async (running: FrontProxyServer): Promise<void> => {
    running.stop();
    running.server.closeAllConnections();
    await new Promise<void>((r) => running.server.close(() => r()));
  };
  let frontProxy = await start(options.port ?? 0);
  const port = (frontProxy.server.address() as AddressInfo).port;
  const shutdown = async (): Promise<void> => {
    await halt(frontProxy);
    abort.abort();
    await client.close();
    if (adminClient !== client) await adminClient.close();
    await rm(dir, { recursive: true, force: true });
  };
  let registration: AggregatedApi;
  try {
    registration = await registerAggregatedApi(adminClient, {
      group: options.group ?? findingsGroup,
      version: options.version ?? findingsVersion,
      service: options.service,
      port,
      caBundle: serving.caBundle,
    });
  } catch (err) {
    await shutdown();
    throw err;
  }
  return {
    authenticator,
    get frontProxy() {
      return frontProxy;
    },
    serving,
    port,
    registration,
    client,
    async restart() {
      await halt(frontProxy);
      frontProxy = await start(port);
    },
    async stop(stopOptions = {}) {
      if (stopOptions.keepApiService !== true) await registration.unregister();
      await shutdown();
    },
  };
}
