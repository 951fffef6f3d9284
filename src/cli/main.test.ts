import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { version } from '../version.ts';

const main = new URL('./main.ts', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'ki-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const home = mkdtempSync(join(scratch, 'home-'));
  const result = spawnSync(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', main, ...args],
    {
      encoding: 'utf8',
      // A clean environment: no KUBECONFIG, an empty home, no in-cluster variables.
      env: { PATH: process.env.PATH, HOME: home, ...env },
      timeout: 30_000,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Each test starts node processes: allow for a busy machine.
describe('the kube-inspector command', { timeout: 60_000 }, () => {
  it('prints usage with every command on --help and exits 0', () => {
    const { code, stdout } = cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: kube-inspector <command>/m);
    expect(stdout).toMatch(/^\s+controller\s+/m);
    expect(stdout).toMatch(/^\s+version\s+/m);
  });

  it('prints the package version', () => {
    const { code, stdout } = cli(['version']);
    expect(code).toBe(0);
    expect(stdout).toContain(`kube-inspector ${version} (node ${process.versions.node}`);
  });

  it('prints the version as JSON with -o json', () => {
    const { code, stdout } = cli(['version', '-o', 'json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ name: 'kube-inspector', version });
  });

  it('calls itself `kubectl inspector` when run through a file named kubectl-inspector', () => {
    const dir = mkdtempSync(join(scratch, 'plugin-'));
    const plugin = join(dir, 'kubectl-inspector');
    symlinkSync(main, plugin);
    const result = spawnSync(process.execPath, [plugin, '--help'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: kubectl inspector <command>/m);
    const bad = spawnSync(process.execPath, [plugin, 'findings', 'export', '--format', 'xml'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('kubectl inspector findings: --format must be one of csv, json');
  });

  it('lists the database and scanning flags in the controller help', () => {
    const { code, stdout } = cli(['controller', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--vulnerability-db SOURCE',
      '--vulnerability-db-refresh DURATION',
      '--epss FILE',
      '--kev FILE',
      '--scan-cache-dir DIR',
      '--scan-concurrency N',
      '--insecure-registry HOST[:PORT]',
      '--ca-bundle FILE',
      '--admin-namespace NS',
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it('exits 2 and names the flag when a flag value is bad', () => {
    const { code, stderr } = cli(['controller', '--scan-concurrency', 'many']);
    expect(code).toBe(2);
    expect(stderr).toContain('--scan-concurrency must be an integer from 1 to 64, got "many"');
  });

  it('refuses an unknown command with exit code 2 and names it', () => {
    const { code, stderr } = cli(['scan-everything']);
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "scan-everything"');
  });

  it('fails fast with a clear message when no cluster configuration exists', () => {
    const { code, stderr } = cli(['controller', '--once']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /no Kubernetes configuration found \(tried in-cluster service account, .*\.kube\/config\)/,
    );
  });

  it('names a --kubeconfig file that does not exist', () => {
    const { code, stderr } = cli([
      'controller',
      '--once',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'kubeconfig /nonexistent/kubeconfig (from --kubeconfig) does not exist',
    );
  });

  it('names the KUBECONFIG files when none of them exists', () => {
    const { code, stderr } = cli(['controller', '--once'], {
      KUBECONFIG: '/nonexistent/a:/nonexistent/b',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('KUBECONFIG=/nonexistent/a:/nonexistent/b');
  });
});
