import { describe, expect, it } from 'vitest';
import { ecosystemForOs } from './ecosystem.ts';
import { expandSource, OSV_ECOSYSTEMS, OSV_EXPORTS_BASE } from './osv-exports.ts';
import { baseEcosystem } from './version/index.ts';

describe('the OSV exports used by default', () => {
  it('are the ecosystems of the OSV schema that kube-inspector reads, spelled as the schema does', () => {
    // The names of the OSV schema's ecosystem list (ecosystems.json of the schema): the export
    // of each lives at <base>/<name>/all.zip.
    expect([...OSV_ECOSYSTEMS]).toEqual([
      'AlmaLinux',
      'Alpine',
      'Chainguard',
      'Debian',
      'Red Hat',
      'Rocky Linux',
      'Ubuntu',
      'Wolfi',
      'Go',
      'Maven',
      'npm',
      'PyPI',
      'crates.io',
    ]);
  });

  it('cover every ecosystem an inventory selects', () => {
    const releases = [
      { id: 'debian', versionId: '12' },
      { id: 'ubuntu', versionId: '22.04' },
      { id: 'alpine', versionId: '3.20.3' },
      { id: 'rhel', versionId: '9.4' },
      { id: 'almalinux', versionId: '9.3' },
      { id: 'rocky', versionId: '8.10' },
      { id: 'wolfi', versionId: '20230201' },
      { id: 'chainguard', versionId: '20230214' },
    ];
    const selected = releases.map((r) => baseEcosystem(ecosystemForOs(r)!));
    const languages = ['npm', 'PyPI', 'Go', 'Maven', 'crates.io'];
    for (const e of [...selected, ...languages]) expect(OSV_ECOSYSTEMS).toContain(e);
  });

  it('expand osv into one export per ecosystem, at the project or at a mirror', () => {
    expect(OSV_EXPORTS_BASE).toBe('https://osv-vulnerabilities.storage.googleapis.com/');
    const osv = expandSource('osv');
    expect(osv).toHaveLength(OSV_ECOSYSTEMS.length);
    expect(osv).toContain('https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip');
    expect(osv).toContain('https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip');
    expect(osv).toContain('https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip');
    expect(expandSource('osv:http://127.0.0.1:8080/osv')).toContain(
      'http://127.0.0.1:8080/osv/Rocky%20Linux/all.zip',
    );
    expect(expandSource('osv:http://127.0.0.1:8080/osv/')[0]).toBe(
      'http://127.0.0.1:8080/osv/AlmaLinux/all.zip',
    );
    expect(expandSource('/srv/osv/Debian/all.zip')).toEqual(['/srv/osv/Debian/all.zip']);
  });
});
