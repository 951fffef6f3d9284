// Finding attributes are a map merged per key by server-side apply, so a
// person's attribute survives the controller's applies (ADR 0301), on the
// findings API served behind the shared control plane.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { controllerUsername, serveFindingsApi, type SharedFindingsApi } from './api-helpers.ts';
import { createNamespace, kubeConfig, kubectl } from './helpers.ts';

let namespace: string;
let api: SharedFindingsApi;
const dir = mkdtempSync(join(tmpdir(), 'api-ownership-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  api = await serveFindingsApi(kubeConfig());
  namespace = await createNamespace(kubeConfig(), 'api-ownership');
});
afterAll(async () => {
  await api?.stop();
});

/**
 * Server-side applies a Finding with these attributes as the given field manager (the
 * controller's manager `kube-inspector` as the controller's identity, anyone else as a person).
 */
async function applyAttributes(manager: string, attributes: Record<string, string>): Promise<void> {
  const path = join(dir, `${manager}.yaml`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'findings.kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: 'cve-2024-6387-node-a', namespace },
      spec: { attributes },
    }),
  );
  await kubectl(
    ...(manager === 'kube-inspector' ? [`--as=${controllerUsername}`] : []),
    'apply',
    '--server-side',
    `--field-manager=${manager}`,
    '-f',
    path,
  );
}

async function attributes(): Promise<Record<string, string>> {
  const out = await kubectl(
    'get',
    'finding',
    'cve-2024-6387-node-a',
    '-n',
    namespace,
    '-o',
    'jsonpath={.spec.attributes}',
  );
  return JSON.parse(out) as Record<string, string>;
}

describe('finding attributes under server-side apply', () => {
  it('keep a key a person added when the controller re-applies, changes and drops its own keys', async () => {
    await applyAttributes('kube-inspector', { owner: 'team-a', 'ticket-queue': 'SEC' });
    await kubectl(
      'patch',
      'finding',
      'cve-2024-6387-node-a',
      '-n',
      namespace,
      '--type',
      'merge',
      '-p',
      '{"spec":{"attributes":{"ticket":"SEC-1234"}}}',
    );
    expect(await attributes()).toEqual({
      owner: 'team-a',
      'ticket-queue': 'SEC',
      ticket: 'SEC-1234',
    });

    // The template changed: the controller applies a new value and no longer sets ticket-queue.
    await applyAttributes('kube-inspector', { owner: 'team-b' });
    expect(await attributes()).toEqual({ owner: 'team-b', ticket: 'SEC-1234' });
  });

  it('refuse an eleventh attribute, whoever adds it', async () => {
    const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v']));
    await expect(applyAttributes('someone', ten)).rejects.toThrow(/spec\.attributes/);
    await expect(applyAttributes('kube-inspector', ten)).rejects.toThrow(/spec\.attributes/);
  });
});
