// The scan service shared by coverage and assessment runs, on a control plane of its own and a
// loopback registry: an image that coverage covers and a run collects is scanned once, the run
// is evaluated from that scan, and the one set of scan metrics says so.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coveredResourceName } from '../../src/coverage/names.ts';
import { core } from '../../src/kube/resources.ts';
import { createImageScanner, type ImageScanner } from '../../src/scanner/index.ts';
import { LocalDatabaseSource } from '../../src/vulndb/source.ts';
import { startRegistry, type TestRegistry, buildImage } from '../support/registry.ts';
import {
  DPKG_STATUS,
  type PushedImage,
  Writer,
  kubeletNodeStatus,
  nodeObject,
  push,
  runWorkload,
} from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const API = 'kubeinspector.io/v1alpha1';
const NS = 'shop';
const OSV = join(import.meta.dirname, '..', '..', 'src', 'vulndb', 'testdata', 'osv');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'images');

/** Debian 12.0's openssl, which the fixtures' CVE-2023-5363 advisory affects. */
const OLD_OPENSSL = DPKG_STATUS.replace('Version: 3.0.19-1~deb12u2', 'Version: 3.0.9-1');

interface Run {
  status?: {
    state?: string;
    findingCounts?: { total?: number };
    conditions?: { type: string; status: string; reason: string }[];
  };
}

describe('scan service', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let registry: TestRegistry;
  let web: PushedImage;
  const database = new LocalDatabaseSource(OSV);
  /** Every reference the product's (real) scanner was asked to scan. */
  const scanned: string[] = [];

  const kubectlJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await env.kubectl('get', ...args, '-o', 'json')) as T;
  const scans = async (result: string) =>
    Number(
      new RegExp(`^kubeinspector_image_scans_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
        await controller.metrics(),
      )?.[1] ?? 0,
    );

  beforeAll(async () => {
    [env, registry] = await Promise.all([startProductEnvironment(), startRegistry()]);
    await database.refresh();
    const writer = new Writer(env.client);
    web = await push(
      registry.url,
      registry.host,
      'shop/web',
      '1.0',
      buildImage({
        layers: [
          [
            { path: 'etc/', type: 'dir' },
            { path: 'etc/os-release', content: readFileSync(join(fixtures, 'dpkg/os-release')) },
            { path: 'var/lib/dpkg/status', content: OLD_OPENSSL },
          ],
        ],
      }),
    );
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await writer.create(core.nodes, nodeObject('node-1'));
    await writer.setStatus(
      core.nodes,
      nodeObject('node-1'),
      kubeletNodeStatus({}, Date.now()),
      'kubelet',
    );
    await runWorkload(
      writer,
      'Deployment',
      NS,
      'web',
      'node-1',
      [{ name: 'web', image: web }],
      'Running',
      Date.now(),
      {
        labels: { app: 'web' },
      },
    );
    const real = createImageScanner({ insecureRegistries: [registry.host] });
    const scanner: ImageScanner = {
      scan: (reference, options) => {
        scanned.push(reference);
        return real.scan(reference, options);
      },
    };
    controller = await startController(env, { database, scanner });
  });
  afterAll(async () => {
    await controller?.stop();
    database.close();
    await env?.stop();
    await registry?.stop();
  });

  it('an image coverage covers and a run collects is scanned once, for both', async () => {
    // Activation and the run arrive together: both ask for the image while it is new.
    await env.apply(
      { apiVersion: API, kind: 'ScanConfiguration', metadata: { name: 'default' }, spec: {} },
      {
        apiVersion: API,
        kind: 'AssessmentTarget',
        metadata: { name: 'web', namespace: NS },
        spec: { selectors: [{ matchLabels: { app: 'web' } }] },
      },
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'web-cve', namespace: NS },
        spec: { targetRef: { name: 'web' }, rulesPackages: ['cve'], durationSeconds: 180 },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'web-1', namespace: NS },
        spec: { templateRef: { name: 'web-cve' }, stop: { action: 'START_EVALUATION' } },
      },
    );
    const run = await eventually('run evaluated', async () => {
      const r = await kubectlJson<Run>('assessmentrun', 'web-1', '-n', NS);
      return r.status?.state === 'COMPLETED' || r.status?.state === 'COMPLETED_WITH_ERRORS'
        ? r
        : undefined;
    });
    expect(run.status?.state).toBe('COMPLETED');
    expect(run.status?.findingCounts?.total).toBeGreaterThan(0);
    const name = coveredResourceName.image(web.repository, web.digest);
    await eventually('image covered', async () => {
      const cr = await kubectlJson<{ status?: { scanStatus?: { reason: string } } }>(
        'coveredresource',
        name,
      );
      return cr.status?.scanStatus?.reason === 'SUCCESSFUL' ? true : undefined;
    });
    expect(scanned).toEqual([`${web.repository}@${web.digest}`]);
    expect(await scans('success')).toBe(1);
    expect(await controller.metrics()).toMatch(/^kubeinspector_image_scans_in_flight 0$/m);
  });
});
