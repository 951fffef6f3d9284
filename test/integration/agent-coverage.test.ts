// End to end with the coverage and findings controllers: the node agent (in-process, with the
// pod-bound token of its node) writes the inventory of a debootstrap Debian 12 root filesystem;
// its node goes ACTIVE (SUCCESSFUL in the write that records the inventory) and its vulnerable packages
// become findings; a node no agent pod is bound to (its taints keep the DaemonSet away) is
// INACTIVE with RESOURCE_UNMANAGED.
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupAgent } from '../../src/agent/agent.ts';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { CoveredResource } from '../../src/api/v1alpha1/covered-resource.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { databaseSource, type DatabaseSource } from '../../src/vulndb/source.ts';
import {
  agentToken,
  applyAgentManifests,
  debootstrapRootfs,
  nodeWithAgentPod,
  root,
  tokenKubeConfig,
} from './agent-support.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

describe('node agent with the coverage and findings controllers', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let database: DatabaseSource;
  const agentStop = new AbortController();
  const watchStop = new AbortController();
  /** scanStatus.reason of node-with-agent's CoveredResource, every version a watch saw. */
  const reasons: string[] = [];
  const watchReasons = (): void => {
    void (async () => {
      const res = await env.client.raw('GET', '/apis/kubeinspector.io/v1alpha1/coveredresources', {
        query: {
          watch: true,
          fieldSelector: `metadata.name=${coveredResourceName.node('node-with-agent')}`,
        },
        signal: watchStop.signal,
        timeoutMs: 0,
      });
      let buf = '';
      for await (const chunk of res.body!) {
        buf += Buffer.from(chunk as Uint8Array).toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const event = JSON.parse(buf.slice(0, nl)) as { object: CoveredResource };
          buf = buf.slice(nl + 1);
          const reason = event.object.status?.scanStatus?.reason;
          if (reason !== undefined) reasons.push(reason);
        }
      }
    })().catch(() => {});
  };
  let agentRun: Promise<void> | undefined;

  beforeAll(async () => {
    const rootfs = await debootstrapRootfs();
    env = await startProductEnvironment();
    await applyAgentManifests(env);
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    // The OSV fixtures of real advisories (its one malformed record is skipped and counted).
    database = databaseSource(join(root, 'src', 'vulndb', 'testdata', 'osv'));
    expect(await database.refresh()).toBe('updated');
    controller = await startController(env, { database });
    watchReasons();

    const uid = await nodeWithAgentPod(env, 'node-with-agent');
    await env.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-without-agent' },
      spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] },
    });

    // The agent exactly as `kube-inspector agent` sets it up, with its pod's token.
    const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const manager = await Manager.create({
      kubeConfig: tokenKubeConfig(
        env,
        await agentToken(env, { name: 'agent-node-with-agent', uid }),
      ),
      log,
      registry: new Registry(),
      bindAddress: '127.0.0.1',
      metricsPort: 0,
      probePort: 0,
    });
    setupAgent({
      manager,
      log,
      nodeName: 'node-with-agent',
      hostRoot: rootfs,
      agentVersion: '0.0.0-test',
    });
    agentRun = manager.run(agentStop.signal);
  }, 900_000);

  afterAll(async () => {
    watchStop.abort();
    agentStop.abort();
    await agentRun;
    await controller?.stop();
    database?.close();
    await env?.stop();
  });

  /** The node's CoveredResource once its reason is `reason`. */
  const coverageWith = (
    node: string,
    reason: string,
    timeoutMs: number,
  ): Promise<CoveredResource> =>
    eventually(
      `${node} to be ${reason}`,
      async () => {
        const out = await env.kubectl('get', 'coveredresources', '-o', 'json');
        const cr = (JSON.parse(out) as { items: CoveredResource[] }).items.find(
          (c) => c.metadata.name === coveredResourceName.node(node),
        );
        return cr?.status?.scanStatus?.reason === reason ? cr : undefined;
      },
      timeoutMs,
    );

  it('a node with an agent is covered from its inventory and its vulnerable packages become findings', async () => {
    const covered = await coverageWith('node-with-agent', 'SUCCESSFUL', 120_000);
    expect(covered.status).toMatchObject({
      resourceType: 'NODE',
      scanStatus: { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' },
      scanMode: 'AGENT_BASED',
      node: { platform: 'DEBIAN_12', architecture: 'amd64' },
    });
    // Every state the watch saw the node's CoveredResource written with. Before the agent's
    // first write (and before the coverage cache sees the agent pod) the node may be
    // RESOURCE_UNMANAGED or NO_INVENTORY; between the agent's create and its first status
    // write, DEEP_INSPECTION_NO_INVENTORY. The write that records the inventory makes it
    // SUCCESSFUL: no PENDING_INITIAL_SCAN step.
    const sequence = reasons.filter((r, i) => r !== reasons[i - 1]);
    expect(sequence.at(-1)).toBe('SUCCESSFUL');
    expect(sequence).not.toContain('PENDING_INITIAL_SCAN');
    expect(
      sequence
        .slice(0, -1)
        .every((r) =>
          ['RESOURCE_UNMANAGED', 'NO_INVENTORY', 'DEEP_INSPECTION_NO_INVENTORY'].includes(r),
        ),
    ).toBe(true);
    const inventory = JSON.parse(
      await env.kubectl('get', 'nodeinventory', 'node-with-agent', '-o', 'json'),
    ) as { status: { collectedAt: string } };
    expect(covered.status?.lastScannedAt).toBe(inventory.status.collectedAt);

    const apt = await eventually(
      'the finding of CVE-2011-3374 on node-with-agent',
      async () => {
        const out = await env.kubectl(
          'get',
          'findings',
          '-n',
          env.adminNamespace,
          '-l',
          `${LABELS.coveredResource}=${coveredResourceName.node('node-with-agent')},${LABELS.vulnerabilityId}=CVE-2011-3374`,
          '-o',
          'json',
        );
        return (JSON.parse(out) as { items: Finding[] }).items.find(
          (f) => f.status?.status !== undefined,
        );
      },
      60_000,
    );
    // apt-key's advisory covers every apt version, and debootstrap installs apt.
    expect(apt.status).toMatchObject({
      status: 'ACTIVE',
      type: 'PACKAGE_VULNERABILITY',
    });
    expect(JSON.stringify(apt.status)).toMatch(/"name":"(apt|libapt-pkg6.0)"/);
  });

  it('a node no agent pod is bound to is RESOURCE_UNMANAGED', async () => {
    const cr = await coverageWith('node-without-agent', 'RESOURCE_UNMANAGED', 60_000);
    expect(cr.status?.scanStatus).toEqual({ statusCode: 'INACTIVE', reason: 'RESOURCE_UNMANAGED' });
    expect(
      await env.kubectl('get', 'nodeinventories', '-o', 'jsonpath={.items[*].metadata.name}'),
    ).toBe('node-with-agent');
  });
});
