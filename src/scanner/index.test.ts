import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../test/support/registry.ts';
import { createImageScanner } from './index.ts';

describe('createImageScanner', { timeout: 30_000 }, () => {
  const user = { username: 'puller', password: 'pull-pass' };
  let registry: TestRegistry;
  const image = buildImage({
    layers: [
      [
        { path: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' },
        { path: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n' },
      ],
    ],
  });

  beforeAll(async () => {
    registry = await startRegistry({ basicAuth: user });
    await pushImage(registry.url, 'private/app', 'v1', image, { auth: user });
  }, 30_000);
  afterAll(async () => registry?.stop());

  const secret = (password: string): Record<string, string> => ({
    '.dockerconfigjson': Buffer.from(
      JSON.stringify({ auths: { [registry.host]: { username: user.username, password } } }),
    ).toString('base64'),
  });

  it('scans a private image with the pull secret data it is given', async () => {
    const scanner = createImageScanner({ insecureRegistries: [registry.host] });
    const outcome = await scanner.scan(`${registry.host}/private/app:v1`, {
      credentials: { pullSecrets: [secret(user.password)] },
    });
    expect(outcome.status).toBe('inventory');
    if (outcome.status === 'inventory')
      expect(outcome.inventory.packages.map((p) => p.name)).toEqual(['musl']);
  });

  it('reports ACCESS_DENIED without credentials, with a wrong password and with a broken secret', async () => {
    const scanner = createImageScanner({
      insecureRegistries: [registry.host],
      limits: { timeoutMs: 10_000 },
    });
    const ref = `${registry.host}/private/app:v1`;
    for (const credentials of [
      {},
      { pullSecrets: [secret('nope')] },
      { pullSecrets: [{ '.dockerconfigjson': Buffer.from('not json').toString('base64') }] },
    ]) {
      const outcome = await scanner.scan(ref, { credentials });
      expect(outcome).toMatchObject({ status: 'failed', reason: 'ACCESS_DENIED' });
    }
  });
});
