// Code-scanning findings on a real control plane: an image inventory with secret matches (as
// the scanner writes it) becomes CODE_VULNERABILITY Finding objects beside its package
// findings; `kubectl get findings` selects them by type; a SuppressionRule by rule id and by
// path glob suppresses them and restores them when deleted; nothing the API serves holds the
// secret itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/api/v1alpha1/common.ts';
import type { Finding } from '../../src/api/v1alpha1/finding.ts';
import { findSecrets } from '../../src/code-scan/secrets.ts';
import { fakeSecrets } from '../../src/code-scan/testing.ts';
import { setupFindings } from '../../src/controllers/findings/index.ts';
import { ImageInventoryStore } from '../../src/controllers/image-inventories.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { operatingSystem } from '../../src/scanner/analyzers/os-release.ts';
import type { CodeFinding, Inventory } from '../../src/scanner/types.ts';
import { applyCoveredImage, databaseCopy } from './findings-fixtures.ts';
import { eventually } from './helpers.ts';
import {
  type ProductEnvironment,
  type RunningController,
  startController,
  startProductEnvironment,
} from './product.ts';

const s = fakeSecrets('integration');

describe('code-scanning findings', () => {
  let env: ProductEnvironment;
  let controller: RunningController;
  let db: Awaited<ReturnType<typeof databaseCopy>>;
  const clock = new ManualClock(new Date());
  const images = new ImageInventoryStore();

  beforeAll(async () => {
    env = await startProductEnvironment();
    db = await databaseCopy();
    controller = await startController(env, {
      setups: [setupFindings],
      database: db.source,
      clock,
      images,
    });
  });
  afterAll(async () => {
    await controller?.stop();
    await env?.stop();
    db?.remove();
  });

  const codeFindings = async (): Promise<Finding[]> =>
    (
      JSON.parse(
        await env.kubectl(
          'get',
          'findings',
          '-n',
          env.adminNamespace,
          '-l',
          `${LABELS.type}=CODE_VULNERABILITY`,
          '-o',
          'json',
        ),
      ) as { items: Finding[] }
    ).items.filter((f) => f.status?.ruleId !== undefined);

  it('writes secrets as CODE_VULNERABILITY findings, suppressible by rule id and path glob, never holding the secret', async () => {
    const digest = `sha256:${'4'.repeat(64)}`;
    const layer = `sha256:${'5'.repeat(64)}`;
    const matches = (path: string, text: string): CodeFinding[] =>
      findSecrets(text).map((m) => ({ ...m, path, layerDigest: layer }));
    const inventory: Inventory = {
      kind: 'image',
      target: 'registry.test/shop/leaky:1.0',
      os: operatingSystem({ ID: 'debian', VERSION_ID: '12', NAME: 'Debian GNU/Linux' })!,
      packages: [],
      runtimes: [],
      layers: [],
      warnings: [],
      code: {
        findings: [
          ...matches('srv/app/.env', `PORT=1\nGITHUB_TOKEN=${s['github-token']}\n`),
          ...matches('srv/app/test/session.txt', `Bearer ${s.jwt}\n`),
        ],
        files: 2,
        bytes: 100,
        skippedBinary: 0,
        skippedSize: 0,
      },
      stats: { durationMs: 1, bytesDownloaded: 0, uncompressedBytes: 0, entries: 0 },
    };
    images.set({
      digest,
      reference: `registry.test/shop/leaky@${digest}`,
      scannedAt: clock.now(),
      outcome: { status: 'inventory', inventory },
    });
    await applyCoveredImage(env.client, 'registry.test/shop/leaky', digest, {
      lastScannedAt: clock.now(),
    });
    const found = await eventually('two code findings', async () => {
      const f = await codeFindings();
      return f.length === 2 ? f : undefined;
    });
    const gh = found.find((f) => f.status?.ruleId === 'github-token')!;
    expect(gh.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      severity: 'CRITICAL',
      status: 'ACTIVE',
      title: 'GitHub token - /srv/app/.env',
      codeVulnerabilityDetails: {
        detectorId: 'github-token',
        cwes: ['CWE-798'],
        filePath: { filePath: '/srv/app/.env', startLine: 2 },
        sourceLayerDigest: layer,
        secret: { redacted: 'ghp_****************' },
      },
      resource: { type: 'CONTAINER_IMAGE', imageDigest: digest },
    });
    expect(gh.metadata?.labels?.[LABELS.vulnerabilityId]).toBe('github-token');

    const everything = await env.kubectl('get', 'findings', '-n', env.adminNamespace, '-o', 'json');
    expect(everything).not.toContain(s['github-token']!.slice(4));
    expect(everything).not.toContain(s.jwt!.split('.')[2]!);

    const rule = {
      apiVersion: 'kubeinspector.io/v1alpha1',
      kind: 'SuppressionRule',
      metadata: { name: 'test-tokens', namespace: env.adminNamespace },
      spec: {
        reason: 'tokens of the test suite, signed by a throw-away key',
        filterCriteria: {
          ruleId: [{ comparison: 'EQUALS', value: 'jwt' }],
          filePathGlobs: ['/srv/app/test/**'],
        },
      },
    };
    await env.apply(rule);
    await eventually('the test token SUPPRESSED, the GitHub token ACTIVE', async () => {
      const f = await codeFindings();
      const jwt = f.find((x) => x.status?.ruleId === 'jwt');
      const token = f.find((x) => x.status?.ruleId === 'github-token');
      return jwt?.status?.status === 'SUPPRESSED' &&
        jwt.metadata?.labels?.[LABELS.status] === 'SUPPRESSED' &&
        token?.status?.status === 'ACTIVE'
        ? true
        : undefined;
    });
    await env.kubectl('delete', 'suppressionrule', 'test-tokens', '-n', env.adminNamespace);
    await eventually('deleting the rule restores it', async () =>
      (await codeFindings()).every((x) => x.status?.status === 'ACTIVE') ? true : undefined,
    );

    // The image rescanned without the secret: its finding closes.
    images.set({
      digest,
      reference: `registry.test/shop/leaky@${digest}`,
      scannedAt: clock.now(),
      outcome: {
        status: 'inventory',
        inventory: {
          ...inventory,
          code: {
            ...inventory.code!,
            findings: inventory.code!.findings.filter((f) => f.ruleId === 'jwt'),
          },
        },
      },
    });
    await eventually('the removed secret’s finding CLOSED', async () =>
      (await codeFindings()).find((x) => x.status?.ruleId === 'github-token')?.status?.status ===
      'CLOSED'
        ? true
        : undefined,
    );
  });
});
