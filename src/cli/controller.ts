import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { ApiextensionsV1Api, VersionApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { loadKubeConfig } from '../kube/config.ts';
import { version } from '../version.ts';

const help = `Usage: kube-inspector controller [options]

Runs the kube-inspector controller against the cluster of the current
kubeconfig context (--kubeconfig, then KUBECONFIG, then the in-cluster service
account, then ~/.kube/config).

Options:
  --kubeconfig PATH   kubeconfig file to use
  --once              connect, report, and exit instead of running until signalled
  -h, --help          show this help`;

export const apiGroup = 'kubeinspector.io';

export async function runController(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const log = pino({ base: { component: 'controller' } });
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig });
  const server = kc.getCurrentCluster()?.server;

  const serverVersion = await kc.makeApiClient(VersionApi).getCode();
  log.info(
    { version, server, serverVersion: serverVersion.gitVersion },
    'connected to the Kubernetes API server',
  );

  const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
  const kinds = crds.items
    .filter((crd) => crd.spec.group === apiGroup)
    .map((crd) => crd.spec.names.kind)
    .sort();
  log.info({ group: apiGroup, kinds }, `${kinds.length} kube-inspector kinds installed`);

  if (values.once) return 0;

  // Signal listeners do not keep Node's event loop alive; this timer does until a signal arrives.
  const alive = setInterval(() => {}, 1 << 30);
  const [signal] = (await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')])) as [
    NodeJS.Signals,
  ];
  clearInterval(alive);
  log.info({ signal }, 'shutting down');
  return 0;
}
