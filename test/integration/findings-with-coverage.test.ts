// The coverage and findings controllers together, talking only through CoveredResource status:
// a node with an agent and a Debian 12.0 inventory becomes covered, its findings appear and are
// counted on its CoveredResource; when the node is deleted its findings are closed and the
// coverage controller then removes the CoveredResource. An image with Debian 12.0's packages,
// pushed to a loopback registry and run by a pod, is scanned and becomes findings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { labelsEqual } from '../../src/findings-store/selectors.ts';
import { core } from '../../src/kube/resources.ts';
import { labelValueFor } from '../../src/util/label-value.ts';
import type { DatabaseSource } from '../../src/vulndb/source.ts';
import {
  AGENT_LABELS,
  HOUR,
  Writer,
  kubeletNodeStatus,
  nodeObject,
  push,
  runPod,
} from './coverage-fixtures.ts';
import { buildImage, startRegistry, type TestRegistry } from '../support/registry.ts';
import {
  BOOKWORM_PACKAGES,
  applyNodeInventory,
  bookwormDpkgStatus,
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
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  let registry: TestRegistry;

  beforeAll(async () => {
    env = await startProductEnvironment();
    registry = await startRegistry();
    db = await databaseCopy();
    database = db.source;
    controller = await startController(env, {
      setups: [setupCoverage, setupFindings],
      database,
      insecureRegistries: [registry.host],
    });
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
  });
  afterAll(async () => {
    await controller?.stop();
    await registry?.stop();
    await env?.stop();
    db?.remove();
  });

  /** A node with an agent and a Debian 12.0 inventory; resolves with its five findings. */
  const coverNode = async (nodeName: string) => {
    const w = new Writer(env.client);
    const now = Date.now();
    const node = await w.create(
      core.nodes,
      nodeObject(nodeName, {
        // The kubelet's hostname label is the host's short name; a node's name may be longer.
        labels: { 'kubernetes.io/hostname': nodeName.split('.')[0]! },
      }),
    );
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, now), 'kubelet');
    await runPod(
      w,
      env.adminNamespace,
      `kube-inspector-agent-${nodeName}`,
      nodeName,
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
    await applyNodeInventory(env.client, nodeName, BOOKWORM_PACKAGES, new Date(now - 60_000));
    const cr = coveredResourceName.node(nodeName);
    const found = await eventually(`the findings of ${nodeName}`, async () => {
      const f = await findingsOf(env.client, env.adminNamespace, cr);
      return f.size === 5 ? f : undefined;
    });
    return { cr, found };
  };

  // A node name longer than a label value gives a CoveredResource name its findings cannot carry
  // in a label as it is: they carry the value that stands for it.
  it.each([['worker-1'], [`worker-2.${'pool-a'.repeat(10)}.eu-west-1.compute.internal`]])(
    'turns a covered node into findings, and closes them when the node is deleted: %s',
    async (nodeName) => {
      const { cr, found } = await coverNode(nodeName);
      expect(found.get('CVE-2024-6387')?.status?.resource).toMatchObject({
        type: 'NODE',
        id: nodeName,
        name: nodeName,
      });
      for (const f of found.values())
        expect(f.metadata.labels?.[LABELS.coveredResource]).toBe(labelValueFor(cr));
      const covered = await eventually('SUCCESSFUL with its counts', async () => {
        const o = JSON.parse(await env.kubectl('get', 'coverage', cr, '-o', 'json')) as {
          status: { scanStatus: { reason: string }; findingCounts?: { total?: number } };
        };
        return o.status.scanStatus.reason === 'SUCCESSFUL' && o.status.findingCounts?.total === 5
          ? o
          : undefined;
      });
      expect(covered.status.findingCounts).toMatchObject({ total: 5 });

      await env.kubectl('delete', 'node', nodeName);
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
    },
  );

  it('relabels findings stored with a covered-resource label longer than a label value', async () => {
    const nodeName = `worker-3.${'pool-b'.repeat(10)}.eu-west-1.compute.internal`;
    const { cr, found } = await coverNode(nodeName);
    const names = [...found.values()].map((f) => f.metadata.name).sort();
    // As an earlier version stored them: the whole CoveredResource name in the label.
    const store = controller.store;
    const byValue = { [LABELS.coveredResource]: labelValueFor(cr) };
    const stored = await store.list({
      namespace: env.adminNamespace,
      labelSelector: labelsEqual(byValue),
    });
    await store.batch(
      stored.items.map((f) => ({
        op: 'update' as const,
        finding: {
          ...f,
          metadata: {
            ...f.metadata,
            labels: { ...f.metadata.labels, [LABELS.coveredResource]: cr },
          },
        },
      })),
    );
    const at = await store.lastEvaluation(labelValueFor(cr));
    await store.recordEvaluation(cr, at);
    await store.recordEvaluation(labelValueFor(cr), undefined);
    // A rule change makes the controller visit every resource that has findings.
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'SuppressionRule',
      metadata: { name: 'nothing-matches', namespace: env.adminNamespace },
      spec: {
        reason: 'visits every resource with findings',
        filterCriteria: { vulnerabilityId: [{ comparison: 'EQUALS', value: 'CVE-1999-0000' }] },
      },
    });
    await eventually('the findings relabelled', async () => {
      const long = await store.count({
        namespace: env.adminNamespace,
        labelSelector: labelsEqual({ [LABELS.coveredResource]: cr }),
      });
      return long === 0 ? true : undefined;
    });
    const after = await findingsOf(env.client, env.adminNamespace, cr);
    expect([...after.values()].map((f) => f.metadata.name).sort()).toEqual(names);
    expect(await store.lastEvaluation(labelValueFor(cr))).toEqual(at);
    expect(await store.lastEvaluation(cr)).toBeUndefined();
    await env.kubectl('delete', 'suppressionrule', 'nothing-matches', '-n', env.adminNamespace);
    await env.kubectl('delete', 'node', nodeName);
  });

  it('scans an image a pod runs and turns its Debian packages into findings', async () => {
    const w = new Writer(env.client);
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    const status = bookwormDpkgStatus();
    const image = buildImage({
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: readFileSync(join(fixtures, 'os-release'), 'utf8') },
          { path: 'var/lib/dpkg/status', content: status },
        ],
      ],
    });
    const pushed = await push(registry.url, registry.host, 'shop/web', '1.0', image);
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    const node = await w.create(core.nodes, nodeObject('worker-2'));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, Date.now()), 'kubelet');
    await runPod(
      w,
      'shop',
      'web-1',
      'worker-2',
      [{ name: 'web', image: pushed }],
      'Running',
      Date.now() - 60_000,
    );

    const cr = coveredResourceName.image(pushed.repository, pushed.digest);
    const found = await eventually(
      'the findings of the image',
      async () => {
        const f = await findingsOf(env.client, env.adminNamespace, cr);
        return f.size === 5 ? f : undefined;
      },
      90_000,
    );
    const ssh = found.get('CVE-2024-6387')!;
    expect(ssh.status?.resource).toMatchObject({
      type: 'CONTAINER_IMAGE',
      id: `${pushed.repository}@${pushed.digest}`,
      imageRepository: pushed.repository,
      imageDigest: pushed.digest,
      imageTags: ['1.0'],
    });
    expect(ssh.status?.packages?.map((p) => p.name)).toEqual(['openssh-client', 'openssh-server']);
    expect(ssh.status?.packages?.[0]?.sourceLayerHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ssh.status?.packages?.[0]?.ecosystem).toBe('Debian:12');

    const sizes = [...found.values()]
      .map((f) => Buffer.byteLength(JSON.stringify(f)))
      .sort((a, b) => a - b);
    console.log(
      `image findings: ${sizes.length}, median ${sizes[Math.floor(sizes.length / 2)]} B, largest ${sizes[sizes.length - 1]} B, total ${sizes.reduce((a, b) => a + b, 0)} B`,
    );
  });
});
