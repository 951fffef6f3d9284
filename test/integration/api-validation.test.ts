// The API server itself refuses bad input to our kinds, through the generated
// schemas and their CEL rules, and names the field in its message.
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kindInfo } from '../../src/api/v1alpha1/index.ts';
import { INVALID_OBJECTS, VALID_PARTS } from '../../src/api/testing/invalid-objects.ts';
import {
  controllerUsername,
  createObject,
  deleteClusterObject,
  impersonating,
  installCrds,
  refused,
  serveFindingsApi,
  writeSpec,
  writeStatus,
  type SharedFindingsApi,
} from './api-helpers.ts';
import { createNamespace, kubeConfig, uniqueName } from './helpers.ts';

let admin: KubeConfig;
let asController: KubeConfig;
let namespace: string;
let findingsApi: SharedFindingsApi;

beforeAll(async () => {
  await installCrds();
  admin = kubeConfig();
  // Finding is served by the findings API, where only the controller creates and writes status.
  findingsApi = await serveFindingsApi(admin);
  asController = impersonating(admin, controllerUsername);
  namespace = await createNamespace(admin, 'api-validation');
});
afterAll(async () => {
  await findingsApi?.stop();
});

/** Who writes objects of a kind: the controller for Finding, the administrator otherwise. */
function writer(kind: string): KubeConfig {
  return kind === 'Finding' ? asController : admin;
}

/** Creates a valid object of the kind, for status writes and updates. */
async function validObject(kind: string): Promise<string> {
  const name = uniqueName(kind.toLowerCase());
  await createObject(writer(kind), kind, namespace, name, VALID_PARTS[kind]?.spec);
  return name;
}

async function cleanup(kind: string, name: string): Promise<void> {
  if (kindInfo(kind).scope === 'Cluster') await deleteClusterObject(admin, kind, name);
}

describe('the API server refuses', () => {
  it('at least 30 distinct invalid objects are listed', () => {
    expect(new Set(INVALID_OBJECTS.map((c) => c.name)).size).toBe(INVALID_OBJECTS.length);
    expect(INVALID_OBJECTS.length).toBeGreaterThanOrEqual(30);
  });

  for (const c of INVALID_OBJECTS) {
    it(`${c.name} (${c.kind} ${c.part}) and names ${c.field}`, async () => {
      if (c.part === 'spec') {
        const name = uniqueName(c.kind.toLowerCase());
        const { code, message } = await refused(() =>
          createObject(writer(c.kind), c.kind, namespace, name, c.value),
        );
        expect(code, message).toBe(c.enforcedBy === 'unknown-field' ? 400 : 422);
        expect(message).toContain(c.field);
        await cleanup(c.kind, name);
      } else {
        const name = await validObject(c.kind);
        const { code, message } = await refused(() =>
          writeStatus(writer(c.kind), c.kind, namespace, name, c.value),
        );
        expect(code, message).toBe(422);
        expect(message).toContain(c.field);
        await cleanup(c.kind, name);
      }
    });
  }

  it('a change of an AssessmentRun templateRef, naming spec.templateRef', async () => {
    const name = await validObject('AssessmentRun');
    const { code, message } = await refused(() =>
      writeSpec(admin, 'AssessmentRun', namespace, name, { templateRef: { name: 'other' } }),
    );
    expect(code, message).toBe(422);
    expect(message).toContain('spec.templateRef');
    expect(message).toContain('templateRef is immutable');
  });

  it('withdrawing the stop of an AssessmentRun, naming spec.stop', async () => {
    const name = uniqueName('assessmentrun');
    await createObject(admin, 'AssessmentRun', namespace, name, {
      templateRef: { name: 'weekly' },
      stop: { action: 'SKIP_EVALUATION' },
    });
    const { code, message } = await refused(() =>
      writeSpec(admin, 'AssessmentRun', namespace, name, { templateRef: { name: 'weekly' } }),
    );
    expect(code, message).toBe(422);
    expect(message).toContain('spec.stop');
  });
});

describe('the API server accepts', () => {
  for (const [kind, parts] of Object.entries(VALID_PARTS)) {
    it(`a minimal valid ${kind} and its status, and fills in the defaults`, async () => {
      const name = uniqueName(kind.toLowerCase());
      const created = await createObject(writer(kind), kind, namespace, name, parts.spec);
      expect((created.metadata as { name: string }).name).toBe(name);
      if (parts.status) {
        const updated = await writeStatus(writer(kind), kind, namespace, name, parts.status);
        expect(updated.status).toMatchObject(parts.status);
      }
      if (kind === 'AssessmentTemplate') {
        expect(created.spec).toMatchObject({ durationSeconds: 3600, concurrencyPolicy: 'Forbid' });
      }
      if (kind === 'ScanConfiguration') {
        expect(created.spec).toMatchObject({
          activation: { scanTypes: ['Node', 'Image', 'Workload'] },
          exclusionLabel: 'kubeinspector.io/exclude',
          node: { staleInventoryDays: 7, packageLimit: 5000, collectionTimeLimitSeconds: 900 },
          image: {
            rescanDuration: 'DAYS_90',
            pullDateRescanDuration: 'DAYS_14',
            maxImageSize: '10Gi',
          },
          workload: { eligibilityDays: 90 },
          findingRetention: { closedDays: 30, resourceGoneDays: 3, reopenWindowDays: 7 },
        });
      }
      await cleanup(kind, name);
    });
  }

  it('stopping a running AssessmentRun, with START_EVALUATION by default', async () => {
    const name = await validObject('AssessmentRun');
    const updated = await writeSpec(admin, 'AssessmentRun', namespace, name, {
      templateRef: { name: 'weekly' },
      stop: {},
    });
    expect(updated.spec).toMatchObject({ stop: { action: 'START_EVALUATION' } });
  });
});
