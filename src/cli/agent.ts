import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { setupAgent } from '../agent/agent.ts';
import { checkHostRoot } from '../agent/collect.ts';
import { loadKubeConfig } from '../kube/config.ts';
import { Manager } from '../runtime/manager.ts';
import { version } from '../version.ts';
import { InputError } from './errors.ts';
import { shutdownSignal } from './signals.ts';

const help = `Usage: kube-inspector agent [options]

The node agent. Reads the host's package databases (dpkg, rpm, apk) and os-release from the
host's root filesystem mounted read-only, plus language packages under /usr/lib, /usr/lib64,
/usr/local/lib, /usr/local/lib64 and the ScanConfiguration's custom paths, and applies the
NodeInventory named after its node. Collects at start, every --interval (plus up to 10%
jitter), and again when the ScanConfiguration "default" changes the package limit, the
collection time limit or the custom paths. Runs as the DaemonSet in manifests/agent/.

Options:
  --node-name NAME                  the node this agent runs on (default: $NODE_NAME, set from
                                    spec.nodeName by the downward API)
  --host-root PATH                  where the host's root filesystem is mounted (default /host)
  --host-proc PATH                  a procfs of the host's PID namespace, for the cis checks:
                                    the kubelet's command line, /proc/1/mounts, sysctls
                                    (default HOST-ROOT/proc; /proc with hostPID)
  --interval DURATION               time between collections, like 6h, 90m or 45s (default 6h)
  --kubeconfig PATH                 kubeconfig file to use (default: KUBECONFIG, then the
                                    in-cluster service account, then ~/.kube/config)
  --metrics-bind-address HOST:PORT  where /metrics is served (default :8080; port 0 picks one)
  --health-probe-bind-address HOST:PORT
                                    where /healthz and /readyz are served (default :8081)
  -h, --help                        show this help

The kernel release and architecture are the running kernel's (uname): a container shares
its node's kernel.`;

/** Parses 6h, 90m, 45s, 1h30m into milliseconds. */
export function parseInterval(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (m === null || text === '') {
    throw new InputError(`--interval must be a duration such as 6h, 90m or 45s, got "${text}"`);
  }
  const ms = (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) * 1000;
  if (ms < 1000) throw new InputError(`--interval must be at least 1s, got "${text}"`);
  return ms;
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || Number(m[2]) > 65535)
    throw new InputError(`${flag} must be HOST:PORT or :PORT, got "${value}"`);
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!, port: Number(m[2]) };
}

const OPTIONS = {
  'node-name': { type: 'string' },
  'host-root': { type: 'string', default: '/host' },
  'host-proc': { type: 'string' },
  interval: { type: 'string', default: '6h' },
  kubeconfig: { type: 'string' },
  'metrics-bind-address': { type: 'string', default: ':8080' },
  'health-probe-bind-address': { type: 'string', default: ':8081' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runAgent(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS }));
  } catch (err) {
    throw new InputError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    console.log(help);
    return 0;
  }
  const nodeName = values['node-name'] ?? process.env.NODE_NAME ?? '';
  if (nodeName === '') {
    throw new InputError('no node name: pass --node-name or set NODE_NAME (from spec.nodeName)');
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) {
    throw new InputError(`node name "${nodeName}" is not a valid Kubernetes object name`);
  }
  const hostRoot = values['host-root'];
  // A host root that is not there is a setup mistake named by a flag (exit 2), not a node fact.
  await checkHostRoot(hostRoot).catch((err: unknown) => {
    throw new InputError(err instanceof Error ? err.message : String(err));
  });
  const hostProc = values['host-proc'];
  if (hostProc === '') throw new InputError('--host-proc must be a path');
  const intervalMs = parseInterval(values.interval);
  const metrics = hostPort(values['metrics-bind-address'], '--metrics-bind-address');
  const probes = hostPort(values['health-probe-bind-address'], '--health-probe-bind-address');
  if (metrics.host !== probes.host) {
    throw new InputError(
      '--metrics-bind-address and --health-probe-bind-address must use the same host',
    );
  }

  const log = pino({ base: { component: 'agent', node: nodeName } });
  const kc = loadKubeConfig({ kubeconfig: values.kubeconfig });
  const registry = new Registry();
  const manager = await Manager.create({
    kubeConfig: kc,
    log,
    registry,
    bindAddress: metrics.host,
    metricsPort: metrics.port,
    probePort: probes.port,
    shutdownDeadlineMs: 10_000,
  });
  setupAgent({
    manager,
    log,
    nodeName,
    hostRoot,
    ...(hostProc !== undefined ? { hostProc } : {}),
    agentVersion: version,
    intervalMs,
  });
  log.info(
    { version, hostRoot, hostProc, intervalMs, server: kc.getCurrentCluster()?.server },
    'node agent starting',
  );

  await manager.run(shutdownSignal(log));
  return 0;
}
