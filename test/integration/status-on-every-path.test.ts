// Status on every path: a reconcile that fails still writes its status once, so `kubectl get`
// shows the failure. One kind per way to fail, each against the real API server:
// ScanConfiguration and SuppressionRule (the API server refuses the status write: an admission
// policy of the cluster) -> Ready=False with the API server's reason; AssessmentTemplate (an
// admission policy refuses its scheduled run) -> Ready=False, Forbidden; AssessmentTarget (outside
// the namespace rule: a TerminalError) -> Stalled=True; AssessmentRun (the vulnerability database
// is not loaded: a WaitingError) -> Reconciling=True. Each recovers once the cause is gone.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalDatabaseSource } from '../../src/vulndb/source.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const API = 'kubeinspector.io/v1alpha1';
const NS = 'tenant';
const POLICY = 'refuse-counts';
const POLICY_MESSAGE = 'the cluster policy refuses counts in status';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Obj {
  metadata: { name: string; generation?: number };
  status?: {
    conditions?: Condition[];
    state?: string;
    configurationInEffect?: unknown;
    lastRunName?: string;
  };
}

/** A policy refusing status writes that carry coverage statistics or a matched-findings count. */
const policy = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: POLICY },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        {
          apiGroups: ['kubeinspector.io'],
          apiVersions: ['v1alpha1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['scanconfigurations/status', 'suppressionrules/status'],
        },
      ],
    },
    validations: [
      {
        expression:
          '!has(object.status) || (!has(object.status.statistics) && !has(object.status.matchedFindings))',
        message: POLICY_MESSAGE,
      },
    ],
  },
};
const binding = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: POLICY },
  spec: { policyName: POLICY, validationActions: ['Deny'] },
};

describe('status on every path', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  const get = async (kind: string, name: string, ns?: string): Promise<Obj> =>
    JSON.parse(
      await env.kubectl('get', kind, name, ...(ns ? ['-n', ns] : []), '-o', 'json'),
    ) as Obj;
  const conditionOf = (kind: string, name: string, ns: string | undefined, type: string) =>
    eventually(`${kind} ${name} ${type}`, async () => {
      const o = await get(kind, name, ns);
      const c = o.status?.conditions?.find((x) => x.type === type);
      return c === undefined ? undefined : { c, o };
    });
  const readyIs = (kind: string, name: string, ns: string | undefined, status: string) =>
    eventually(`${kind} ${name} Ready=${status}`, async () => {
      const o = await get(kind, name, ns);
      const c = o.status?.conditions?.find((x) => x.type === 'Ready');
      if (c?.status !== status) throw new Error(`status: ${JSON.stringify(o.status)}`);
      return { c, o };
    });

  // Never loads: the database stays "not loaded yet".
  const database = new LocalDatabaseSource(
    join(import.meta.dirname, 'fixtures', 'no-database-here'),
  );
  beforeAll(async () => {
    env = await startProductEnvironment();
    controller = await startController(env, {
      // Five minutes ahead: a template scheduled every minute is due at once.
      clock: { now: () => new Date(Date.now() + 5 * 60_000) },
      database,
    });
    await env.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  });
  afterAll(async () => {
    await controller?.stop();
    database.close();
    await env?.stop();
  });

  it('ScanConfiguration and SuppressionRule: a status write the API server refuses says Ready=False with its reason, then recovers', async () => {
    const rule = (name: string) => ({
      apiVersion: API,
      kind: 'SuppressionRule',
      metadata: { name, namespace: NS },
      spec: {
        filterCriteria: { severity: [{ comparison: 'EQUALS', value: 'LOW' }] },
        reason: 'test',
      },
    });
    await env.apply(rule('probe'));
    await readyIs('suppressionrule', 'probe', NS, 'True');
    await env.apply(policy, binding);
    // The policy is in force once a status write of the probe is refused.
    await eventually('the policy in force', async () => {
      const refused = await env
        .kubectl(
          'patch',
          'suppressionrule',
          'probe',
          '-n',
          NS,
          '--subresource=status',
          '--type=merge',
          '--dry-run=server',
          '-p',
          '{"status":{"matchedFindings":7}}',
        )
        .then(
          () => false,
          (err: unknown) => String((err as { stderr?: string }).stderr).includes(POLICY_MESSAGE),
        );
      return refused ? true : undefined;
    });

    await env.apply(rule('refused'), {
      apiVersion: API,
      kind: 'ScanConfiguration',
      metadata: { name: 'default' },
      spec: {},
    });
    for (const [kind, name, ns] of [
      ['suppressionrule', 'refused', NS],
      ['scanconfiguration', 'default', undefined],
    ] as const) {
      const { c, o } = await readyIs(kind, name, ns, 'False');
      expect(c.reason, kind).toBe('Invalid');
      expect(c.message, kind).toContain(POLICY_MESSAGE);
      expect(c.message, kind).toContain(POLICY);
      // One vocabulary: a failure that is retried is neither Stalled nor Reconciling.
      expect(
        o.status?.conditions?.map((x) => x.type),
        kind,
      ).toEqual(['Ready']);
    }

    await env.kubectl('delete', 'validatingadmissionpolicybinding', POLICY);
    await env.kubectl('delete', 'validatingadmissionpolicy', POLICY);
    const rec = await readyIs('suppressionrule', 'refused', NS, 'True');
    expect(rec.c.reason).toBe('Applied');
    const sc = await readyIs('scanconfiguration', 'default', undefined, 'True');
    expect(sc.c.reason).toBe('Applied');
    expect(sc.o.status?.configurationInEffect).toBeDefined();
  });

  it('AssessmentTarget: a target outside the namespace rule is Stalled (a terminal error), with the reason', async () => {
    await env.apply({
      apiVersion: API,
      kind: 'AssessmentTarget',
      metadata: { name: 'greedy', namespace: NS },
      spec: { resourceTypes: ['NODE'] },
    });
    const { c, o } = await conditionOf('assessmenttarget', 'greedy', NS, 'Stalled');
    expect(c).toMatchObject({ status: 'True', reason: 'OutsideAdministratorNamespace' });
    expect(c.message).toContain('spec.resourceTypes includes NODE');
    expect(o.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'OutsideAdministratorNamespace',
    });
    expect(o.status?.conditions?.map((x) => x.type).sort()).toEqual(['Ready', 'Stalled']);
  });

  it('AssessmentTemplate: a scheduled run the API server refuses says Ready=False, Forbidden, then recovers', async () => {
    const freeze = {
      ...policy,
      metadata: { name: 'freeze-runs' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['kubeinspector.io'],
              apiVersions: ['v1alpha1'],
              operations: ['CREATE'],
              resources: ['assessmentruns'],
            },
          ],
        },
        validations: [{ expression: 'false', message: 'runs are frozen', reason: 'Forbidden' }],
      },
    };
    const freezeBinding = {
      ...binding,
      metadata: { name: 'freeze-runs' },
      spec: { policyName: 'freeze-runs', validationActions: ['Deny'] },
    };
    await env.apply(freeze, freezeBinding, {
      apiVersion: API,
      kind: 'AssessmentTarget',
      metadata: { name: 'all', namespace: NS },
      spec: {},
    });
    // The policy is in force once it refuses a run.
    const probe = {
      apiVersion: API,
      kind: 'AssessmentRun',
      metadata: { name: 'probe', namespace: NS },
      spec: { templateRef: { name: 'minutely' } },
    };
    await eventually('the policy in force', () =>
      env.kubectlWithInput(JSON.stringify(probe), 'create', '--dry-run=server', '-f', '-').then(
        () => undefined,
        (err: unknown) =>
          String((err as { stderr?: string }).stderr).includes('runs are frozen')
            ? true
            : undefined,
      ),
    );
    await env.apply({
      apiVersion: API,
      kind: 'AssessmentTemplate',
      metadata: { name: 'minutely', namespace: NS },
      spec: {
        targetRef: { name: 'all' },
        rulesPackages: ['cve'],
        durationSeconds: 180,
        schedule: '* * * * *',
      },
    });
    const { c, o } = await readyIs('assessmenttemplate', 'minutely', NS, 'False');
    expect(c.reason).toBe('Forbidden');
    expect(c.message).toContain('runs are frozen');
    expect(o.status?.conditions?.map((x) => x.type)).toEqual(['Ready']);
    expect(o.status?.lastRunName).toBeUndefined();
    await env.kubectl('delete', 'validatingadmissionpolicybinding', 'freeze-runs');
    await env.kubectl('delete', 'validatingadmissionpolicy', 'freeze-runs');
    const ok = await readyIs('assessmenttemplate', 'minutely', NS, 'True');
    expect(ok.c.reason).toBe('Valid');
    expect(ok.o.status?.lastRunName).toMatch(/^minutely-/);
  });

  it('AssessmentRun: a run waiting for the vulnerability database says Reconciling=True, DatabaseNotLoaded', async () => {
    await env.apply(
      {
        apiVersion: API,
        kind: 'AssessmentTemplate',
        metadata: { name: 'by-hand', namespace: NS },
        spec: { targetRef: { name: 'all' }, rulesPackages: ['cve'], durationSeconds: 180 },
      },
      {
        apiVersion: API,
        kind: 'AssessmentRun',
        metadata: { name: 'waits', namespace: NS },
        spec: { templateRef: { name: 'by-hand' } },
      },
    );
    await eventually('the run collecting', async () =>
      (await get('assessmentrun', 'waits', NS)).status?.state === 'COLLECTING_DATA'
        ? true
        : undefined,
    );
    await env.kubectl(
      'patch',
      'assessmentrun',
      'waits',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"stop":{"action":"START_EVALUATION"}}}',
    );
    const { c, o } = await eventually('the run waiting', async () => {
      const r = await get('assessmentrun', 'waits', NS);
      const rec = r.status?.conditions?.find((x) => x.type === 'Reconciling');
      return rec?.reason === 'DatabaseNotLoaded' ? { c: rec, o: r } : undefined;
    });
    expect(c.status).toBe('True');
    expect(c.message).toContain('vulnerability database has not been loaded yet');
    expect(o.status?.state).toBe('EVALUATING_RULES');
    expect(o.status?.conditions?.find((x) => x.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'DatabaseNotLoaded',
    });
    expect(o.status?.conditions?.some((x) => x.type === 'Stalled')).toBe(false);
  });
});
