// Finding attributes are a map merged per key by server-side apply, so a
// person's attribute survives the controller's applies (ADR 0301).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { installCrds } from './api-helpers.ts';
import { createNamespace, kubeConfig, kubectl } from './helpers.ts';

let namespace: string;
const dir = mkdtempSync(join(tmpdir(), 'api-ownership-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await installCrds();
  namespace = await createNamespace(kubeConfig(), 'api-ownership');
});

/** Server-side applies a Finding with these attributes as the given field manager. */
async function applyAttributes(manager: string, attributes: Record<string, string>): Promise<void> {
  const path = join(dir, `${manager}.yaml`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'Finding',
      metadata: { name: 'cve-2024-6387-node-a', namespace },
      spec: { attributes },
    }),
  );
  await kubectl('apply', '--server-side', `--field-manager=${manager}`, '-f', path);
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
  });
});
