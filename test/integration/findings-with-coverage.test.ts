// The coverage and findings controllers together, talking only through CoveredResource status:
// a node with an agent and a Debian 12.0 inventory becomes covered, its findings appear and are
// counted on its CoveredResource; when the node is deleted its findings are closed and the
// coverage controller then removes the CoveredResource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { core } from '../../src/kube/resources.ts';
import { databaseSource, type DatabaseSource } from '../../src/vulndb/source.ts';
import {
  AGENT_LABELS,
  HOUR,
  Writer,
  kubeletNodeStatus,
  nodeObject,
  runPod,
} from './coverage-fixtures.ts';
import {
  BOOKWORM_PACKAGES,
  applyNodeInventory,
  databaseCopy,
  findingsOf,
} from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const AGENT_DIGEST = `sha256:${'e'.repeat(64)}`;

describe('coverage and findings together', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let database: DatabaseSource;
  let db: ReturnType<typeof databaseCopy>;

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = databaseCopy();
    database = databaseSource(db.dir);
    await database.refresh();
    controller = await startController(env, { setups: [setupCoverage, setupFindings], database });
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
    db?.remove();
  });

  it('turns a covered node into findings, and closes them when the node is deleted', async () => {
    const w = new Writer(env.client);
    const now = Date.now();
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    const node = await w.create(core.nodes, nodeObject('worker-1'));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, now), 'kubelet');
    await runPod(
      w,
      env.adminNamespace,
      'kube-inspector-agent-worker-1',
      'worker-1',
      // A loopback address nothing listens on: the agent image is never scanned.
      [
        {
          name: 'agent',
          image: {
            repository: '127.0.0.1:1/kube-inspector',
            reference: '127.0.0.1:1/kube-inspector:1.0',
            digest: AGENT_DIGEST,
            imageID: `127.0.0.1:1/kube-inspector@${AGENT_DIGEST}`,
          },
        },
      ],
      'Running',
      now - HOUR,
      { labels: { ...AGENT_LABELS } },
    );
    await applyNodeInventory(env.client, 'worker-1', BOOKWORM_PACKAGES, new Date(now - 60_000));

    const cr = coveredResourceName.node('worker-1');
    const found = await eventually('the findings of worker-1', async () => {
      const f = await findingsOf(env.client, env.adminNamespace, cr);
      return f.size === 5 ? f : undefined;
    });
    expect(found.get('CVE-2024-6387')?.status?.resource).toMatchObject({
      type: 'NODE',
      id: 'worker-1',
      name: 'worker-1',
    });
    const covered = await eventually('SUCCESSFUL with its counts', async () => {
      const o = JSON.parse(await env.kubectl('get', 'coverage', cr, '-o', 'json')) as {
        status: { scanStatus: { reason: string }; findingCounts?: { total?: number } };
      };
      return o.status.scanStatus.reason === 'SUCCESSFUL' && o.status.findingCounts?.total === 5
        ? o
        : undefined;
    });
    expect(covered.status.findingCounts).toMatchObject({ total: 5 });

    await env.kubectl('delete', 'node', 'worker-1');
    await eventually('the findings CLOSED and the CoveredResource removed', async () => {
      const f = [...(await findingsOf(env.client, env.adminNamespace, cr)).values()];
      const gone =
        (await env.kubectl('get', 'coverage', cr, '--ignore-not-found', '-o', 'name')).trim() ===
        '';
      return gone &&
        f.length === 5 &&
        f.every((x) => x.metadata.labels?.[LABELS.status] === 'CLOSED')
        ? true
        : undefined;
    });
  });
});
