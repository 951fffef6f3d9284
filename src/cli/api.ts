/** What the commands that read the API share: a client for --kubeconfig, paginated lists. */
import { KubeClient } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { collectionPath, type ObjectList, type ResourceType } from '../kube/resources.ts';

/** Every object of a collection, read page by page with limit/continue. */
export async function listAll<T>(
  client: KubeClient,
  resource: ResourceType,
  options: {
    namespace?: string | undefined;
    labelSelector?: string | undefined;
    pageSize?: number;
  },
): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const page: ObjectList<T> = await client.get(collectionPath(resource, options.namespace), {
      query: {
        limit: options.pageSize ?? 500,
        continue: token,
        labelSelector: options.labelSelector,
      },
    });
    items.push(...page.items);
    token = page.metadata.continue || undefined;
  } while (token !== undefined);
  return items;
}

/** Runs a command that talks to the API with a client it closes afterwards. */
export async function withClient<T>(
  kubeconfig: string | undefined,
  run: (client: KubeClient) => Promise<T>,
): Promise<T> {
  const client = await KubeClient.create(loadKubeConfig({ kubeconfig }), { qps: 0 });
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}
