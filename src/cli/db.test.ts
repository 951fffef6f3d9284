import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import type { DbStatusJson } from './db.ts';

const main = new URL('./main.ts', import.meta.url).pathname;
const testdata = new URL('../vulndb/testdata/', import.meta.url).pathname;
const osv = join(testdata, 'osv');
const cyclonedx = join(testdata, 'sbom', 'cyclonedx-1.5.json');
const scratch = mkdtempSync(join(tmpdir(), 'ki-db-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the CLI with its own home (so its cache directory) and no XDG_CACHE_HOME. */
async function cli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', main, ...args], {
    env: { PATH: process.env.PATH, HOME: scratch },
    timeout: 60_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

const findings = (stdout: string): string[] =>
  (JSON.parse(stdout) as { findings: { id: string }[] }).findings.map((f) => f.id).sort();

describe('kube-inspector db', { timeout: 120_000 }, () => {
  it('says there is no index yet, then builds one in the cache directory that scans reuse', async () => {
    const empty = await cli(['db', 'status']);
    expect(empty.code).toBe(1);
    expect(empty.stdout).toMatch(/No index in .*\.cache\/kube-inspector\/vulndb/);

    const update = await cli(['db', 'update', '--db', osv]);
    expect(update.code).toBe(0);
    expect(update.stdout).toMatch(/Records:\s+31 \(2 malformed skipped, 1 withdrawn\)/);
    expect(update.stdout).toMatch(/Debian:12\s+6/);

    const status = await cli(['db', 'status', '-o', 'json']);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as DbStatusJson;
    expect(doc.dir).toBe(join(scratch, '.cache', 'kube-inspector', 'vulndb'));
    expect(doc.index).toMatchObject({ records: 31, malformed: 2, withdrawn: 1 });
    expect(doc.index!.byEcosystem).toMatchObject({ 'Debian:12': 6, npm: 4, Go: 3 });
    expect(doc.sources).toEqual([
      expect.objectContaining({ source: osv, records: 31, mode: 'full', lastError: null }),
    ]);

    // No --db: the index of the last update (younger than --db-refresh: not checked).
    const reused = await cli(['scan', 'sbom', cyclonedx, '--format', 'json']);
    const given = await cli(['scan', 'sbom', cyclonedx, '--db', osv, '--format', 'json']);
    expect(findings(reused.stdout)).toHaveLength(7);
    expect(findings(reused.stdout)).toEqual(findings(given.stdout));
  });

  it('scans offline with the index of an unreachable source, and says why it could not update', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const e of readdirSync(osv, { recursive: true, withFileTypes: true })) {
      if (e.isFile())
        files[relative(osv, join(e.parentPath, e.name))] = readFileSync(join(e.parentPath, e.name));
    }
    const zip = zipSync(files);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', etag: '"one"' });
      res.end(zip);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/osv/all.zip`;
    const dir = join(scratch, 'offline');
    const update = await cli(['db', 'update', '--db', url, '--db-dir', dir]);
    expect(update.code).toBe(0);
    server.close();
    await once(server, 'close');

    const offline = await cli([
      'scan',
      'sbom',
      cyclonedx,
      '--db-dir',
      dir,
      '--skip-db-update',
      '--format',
      'json',
    ]);
    expect(offline.code).toBe(1); // findings at the default threshold
    expect(findings(offline.stdout)).toHaveLength(7);
    expect(offline.stderr).not.toMatch(/update failed/);

    // Younger than --db-refresh: the scan does not ask the source.
    const fresh = await cli(['scan', 'sbom', cyclonedx, '--db-dir', dir, '--format', 'json']);
    expect(findings(fresh.stdout)).toHaveLength(7);
    expect(fresh.stderr).not.toMatch(/update failed/);

    const online = await cli([
      'scan',
      'sbom',
      cyclonedx,
      '--db-dir',
      dir,
      '--db-refresh',
      '0s',
      '--format',
      'json',
    ]);
    expect(findings(online.stdout)).toHaveLength(7);
    expect(online.stderr).toMatch(/database update failed, using the index built .*ECONNREFUSED/);

    const again = await cli(['db', 'update', '--db-dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ECONNREFUSED/);
    const status = JSON.parse(
      (await cli(['db', 'status', '--db-dir', dir, '-o', 'json'])).stdout,
    ) as DbStatusJson;
    expect(status.index!.records).toBe(31);
    expect(status.lastRefresh.outcome).toBe('failed');
    expect(status.sources[0]!.lastError).toMatch(/ECONNREFUSED/);
    expect(status.sources[0]!.consecutiveFailures).toBe(2);
  });

  it('updates the index before a scan when it is older than --db-refresh, once, and not with --skip-db-update', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const e of readdirSync(osv, { recursive: true, withFileTypes: true })) {
      if (e.isFile())
        files[relative(osv, join(e.parentPath, e.name))] = readFileSync(join(e.parentPath, e.name));
    }
    const zip = zipSync(files);
    // A zip that is not an OSV export (no change list asked for): one request per update.
    const requests: { path: string | undefined; etag: string | undefined }[] = [];
    const server = createServer((req, res) => {
      requests.push({ path: req.url, etag: req.headers['if-none-match'] });
      if (req.url !== '/advisories.zip') {
        res.writeHead(404);
        res.end();
        return;
      }
      if (req.headers['if-none-match'] === '"one"') {
        res.writeHead(304);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/zip', etag: '"one"' });
      res.end(zip);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/advisories.zip`;
      const dir = join(scratch, 'refresh');
      const scan = (...flags: string[]) =>
        cli(['scan', 'sbom', cyclonedx, '--db-dir', dir, '--format', 'json', ...flags]);
      expect((await cli(['db', 'update', '--db', url, '--db-dir', dir])).code).toBe(0);
      expect(requests).toHaveLength(1);
      const built = (
        JSON.parse(
          (await cli(['db', 'status', '--db-dir', dir, '-o', 'json'])).stdout,
        ) as DbStatusJson
      ).sources[0]!.lastSuccess!;

      // Fresh (the default --db-refresh is 1h): no request.
      expect(findings((await scan()).stdout)).toHaveLength(7);
      expect(requests).toHaveLength(1);

      // Older than --db-refresh: one conditional request before the scan, and the index is
      // confirmed fresh again.
      await new Promise((r) => setTimeout(r, 1100));
      expect(findings((await scan('--db-refresh', '1s')).stdout)).toHaveLength(7);
      expect(requests).toHaveLength(2);
      expect(requests[1]!.etag).toBe('"one"');
      const checked = (
        JSON.parse(
          (await cli(['db', 'status', '--db-dir', dir, '-o', 'json'])).stdout,
        ) as DbStatusJson
      ).sources[0]!.lastSuccess!;
      expect(Date.parse(checked)).toBeGreaterThan(Date.parse(built));

      // Fresh again: no request.
      expect(findings((await scan('--db-refresh', '1h')).stdout)).toHaveLength(7);
      expect(requests).toHaveLength(2);

      // Stale, but offline: no request.
      await new Promise((r) => setTimeout(r, 1100));
      const offline = await scan('--db-refresh', '1s', '--skip-db-update');
      expect(findings(offline.stdout)).toHaveLength(7);
      expect(requests).toHaveLength(2);

      // Another source than the index was built from: updated whatever its age.
      const other = await scan('--db', osv);
      expect(findings(other.stdout)).toHaveLength(7);
      expect(requests).toHaveLength(2);
      expect(
        (
          JSON.parse(
            (await cli(['db', 'status', '--db-dir', dir, '-o', 'json'])).stdout,
          ) as DbStatusJson
        ).sources.map((s) => s.source),
      ).toContain(osv);
    } finally {
      server.close();
    }
  });

  it('reads a mirror of the OSV exports, one source per ecosystem, and names the ones it cannot read', async () => {
    const npm: Record<string, Uint8Array> = {};
    for (const f of readdirSync(join(osv, 'npm'))) npm[f] = readFileSync(join(osv, 'npm', f));
    const zip = zipSync(npm);
    const server = createServer((req, res) => {
      if (req.url === '/mirror/npm/all.zip') {
        res.writeHead(200, { 'content-type': 'application/zip' });
        res.end(zip);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror`;
      const dir = join(scratch, 'mirror');
      const update = await cli([
        'db',
        'update',
        '--db',
        `osv:${base}`,
        '--db-dir',
        dir,
        '-o',
        'json',
      ]);
      expect(update.code).toBe(1);
      const doc = JSON.parse(update.stdout) as DbStatusJson;
      expect(doc.sources.map((s) => s.source)).toContain(`${base}/npm/all.zip`);
      expect(doc.sources.map((s) => s.source)).toContain(`${base}/Red%20Hat/all.zip`);
      expect(doc.sources).toHaveLength(13);
      expect(doc.sources.find((s) => s.source.endsWith('/npm/all.zip'))).toMatchObject({
        records: 4,
        lastError: null,
      });
      expect(doc.sources.find((s) => s.source.endsWith('/Debian/all.zip'))!.lastError).toBe(
        'HTTP 404 Not Found',
      );
      expect(doc.index!.byEcosystem).toEqual({ npm: 4 });
      expect(update.stderr).toMatch(/database source .*\/Debian\/all.zip: HTTP 404 Not Found/);
    } finally {
      server.close();
    }
  });

  it.each([
    [['db'], 2, /Usage: kube-inspector db update/],
    [['db', 'compact'], 2, /unknown db command "compact"/],
    [['db', 'status', '-o', 'yaml'], 2, /--output yaml: expected text or json/],
    [['db', 'update', '--db', 'ftp://mirror/all.zip'], 2, /unsupported scheme "ftp"/],
    [
      ['scan', 'sbom', cyclonedx, '--db-refresh', 'daily', '--db-dir', join(scratch, 'nothing')],
      2,
      /--db-refresh must be a duration such as 30m, 1h or 1h30m, got "daily"/,
    ],
    [
      ['scan', 'sbom', cyclonedx, '--skip-db-update', '--db-dir', join(scratch, 'nothing')],
      2,
      /no vulnerability database in .*nothing: run `kube-inspector db update` once/,
    ],
  ])('refuses %j with a message saying what is wrong', async (args, code, message) => {
    const out = await cli(args);
    expect(out.code).toBe(code);
    expect(`${out.stdout}${out.stderr}`).toMatch(message);
  });
});
