// A failed image scan says why: a loopback registry that answers 500 makes the image and its
// workload INTERNAL_ERROR with the scanner's message in status.scanStatus.message, a Warning
// Event on the image's CoveredResource and a warning log line; once the registry answers again
// and a rescan succeeds, the message goes.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupCoverage } from '../../src/controllers/coverage/index.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { core } from '../../src/kube/resources.ts';
import type { CoveredResource } from '../../src/api/v1alpha1/covered-resource.ts';
import { kinds } from '../../src/controllers/informers.ts';
import { isNotFound } from '../../src/kube/client.ts';
import { type KubeObject, objectPath } from '../../src/kube/resources.ts';
import {
  type PushedImage,
  MINUTE,
  Writer,
  namespaceObject,
  push,
  runWorkload,
  testImage,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';
import {
  type TestRegistry,
  type TokenFront,
  startRegistry,
  startTokenFront,
} from '../support/registry.ts';

const NAMESPACE = 'apps';

type Covered = CoveredResource & KubeObject;

async function coveredResource(client: KubeClient, name: string): Promise<Covered | undefined> {
  try {
    return await client.get<Covered>(objectPath(kinds.coveredResources, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

interface LogLine {
  level: number;
  msg: string;
  image?: string;
  reason?: string;
  message?: string;
}

interface CoreEvent {
  type: string;
  reason: string;
  message?: string;
  involvedObject: { kind?: string; name: string; uid?: string };
}

describe('a failed image scan says why', () => {
  let env: ProductEnvironment;
  let registry: TestRegistry;
  let front: TokenFront;
  let controller: RunningController;
  let w: Writer;
  let image: PushedImage;
  const logs: LogLine[] = [];

  const imageName = () => coveredResourceName.image(image.repository, image.digest);
  const workloadName = () => coveredResourceName.workload(NAMESPACE, 'Deployment', 'flaky');
  /** The CoveredResource once `check` accepts it. */
  const coveredWhen = (
    name: string,
    what: string,
    check: (cr: Covered) => boolean,
  ): Promise<Covered> =>
    eventually(
      what,
      async () => {
        const cr = await coveredResource(env.client, name);
        return cr !== undefined && check(cr) ? cr : undefined;
      },
      120_000,
    );

  beforeAll(async () => {
    env = await startProductEnvironment();
    registry = await startRegistry();
    front = await startTokenFront(registry);
    w = new Writer(await KubeClient.create(env.kubeConfig, { qps: 0 }));
    image = await push(registry.url, front.host, 'apps/flaky', '1.0', testImage('debian', 'flaky'));
    // Every registry request through the front answers 500 from now on.
    front.failNext(1_000_000, 500);
    const log = pino(
      { level: 'info' },
      { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
    );
    controller = await startController(env, {
      setups: [setupCoverage],
      insecureRegistries: [registry.host, front.host],
      log,
    });
    await env.apply({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    await w.create(core.namespaces, namespaceObject(NAMESPACE));
    await w.create(core.serviceAccounts, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'builder', namespace: NAMESPACE },
    });
    await runWorkload(
      w,
      'Deployment',
      NAMESPACE,
      'flaky',
      'node-a',
      [{ name: 'app', image }],
      'Running',
      Date.now() - MINUTE,
      { serviceAccountName: 'builder' },
    );
  });
  afterAll(async () => {
    await controller?.stop();
    await w?.client.close();
    await front?.stop();
    await registry?.stop();
    await env?.stop();
  });

  it('the image is INTERNAL_ERROR and its status, labels and -o wide say why', async () => {
    const cr = await coveredWhen(
      imageName(),
      'the image to be INTERNAL_ERROR',
      (c) => c.status?.scanStatus.reason === 'INTERNAL_ERROR',
    );
    expect(cr.metadata.labels?.['kubeinspector.io/reason']).toBe('INTERNAL_ERROR');
    expect(cr.status?.scanStatus.statusCode).toBe('INACTIVE');
    const message = cr.status?.scanStatus.message ?? '';
    expect(message).toMatch(/500/);
    expect(cr.status?.lastScannedAt).toBeDefined();

    const wide = await env.kubectl('get', 'coverage', imageName(), '-o', 'wide');
    const [header, row] = wide.trim().split('\n');
    expect(header).toMatch(/\bMESSAGE\b/);
    expect(row).toContain(message.slice(0, 20));
  });

  it('the workload is INTERNAL_ERROR with a message that names the image', async () => {
    const cr = await coveredWhen(
      workloadName(),
      'the workload to be INTERNAL_ERROR',
      (c) => c.status?.scanStatus.reason === 'INTERNAL_ERROR',
    );
    expect(cr.status?.scanStatus.message).toMatch(
      new RegExp(`^image ${image.imageID.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*500`),
    );
  });

  it('a Warning Event on the image CoveredResource, shown by kubectl describe', async () => {
    const cr = await coverageOf(imageName());
    const event = await eventually(
      'a Warning Event about the failed scan',
      async () => {
        const out = await env.kubectl(
          'get',
          'events',
          '-n',
          'default',
          '--field-selector',
          `involvedObject.name=${imageName()},reason=ImageScanFailed`,
          '-o',
          'json',
        );
        return (JSON.parse(out) as { items: CoreEvent[] }).items[0];
      },
      60_000,
    );
    expect(event.type).toBe('Warning');
    expect(event.involvedObject).toMatchObject({ kind: 'CoveredResource', uid: cr.metadata.uid });
    expect(event.message).toMatch(/^INTERNAL_ERROR: .*500/);
    const described = await env.kubectl('describe', 'coveredresource', imageName());
    expect(described).toMatch(/Warning\s+ImageScanFailed/);
  });

  it('the failure is logged as a warning with the image and the message', () => {
    const line = logs.find((l) => l.msg === 'image scan failed' && l.image === image.imageID);
    expect(line?.level).toBe(40);
    expect(line?.reason).toBe('INTERNAL_ERROR');
    expect(line?.message).toMatch(/500/);
  });

  it('a rescan that succeeds (new pull secrets) removes the message', async () => {
    front.failNext(0, 500);
    // A change of the pods' pull secrets makes the controller try a refused image again at once.
    await w.apply(
      core.serviceAccounts,
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'builder', namespace: NAMESPACE },
        imagePullSecrets: [{ name: 'regcred' }],
      },
      'kubectl',
    );
    const cr = await coveredWhen(
      imageName(),
      'the image to be SUCCESSFUL',
      (c) => c.status?.scanStatus.reason === 'SUCCESSFUL',
    );
    expect(cr.status?.scanStatus.message).toBeUndefined();
    const workload = await coveredWhen(
      workloadName(),
      'the workload to be SUCCESSFUL',
      (c) => c.status?.scanStatus.reason === 'SUCCESSFUL',
    );
    expect(workload.status?.scanStatus.message).toBeUndefined();
  });

  const coverageOf = async (name: string): Promise<Covered> => {
    const cr = await coveredResource(env.client, name);
    if (cr === undefined) throw new Error(`${name} not found`);
    return cr;
  };
});
