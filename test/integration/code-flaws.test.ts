// Code flaws end to end: with WorkloadCode in the ScanConfiguration, the coverage controller
// scans a pod's image (from a real registry) with the code-flaw rules in the same pass as its
// packages, and the findings controller writes each flaw as a CODE_VULNERABILITY finding with
// its rule, CWE, file, line and layer; a SuppressionRule by rule id prefix and path glob
// suppresses the shell script's flaws and leaves the Python ones active.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { flawCorpus } from '../../src/code-scan/flaws-corpus.ts';
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

const corpus = flawCorpus().filter((f) =>
  [
    'app/api/handlers.py',
    'app/entrypoint.sh',
    'app/api/safe.py',
    'app/tests/test_handlers.py',
  ].includes(f.path),
);
const planted = corpus.flatMap((f) => f.flaws.map((m) => `${m.ruleId} /${f.path}:${m.line}`));

describe('code flaws of a workload’s image', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  let registry: TestRegistry;

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

  it('become CODE_VULNERABILITY findings with rule, CWE, file, line and layer, suppressible by rule id and path', async () => {
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: { activation: { scanTypes: ['Node', 'Image', 'Workload', 'WorkloadCode'] } },
    });
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images', 'dpkg');
    const image = buildImage({
      layers: [
        [
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: readFileSync(join(fixtures, 'os-release'), 'utf8') },
          { path: 'var/lib/dpkg/status', content: bookwormDpkgStatus() },
          ...corpus.map((f) => ({ path: f.path, content: f.text })),
        ],
      ],
    });
    const pushed = await push(registry.url, registry.host, 'shop/flawed', '1.0', image);
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
    const codeFindings = async (): Promise<Finding[]> =>
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
      ).items;
    const found = await eventually(
      'a finding per planted flaw',
      async () => {
        const f = await codeFindings();
        return f.length >= planted.length ? f : undefined;
      },
      90_000,
    );
    const where = (f: Finding): string =>
      `${f.status?.ruleId} ${f.status?.codeVulnerabilityDetails?.filePath?.filePath}:${f.status?.codeVulnerabilityDetails?.filePath?.startLine}`;
    expect(found.map(where).sort()).toEqual([...planted].sort());
    const pickle = found.find((f) => f.status?.ruleId === 'python-pickle-load')!;
    expect(pickle.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      status: 'ACTIVE',
      severity: 'HIGH',
      title: 'Deserialization with pickle - /app/api/handlers.py',
      codeVulnerabilityDetails: {
        detectorId: 'python-pickle-load',
        detectorTags: ['code-flaw', 'python'],
        cwes: ['CWE-502'],
        filePath: { fileName: 'handlers.py', filePath: '/app/api/handlers.py' },
        sourceLayerDigest: image.layers[0]!.digest,
      },
      resource: { type: 'CONTAINER_IMAGE', imageDigest: pushed.digest },
    });
    expect(pickle.status?.recommendation?.text).toMatch(/JSON/);
    expect(pickle.metadata?.labels?.[LABELS.vulnerabilityId]).toBe('python-pickle-load');

    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'SuppressionRule',
      metadata: { name: 'entrypoint-reviewed', namespace: env.adminNamespace },
      spec: {
        reason: 'the entrypoint only runs against the internal mirror',
        filterCriteria: {
          ruleId: [{ comparison: 'PREFIX', value: 'shell-' }],
          filePathGlobs: ['/app/*.sh'],
        },
      },
    });
    await eventually('the shell flaws SUPPRESSED, the Python ones ACTIVE', async () => {
      const f = await codeFindings();
      const shell = f.filter((x) => x.status?.ruleId?.startsWith('shell-'));
      const python = f.filter((x) => x.status?.ruleId?.startsWith('python-'));
      return shell.length === 4 &&
        shell.every((x) => x.status?.status === 'SUPPRESSED') &&
        python.length > 0 &&
        python.every((x) => x.status?.status === 'ACTIVE')
        ? true
        : undefined;
    });
  });
});
