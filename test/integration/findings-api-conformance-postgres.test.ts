// The findings API conformance suite (findings-api-conformance.test.ts: kubectl, RBAC, the
// garbage collector, namespace deletion, quotas, an informer across a server restart) on the
// PostgreSQL store: a real PostgreSQL (Debian's package) on loopback, one database for the
// suite, reopened on the same database when the suite restarts the server.
import { PostgresFindingStore } from '../../src/findings-store/postgres.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { useConformanceStore } from './findings-api-conformance.test.ts';

let server: TestPostgres | undefined;
let url: string | undefined;

useConformanceStore({
  async open() {
    server ??= await startPostgres();
    url ??= (await server.createDatabase()).url;
    return PostgresFindingStore.open({ url });
  },
  async stop() {
    await server?.stop();
  },
});
