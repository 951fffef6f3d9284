// The collector against root filesystems holding real package databases (test/fixtures/images:
// a Debian 12 dpkg status, an rpm database written by rpm itself, an Alpine apk `installed`),
// with the package managers' own query tools as the reference where they are installed.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, HostRootError, hostRelative, sources } from './collect.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'images');
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A root filesystem with `files` (path → fixture file or text). */
function rootfs(files: Record<string, { fixture: string } | string>): string {
  const root = mkdtempSync(join(tmpdir(), 'agent-rootfs-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (typeof content === 'string') writeFileSync(join(root, path), content);
    else copyFileSync(join(fixtures, content.fixture), join(root, path));
  }
  return root;
}

const rhel = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="9.4"\n';
const limit = { timeLimitMs: 60_000, kernelVersion: '6.1.0-test', architecture: 'amd64' };

function tool(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

describe('collect', () => {
  it('a Debian root: the OS and every installed dpkg package, as dpkg-query lists them', async () => {
    const root = rootfs({
      'usr/lib/os-release': { fixture: 'dpkg/os-release' },
      'var/lib/dpkg/status': { fixture: 'dpkg/status' },
    });
    const c = await collect(root, limit);
    expect(c.os).toMatchObject({ family: 'debian', version: '12', ecosystem: 'Debian:12' });
    expect(c.errors).toEqual([]);
    const reference = tool('dpkg-query', [
      `--admindir=${join(root, 'var/lib/dpkg')}`,
      '-W',
      '-f',
      '${db:Status-Status} ${Package} ${Version}\\n',
    ])
      .split('\n')
      .filter((l) => l.startsWith('installed '))
      .map((l) => l.slice('installed '.length))
      .sort();
    expect(reference.length).toBeGreaterThan(5);
    expect(c.packages.map((p) => `${p.name} ${p.version}`).sort()).toEqual(reference);
    expect(c.kernelVersion).toBe('6.1.0-test');
  });

  it('an rpm database written by rpm: the packages rpm -qa lists, with epochs', async () => {
    const root = rootfs({
      'etc/os-release': rhel,
      'var/lib/rpm/rpmdb.sqlite': { fixture: 'rpm/rpmdb.sqlite' },
    });
    const c = await collect(root, limit);
    const reference = tool('rpm', [
      '--dbpath',
      join(root, 'var/lib/rpm'),
      '-qa',
      '--qf',
      '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n',
    ])
      .trim()
      .split('\n')
      .map((l) => l.replace(' 0:', ' '))
      .sort();
    expect(reference).toHaveLength(3);
    expect(c.packages.map((p) => `${p.name} ${p.version} ${p.arch}`).sort()).toEqual(reference);
    expect(c.os?.ecosystem).toBe('Red Hat:9');
  });

  it('an Alpine root: apk installed packages with their origins', async () => {
    const root = rootfs({
      'etc/os-release': { fixture: 'apk/os-release' },
      'lib/apk/db/installed': { fixture: 'apk/installed' },
    });
    const c = await collect(root, limit);
    expect(c.os?.ecosystem).toBe('Alpine:v3.20');
    expect(c.packages).toHaveLength(4);
    expect(c.packages.every((p) => p.type === 'apk' && p.sourceName !== undefined)).toBe(true);
    expect(c.errors).toEqual([]);
  });

  it('a corrupt rpm database costs only the rpm source (READ_ERROR); dpkg packages are still read', async () => {
    const root = rootfs({
      'usr/lib/os-release': { fixture: 'dpkg/os-release' },
      'var/lib/dpkg/status': { fixture: 'dpkg/status' },
      'var/lib/rpm/rpmdb.sqlite': 'SQLite format 3\0' + 'garbage'.repeat(100),
      'usr/lib/sysimage/rpm/Packages': Buffer.alloc(4096, 0xff).toString('latin1'),
    });
    const c = await collect(root, limit);
    expect(c.packages.length).toBeGreaterThan(5);
    expect(c.errors).toHaveLength(1);
    expect(c.errors[0]).toMatchObject({ code: 'READ_ERROR' });
    expect(c.errors[0]?.message).toMatch(/^rpm: /);
    expect(c.errors[0]?.message).toContain(
      'unsupported rpm database var/lib/rpm/rpmdb.sqlite (SQLite)',
    );
    expect(c.errors[0]?.message).toContain(
      'unsupported rpm database usr/lib/sysimage/rpm/Packages (Berkeley DB)',
    );
  });

  it('as a non-root user (as the DaemonSet runs), an unreadable database is a READ_ERROR naming why', () => {
    const root = rootfs({
      'usr/lib/os-release': { fixture: 'dpkg/os-release' },
      'var/lib/dpkg/status': { fixture: 'dpkg/status' },
      'var/lib/rpm/rpmdb.sqlite': { fixture: 'rpm/rpmdb.sqlite' },
    });
    chmodSync(root, 0o755);
    chmodSync(join(root, 'var/lib/rpm/rpmdb.sqlite'), 0o000);
    // The child loads the collector while it still has the test's own rights (the checkout may
    // sit in a private folder nobody else can read), then, when it runs as root, becomes nobody
    // before it collects: root reads everything.
    const code = `import { collect } from ${JSON.stringify(join(import.meta.dirname, 'collect.ts'))};
      if (process.getuid() === 0) { process.setgroups([]); process.setgid(65534); process.setuid(65534); }
      const c = await collect(${JSON.stringify(root)}, { timeLimitMs: 60000 });
      console.log(JSON.stringify({ uid: process.getuid(), packages: c.packages.length, errors: c.errors }));`;
    const args = ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', code];
    const out = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as {
      uid: number;
      packages: number;
      errors: { code: string; message: string }[];
    };
    expect(out.uid).not.toBe(0);
    expect(out.packages).toBeGreaterThan(5);
    expect(out.errors).toEqual([
      {
        code: 'READ_ERROR',
        message: expect.stringMatching(
          /^rpm: var\/lib\/rpm\/rpmdb.sqlite: EACCES: permission denied/,
        ) as string,
      },
    ]);
  });

  it('an OS without advisories is UNSUPPORTED_OS, with its packages still listed', async () => {
    const root = rootfs({
      'etc/os-release': 'NAME=Plan9\nID=plan9\nVERSION_ID=4\nPRETTY_NAME="Plan 9 4th edition"\n',
      'var/lib/dpkg/status': { fixture: 'dpkg/status' },
    });
    const c = await collect(root, limit);
    expect(c.errors).toEqual([
      {
        code: 'UNSUPPORTED_OS',
        message: 'Plan 9 4th edition (ID=plan9 VERSION_ID=4) is not a supported OS',
      },
    ]);
    expect(c.packages.length).toBeGreaterThan(5);
  });

  it('an os-release symlink pointing out of the host root is not followed: the OS is unknown', async () => {
    const root = rootfs({ 'var/lib/dpkg/status': { fixture: 'dpkg/status' } });
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc/os-release', join(root, 'etc/os-release'));
    const c = await collect(root, limit);
    expect(c.os).toBeUndefined();
    expect(c.errors.map((e) => e.code)).toEqual(['UNSUPPORTED_OS']);
  });

  it('language packages under the default directories and the custom paths, with where they were found', async () => {
    const root = rootfs({
      'usr/lib/os-release': { fixture: 'dpkg/os-release' },
      'usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA': {
        fixture: 'python/PyYAML-6.0.METADATA',
      },
      'opt/app/lib/commons-cli-1.5.0.jar': { fixture: 'java/commons-cli-1.5.0.jar' },
    });
    const c = await collect(root, {
      ...limit,
      customPaths: ['/opt/app', '/srv/missing', 'opt/relative'],
    });
    expect(c.packages.map((p) => `${p.type} ${p.name} ${p.version} ${p.filePath}`).sort()).toEqual([
      'maven commons-cli 1.5.0 opt/app/lib/commons-cli-1.5.0.jar',
      'pypi PyYAML 6.0 usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA',
    ]);
    expect(c.errors).toEqual([
      {
        code: 'READ_ERROR',
        message: 'custom path opt/relative is not a directory path inside the host root; skipped',
      },
      {
        code: 'READ_ERROR',
        message:
          'custom path /srv/missing does not exist under the host root (is it mounted into the agent?)',
      },
    ]);
  });

  it('past the time limit the sources not yet read are named and what was read is kept', async () => {
    const root = rootfs({
      'etc/os-release': rhel,
      'var/lib/dpkg/status': { fixture: 'dpkg/status' },
      'var/lib/rpm/rpmdb.sqlite': { fixture: 'rpm/rpmdb.sqlite' },
      'lib/apk/db/installed': { fixture: 'apk/installed' },
    });
    // Each look at the clock is one second later: dpkg and rpm start in time, apk does not.
    let t = 0;
    const c = await collect(root, { ...limit, timeLimitMs: 2_500, now: () => (t += 1000) - 1000 });
    expect(c.packages.map((p) => p.type).filter((x, i, a) => a.indexOf(x) === i)).toEqual([
      'deb',
      'rpm',
    ]);
    expect(c.errors).toEqual([
      {
        code: 'COLLECTION_TIME_LIMIT_EXCEEDED',
        message:
          'collection stopped at the 3 s time limit; not read: apk, /usr/lib, /usr/lib64, /usr/local/lib, /usr/local/lib64',
      },
    ]);
  });

  it('a host root that is missing is an error naming it, not an empty inventory', async () => {
    await expect(collect('/nonexistent/host', limit)).rejects.toThrow(HostRootError);
    await expect(collect('/nonexistent/host', limit)).rejects.toThrow(
      'host root /nonexistent/host does not exist',
    );
  });

  it('host paths stay inside the host root', () => {
    expect(hostRelative('/opt/app/')).toBe('opt/app');
    expect(hostRelative('/opt/./x//y')).toBe('opt/x/y');
    // `..` cannot climb above the root: /../etc is the host's /etc.
    expect(hostRelative('/../etc')).toBe('etc');
    expect(hostRelative('/a/../../..//etc/')).toBe('etc');
    expect(hostRelative('relative')).toBeUndefined();
    expect(sources(['/usr/lib', '/opt/a', '/opt/a/']).map((s) => s.name)).toEqual([
      'dpkg',
      'rpm',
      'apk',
      '/usr/lib',
      '/usr/lib64',
      '/usr/local/lib',
      '/usr/local/lib64',
      '/opt/a',
    ]);
  });
});
