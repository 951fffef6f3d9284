import { parseArgs } from 'node:util';
import { ApiextensionsV1Api, CoordinationV1Api, VersionApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadKubeConfig } from '../kube/config.ts';
import { defaultIdentity } from '../runtime/leader-election.ts';
import { leaseLeaderElector, Manager } from '../runtime/manager.ts';
import { version } from '../version.ts';

const help = `Usage: kube-inspector controller [options]

Runs the kube-inspector controller against the cluster of the current
kubeconfig context (--kubeconfig, then KUBECONFIG, then the in-cluster service
account, then ~/.kube/config).

Options:
  --kubeconfig PATH                 kubeconfig file to use
  --metrics-bind-address HOST:PORT  where /metrics is served (default :8080; port 0 picks one)
  --health-probe-bind-address HOST:PORT
                                    where /healthz and /readyz are served (default :8081)
  --leader-elect=false              run without leader election (one replica only)
  --leader-election-namespace NS    namespace of the Lease (default: the pod's namespace,
                                    else kube-inspector-system)
  --shutdown-timeout SECONDS        how long in-flight work may finish on SIGTERM (default 25)
  --once                            connect, report, and exit instead of running
  -h, --help                        show this help`;

export const apiGroup = 'kubeinspector.io';
export const leaseName = 'kube-inspector-controller';

function hostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m) throw new Error(`${flag} must be HOST:PORT or :PORT, got "${value}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${flag}: port ${port} is out of range`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port };
}

export async function runController(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      'metrics-bind-address': { type: 'string', default: ':8080' },
      'health-probe-bind-address': { type: 'string', default: ':8081' },
      'leader-elect': { type: 'string', default: 'true' },
      'leader-election-namespace': { type: 'string' },
      'shutdown-timeout': { type: 'string', default: '25' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const metrics = hostPort(values['metrics-bind-address'], '--metrics-bind-address');
  const probes = hostPort(values['health-probe-bind-address'], '--health-probe-bind-address');
  if (metrics.host !== probes.host) {
    throw new Error(
      '--metrics-bind-address and --health-probe-bind-address must use the same host',
    );
  }
  const shutdownSeconds = Number(values['shutdown-timeout']);
  if (!Number.isFinite(shutdownSeconds) || shutdownSeconds < 0) {
    throw new Error(
      `--shutdown-timeout must be a number of seconds, got "${values['shutdown-timeout']}"`,
    );
  }
  if (!['true', 'false'].includes(values['leader-elect'])) {
    throw new Error(`--leader-elect must be true or false, got "${values['leader-elect']}"`);
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

  const namespace =
    values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'kube-inspector-system';
  const registry = new Registry();
  const manager = await Manager.create({
    kubeConfig: kc,
    log,
    registry,
    bindAddress: metrics.host,
    metricsPort: metrics.port,
    probePort: probes.port,
    shutdownDeadlineMs: shutdownSeconds * 1000,
    ...(values['leader-elect'] === 'true'
      ? {
          leaderElector: leaseLeaderElector({
            client: kc.makeApiClient(CoordinationV1Api),
            namespace,
            name: leaseName,
            identity: defaultIdentity(),
            registry,
            logger: log,
          }),
        }
      : {}),
  });

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down');
    stop.abort(new Error(signal));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await manager.run(stop.signal);
  return 0;
}
