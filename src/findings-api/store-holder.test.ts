import { describe, expect, it } from 'vitest';
import { startPostgres } from '../../test/support/postgres.ts';
import { PostgresFindingStore } from '../findings-store/postgres.ts';
import { SqliteFindingStore } from '../findings-store/sqlite.ts';
import { StoreHolder } from './store-holder.ts';
import { ApiError } from './status.ts';

describe('the store as the lease holder has it', () => {
  it('answers 503 with a retry delay until a store is opened, and after it closed', async () => {
    const holder = new StoreHolder();
    const refused = await holder.list({}).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toMatchObject({
      code: 503,
      reason: 'ServiceUnavailable',
      details: { retryAfterSeconds: 2 },
    });
    expect(() => holder.currentResourceVersion()).toThrow(ApiError);
    holder.open(new SqliteFindingStore({ path: ':memory:' }));
    expect(holder.isOpen).toBe(true);
    expect((await holder.list({})).items).toEqual([]);
    await holder.close();
    expect(holder.isOpen).toBe(false);
    await expect(holder.get('ns', 'x')).rejects.toBeInstanceOf(ApiError);
  });
});

describe('the store holder over PostgreSQL', () => {
  it('answers 503 while the database cannot be reached, and serves again when it is back', async () => {
    const postgres = await startPostgres();
    try {
      const { url } = await postgres.createDatabase();
      const holder = new StoreHolder();
      holder.open(await PostgresFindingStore.open({ url }));
      expect((await holder.list({})).items).toEqual([]);
      await postgres.down();
      const refused = await holder.list({}).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toMatchObject({
        code: 503,
        reason: 'ServiceUnavailable',
        message: 'the findings database cannot be reached; try again shortly',
      });
      await postgres.up();
      expect((await holder.list({})).items).toEqual([]);
      await holder.close();
    } finally {
      await postgres.stop();
    }
  }, 60_000);

  it('answers 503 naming a refused login while the URL has an old password, then serves with the new', async () => {
    const postgres = await startPostgres();
    try {
      const db = await postgres.createDatabase();
      let url = db.url;
      const holder = new StoreHolder();
      holder.open(await PostgresFindingStore.open({ url: () => url }));
      await postgres.admin(`ALTER ROLE ${db.role} PASSWORD 'rotated'`);
      await postgres.admin(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${db.role}'`,
      );
      const refused = await holder.list({}).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toMatchObject({
        code: 503,
        reason: 'ServiceUnavailable',
        details: { retryAfterSeconds: 2 },
      });
      expect((refused as ApiError).status.message).toMatch(
        /refused this replica's login \(password authentication failed\)/,
      );
      expect((refused as ApiError).status.message).not.toContain(db.role);
      const next = new URL(db.url);
      next.password = 'rotated';
      url = next.href;
      expect((await holder.list({})).items).toEqual([]);
      await holder.close();
    } finally {
      await postgres.stop();
    }
  }, 60_000);
});
