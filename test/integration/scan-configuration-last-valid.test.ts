// The last good ScanConfiguration stays in effect. Every mistake a person can make in the spec
// is refused by the API server at apply time, naming the field, and changes nothing; a spec that
// got in without validating (stored under an older CRD, before the rules existed) leaves the
// last valid configuration in effect, says so in Stalled, and a restarted controller keeps it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVALID_OBJECTS } from '../../src/api/testing/invalid-objects.ts';
import { coveredResourceName } from '../../src/coverage/names.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import { type PushedImage, Writer, namespaceObject, runPod } from './coverage-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  crdDocuments,
  startController,
  startProductEnvironment,
} from './product.ts';

const PATH = '/apis/kubeinspector.io/v1alpha1/scanconfigurations/default';
const CRD = 'scanconfigurations.kubeinspector.io';
// Nothing listens there: a scan, if one were requested, fails at once.
const REPOSITORY = '127.0.0.1:1/team/app';
const digest = `sha256:${'5e'.repeat(32)}`;
const IMAGE: PushedImage = {
  repository: REPOSITORY,
  reference: `${REPOSITORY}:1`,
  digest,
  imageID: `${REPOSITORY}@${digest}`,
};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface ScanConfiguration extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    configurationInEffect?: { generation: number; spec: Record<string, unknown> };
  };
}

const rules = (filter: string, frequency: string) => ({
  image: { repositoryRules: [{ filter, frequency }] },
});
const scanConfiguration = (spec: Record<string, unknown>) => ({
  apiVersion: 'kubeinspector.io/v1alpha1',
  kind: 'ScanConfiguration',
  metadata: { name: 'default' },
  spec,
});

/** The ScanConfiguration's CRD with the repository filter's CEL rules taken out. */
function withoutFilterRules(crd: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(crd);
  const strip = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const filter = (o.properties as Record<string, Record<string, unknown>> | undefined)?.filter;
    if (filter !== undefined) delete filter['x-kubernetes-validations'];
    for (const v of Object.values(o)) strip(v);
  };
  strip(copy);
  return copy;
}

describe('the last valid ScanConfiguration stays in effect', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let crd: Record<string, unknown>;
  const get = () => env.client.get<ScanConfiguration>(PATH);
  const condition = (sc: ScanConfiguration, type: string) =>
    sc.status?.conditions?.find((c) => c.type === type);
  const reasonOf = async (name: string): Promise<string | undefined> => {
    const out = await env.kubectl('get', 'coveredresource', name, '-o', 'json').catch(() => '');
    if (out === '') return undefined;
    return (JSON.parse(out) as { status?: { scanStatus?: { reason?: string } } }).status?.scanStatus
      ?.reason;
  };
  const repository = coveredResourceName.repository(REPOSITORY);
  const image = coveredResourceName.image(REPOSITORY, digest);
  /** Waits until the configuration of `generation` is in effect and Ready. */
  const inEffect = (generation: number) =>
    eventually(`generation ${generation} in effect`, async () => {
      const sc = await get();
      return sc.status?.configurationInEffect?.generation === generation &&
        condition(sc, 'Ready')?.status === 'True'
        ? sc
        : undefined;
    });

  beforeAll(async () => {
    env = await startProductEnvironment();
    crd = (await crdDocuments()).find(
      (d) => (d as { metadata: { name: string } }).metadata.name === CRD,
    ) as Record<string, unknown>;
    controller = await startController(env);
    const w = new Writer(env.client);
    await env.apply(namespaceObject('team'));
    await runPod(
      w,
      'team',
      'app',
      'node-a',
      [{ name: 'app', image: IMAGE }],
      'Running',
      Date.now(),
    );
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
  });

  it('a valid configuration is in effect and kept in status with its generation', async () => {
    await env.apply(scanConfiguration(rules('127.0.0.1:1/team/*', 'MANUAL')));
    const sc = await inEffect(1);
    expect(sc.status?.configurationInEffect?.spec).toMatchObject(
      rules('127.0.0.1:1/team/*', 'MANUAL'),
    );
    expect(condition(sc, 'Stalled')).toBeUndefined();
    await eventually('the repository MANUAL', async () =>
      (await reasonOf(repository)) === 'SCAN_FREQUENCY_MANUAL' ? true : undefined,
    );
    await eventually('the image MANUAL', async () =>
      (await reasonOf(image)) === 'SCAN_FREQUENCY_MANUAL' ? true : undefined,
    );
  });

  const mistakes = INVALID_OBJECTS.filter(
    (c) => c.kind === 'ScanConfiguration' && c.part === 'spec',
  );
  it(`each of ${mistakes.length} mistakes in the spec is refused at apply time, naming the field, and changes nothing`, async () => {
    expect(mistakes.length).toBeGreaterThanOrEqual(18);
    for (const c of mistakes) {
      const refusal = await env
        .apply(scanConfiguration(c.value))
        .then(() => undefined)
        .catch((err: unknown) => String((err as { stderr?: string }).stderr ?? err));
      expect(refusal, c.name).toBeDefined();
      expect(refusal, c.name).toContain(c.field);
    }
    const sc = await get();
    expect(sc.metadata.generation).toBe(1);
    expect(sc.status?.configurationInEffect?.generation).toBe(1);
    expect(condition(sc, 'Ready')?.status).toBe('True');
    expect(await reasonOf(repository)).toBe('SCAN_FREQUENCY_MANUAL');
  });

  it('a spec stored before the rules existed leaves the last valid configuration in effect, says so, across a restart', async () => {
    // An older CRD without the filter rules, as before an upgrade.
    await env.apply(withoutFilterRules(crd));
    const broken = rules('127.0.0.1:1/team/***', 'MANUAL');
    await eventually('the older CRD to take the broken filter', () =>
      env.apply(scanConfiguration(broken)).then(() => true),
    );
    const expectStalled = async (what: string) => {
      const sc = await eventually(what, async () => {
        const s = await get();
        return condition(s, 'Stalled')?.status === 'True' ? s : undefined;
      });
      expect(sc.metadata.generation).toBe(2);
      const stalled = condition(sc, 'Stalled')!;
      expect(stalled.reason).toBe('InvalidConfiguration');
      expect(stalled.message).toContain('spec.image.repositoryRules[0].filter');
      expect(stalled.message).toContain('***');
      expect(stalled.message).toContain(
        'The last valid configuration (generation 1) stays in effect',
      );
      expect(condition(sc, 'Ready')).toMatchObject({
        status: 'False',
        reason: 'InvalidConfiguration',
      });
      expect(sc.status?.configurationInEffect?.generation).toBe(1);
      // The broken rule is not dropped: what it set to MANUAL stays MANUAL.
      await new Promise((r) => setTimeout(r, 3000));
      expect(await reasonOf(repository)).toBe('SCAN_FREQUENCY_MANUAL');
      expect(await reasonOf(image)).toBe('SCAN_FREQUENCY_MANUAL');
    };
    await expectStalled('default to be Stalled');

    // The current CRD again: the stored spec stays as it is (validation ratcheting).
    await env.apply(crd);
    await controller.stop();
    controller = await startController(env);
    await expectStalled('default to be Stalled after a restart');

    // A fix takes effect at once, and the configuration follows it.
    await env.apply(scanConfiguration(rules('127.0.0.1:1/team/*', 'CONTINUOUS_SCAN')));
    const fixed = await inEffect(3);
    expect(condition(fixed, 'Stalled')).toBeUndefined();
    await eventually('the repository no longer MANUAL', async () => {
      const reason = await reasonOf(repository);
      return reason !== undefined && reason !== 'SCAN_FREQUENCY_MANUAL' ? reason : undefined;
    });
  });
});
