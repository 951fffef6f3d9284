// The WorkloadCode scan type end to end: with it in the ScanConfiguration, an image a pod runs
// is scanned by the coverage controller with code scanning, and the findings controller turns
// the secret in its application files into a CODE_VULNERABILITY finding; switched off, the
// image is scanned again without it and the finding is closed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { fakeSecrets } from '../../src/code-scan/testing.ts';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { core } from '../../src/kube/resources.ts';
import { Writer, kubeletNodeStatus, nodeObject, push, runPod } from './coverage-fixtures.ts';
import { buildImage, startRegistry, type TestRegistry } from '../support/registry.ts';
import { bookwormDpkgStatus, databaseCopy } from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const s = fakeSecrets('coverage');

describe('the WorkloadCode scan type', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  let registry: TestRegistry;
  const configure = (scanTypes: string[]) =>
    env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { activation: { scanTypes } },
    });

  beforeAll(async () => {
    env = await startProductEnvironment();
    registry = await startRegistry();
    db = await databaseCopy();
    controller = await startController(env, {
      setups: [setupCoverage, setupFindings],
      database: db.source,
      insecureRegistries: [registry.host],
    });
  });
  afterAll(async () => {
    await controller?.stop();
    await registry?.stop();
    await env?.stop();
    db?.remove();
  });

  it('scans the images of workloads for secrets while it is on, and closes their findings when it is off', async () => {
    await configure(['Node', 'Image', 'Workload', 'WorkloadCode']);
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    const image = buildImage({
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: readFileSync(join(fixtures, 'os-release'), 'utf8') },
          { path: 'var/lib/dpkg/status', content: bookwormDpkgStatus() },
          { path: 'srv/app/.env', content: `PORT=8080\nGITLAB_TOKEN=${s['gitlab-token']}\n` },
        ],
      ],
    });
    const pushed = await push(registry.url, registry.host, 'shop/api', '1.0', image);
    const w = new Writer(env.client);
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    const node = await w.create(core.nodes, nodeObject('worker-1'));
    await w.setStatus(core.nodes, node, kubeletNodeStatus({}, Date.now()), 'kubelet');
    await runPod(
      w,
      'shop',
      'api-1',
      'worker-1',
      [{ name: 'api', image: pushed }],
      'Running',
      Date.now() - 60_000,
    );

    const cr = coveredResourceName.image(pushed.repository, pushed.digest);
    const codeFinding = async (): Promise<Finding | undefined> =>
      (
        JSON.parse(
          await env.kubectl(
            'get',
            'findings',
            '-n',
            env.adminNamespace,
            '-o',
            'json',
            '-l',
            `${LABELS.type}=CODE_VULNERABILITY,${LABELS.coveredResource}=${cr}`,
          ),
        ) as { items: Finding[] }
      ).items.find((f) => f.status?.ruleId === 'gitlab-token');
    const found = await eventually('the secret’s finding', async () => codeFinding(), 90_000);
    expect(found.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      status: 'ACTIVE',
      severity: 'CRITICAL',
      codeVulnerabilityDetails: {
        detectorId: 'gitlab-token',
        filePath: { filePath: '/srv/app/.env', startLine: 2 },
        sourceLayerDigest: image.layers[0]!.digest,
      },
      resource: { type: 'CONTAINER_IMAGE', imageDigest: pushed.digest },
    });
    expect(JSON.stringify(found)).not.toContain(s['gitlab-token']!.slice(6));

    await configure(['Node', 'Image', 'Workload']);
    await eventually(
      'the finding CLOSED once the image is scanned without code scanning',
      async () => ((await codeFinding())?.status?.status === 'CLOSED' ? true : undefined),
      90_000,
    );
  });
});
