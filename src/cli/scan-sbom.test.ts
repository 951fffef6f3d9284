import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';

const main = new URL('./main.ts', import.meta.url).pathname;
const testdata = new URL('../vulndb/testdata/', import.meta.url).pathname;
const db = join(testdata, 'osv');
const cyclonedx = join(testdata, 'sbom', 'cyclonedx-1.5.json');
const spdx = join(testdata, 'sbom', 'spdx-2.3.json');
const scratch = mkdtempSync(join(tmpdir(), 'ki-scan-sbom-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the CLI asynchronously (so an in-process HTTP server can answer it). */
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

interface JsonReport {
  findings: {
    id: string;
    aliases: string[];
    purl: string;
    installedVersion: string;
    fixedVersion: string | null;
    fixAvailable: string;
    severity: string;
    cvss: { version: string; vector: string; baseScore: number } | null;
    epss: number | null;
    exploitAvailable: string;
  }[];
  packages: number;
  database: { records: number; malformed: number };
}

describe('kube-inspector scan sbom', { timeout: 60_000 }, () => {
  it('prints a table of findings and exits 1 when any finding is at or above the default threshold', async () => {
    const { code, stdout, stderr } = await cli(['scan', 'sbom', cyclonedx, '--db', db]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^SEVERITY\s+ID\s+PACKAGE\s+INSTALLED\s+FIXED\s+ECOSYSTEM$/m);
    expect(stdout).toMatch(
      /^CRITICAL\s+CVE-2021-44228\s+org\.apache\.logging\.log4j:log4j-core\s+2\.14\.1\s+2\.15\.0\s+Maven$/m,
    );
    expect(stdout).toMatch(
      /^HIGH\s+CVE-2024-6387\s+openssh-server\s+1:9\.2p1-2\+deb12u2\s+1:9\.2p1-2\+deb12u3\s+Debian:12$/m,
    );
    expect(stdout).toMatch(
      /^7 findings \(1 CRITICAL, 3 HIGH, 1 INFORMATIONAL, 2 UNTRIAGED\) in 8 packages; 3 components skipped/m,
    );
    expect(stderr).toMatch(/2 malformed skipped/);
  });

  it('writes JSON findings with ids, aliases, the purl as the SBOM gave it, versions and scores', async () => {
    const { code, stdout } = await cli(['scan', 'sbom', cyclonedx, '--db', db, '--format', 'json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as JsonReport;
    expect(report.packages).toBe(8);
    expect(report.database.malformed).toBe(2);
    const ssh = report.findings.find((f) => f.id === 'CVE-2024-6387')!;
    expect(ssh).toMatchObject({
      aliases: ['DSA-5724-1'],
      purl: 'pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u2?arch=amd64&distro=debian-12&upstream=openssh%409.2p1-2%2Bdeb12u2',
      installedVersion: '1:9.2p1-2+deb12u2',
      fixedVersion: '1:9.2p1-2+deb12u3',
      fixAvailable: 'YES',
      severity: 'HIGH',
      cvss: {
        version: '3.1',
        vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H',
        baseScore: 8.1,
      },
    });
    const apt = report.findings.find((f) => f.id === 'CVE-2011-3374')!;
    expect(apt).toMatchObject({
      fixedVersion: null,
      fixAvailable: 'NO',
      severity: 'INFORMATIONAL',
    });
  });

  it('reads SPDX 2.3 documents as well', async () => {
    const { code, stdout } = await cli(['scan', 'sbom', spdx, '--db', db, '--format', 'json']);
    expect(code).toBe(1);
    const ids = (JSON.parse(stdout) as JsonReport).findings.map((f) => f.id).sort();
    expect(ids).toEqual([
      'CVE-2023-32681',
      'CVE-2023-42366',
      'CVE-2024-4741',
      'GHSA-g98v-hv3f-hcfr',
      'RHSA-2024:2447',
    ]);
  });

  it('exits 0 when nothing is at or above the threshold', async () => {
    const { code, stdout } = await cli([
      'scan',
      'sbom',
      spdx,
      '--db',
      db,
      '--severity-threshold',
      'critical',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/0 at or above CRITICAL$/m);
  });

  it('exits 0 for an SBOM without vulnerable packages', async () => {
    const clean = join(scratch, 'clean.json');
    writeFileSync(
      clean,
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        components: [{ type: 'library', name: 'lodash', purl: 'pkg:npm/lodash@4.17.21' }],
      }),
    );
    const { code, stdout } = await cli(['scan', 'sbom', clean, '--db', db]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^0 findings in 1 packages/m);
  });

  it('adds EPSS scores and known exploitation from the enrichment files', async () => {
    const epss = join(scratch, 'epss.csv');
    const kev = join(scratch, 'kev.json');
    writeFileSync(
      epss,
      '#model_version:v2023.03.01\ncve,epss,percentile\nCVE-2021-44228,0.97565,0.99995\n',
    );
    writeFileSync(kev, JSON.stringify({ vulnerabilities: [{ cveID: 'CVE-2021-44228' }] }));
    const { stdout } = await cli([
      'scan',
      'sbom',
      cyclonedx,
      '--db',
      db,
      '--format',
      'json',
      '--epss',
      epss,
      '--kev',
      kev,
    ]);
    const log4j = (JSON.parse(stdout) as JsonReport).findings.find(
      (f) => f.id === 'CVE-2021-44228',
    )!;
    expect(log4j).toMatchObject({ epss: 0.97565, exploitAvailable: 'YES' });
  });

  it('loads the database from a zip file and from an HTTP URL', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const e of readdirSync(db, { recursive: true, withFileTypes: true })) {
      if (e.isFile())
        files[relative(db, join(e.parentPath, e.name))] = readFileSync(join(e.parentPath, e.name));
    }
    const zip = zipSync(files);
    const zipFile = join(scratch, 'all.zip');
    writeFileSync(zipFile, zip);
    const fromZip = await cli(['scan', 'sbom', cyclonedx, '--db', zipFile, '--format', 'json']);
    expect((JSON.parse(fromZip.stdout) as JsonReport).findings).toHaveLength(7);

    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip' });
      res.end(zip);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/all.zip`;
      const fromUrl = await cli(['scan', 'sbom', cyclonedx, '--db', url, '--format', 'json']);
      expect((JSON.parse(fromUrl.stdout) as JsonReport).findings).toHaveLength(7);
    } finally {
      server.close();
    }
  });

  it.each([
    [['scan', 'sbom', cyclonedx, '--db-dir', join(scratch, 'no-index-here')], /--db is required/],
    [['scan', 'sbom', '--db', db], /expected exactly one SBOM file/],
    [
      ['scan', 'sbom', cyclonedx, '--db', db, '--format', 'xml'],
      /--format xml: expected table or json/,
    ],
    [
      ['scan', 'sbom', cyclonedx, '--db', db, '--severity-threshold', 'SEVERE'],
      /--severity-threshold SEVERE: expected one of CRITICAL, HIGH/,
    ],
    [['scan', 'sbom', cyclonedx, '--db', db, '--colour'], /Unknown option '--colour'/],
    [
      ['scan', 'sbom', '/nonexistent/sbom.json', '--db', db],
      /SBOM \/nonexistent\/sbom.json: ENOENT/,
    ],
    [
      ['scan', 'sbom', join(db, 'npm', 'GHSA-35jh-r3h4-6jhm.json'), '--db', db],
      /neither a CycloneDX nor an SPDX JSON document/,
    ],
    [['scan', 'sbom', cyclonedx, '--db', '/nonexistent/db'], /--db \/nonexistent\/db: ENOENT/],
    [
      ['scan', 'sbom', cyclonedx, '--db', 'http://127.0.0.1:9/all.zip'],
      /--db http:\/\/127.0.0.1:9\/all.zip: /,
    ],
    [['scan', 'teapot'], /unknown scan target "teapot"/],
  ])('exits 2 with a message saying what is wrong (%j)', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('refuses an SBOM that is not JSON', async () => {
    const bad = join(scratch, 'bad.json');
    writeFileSync(bad, '<bom/>');
    const { code, stderr } = await cli(['scan', 'sbom', bad, '--db', db]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/bad\.json: not JSON/);
  });

  it('lists its targets on scan --help and exits 2 without a target', async () => {
    const helpRun = await cli(['scan', '--help']);
    expect(helpRun.code).toBe(0);
    expect(helpRun.stdout).toMatch(/^Targets: .*\bsbom\b/m);
    const bare = await cli(['scan']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/missing scan target/);
  });

  it('prints its options on scan sbom --help', async () => {
    const { code, stdout } = await cli(['scan', 'sbom', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: kube-inspector scan sbom <file> --db <dir\|zip\|url>/m);
  });
});
