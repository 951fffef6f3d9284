import { describe, expect, it } from 'vitest';
import { baseEcosystem, versionOrderFor } from './index.ts';

describe('version order by ecosystem', () => {
  it.each([
    ['Debian:12', 'dpkg'],
    ['Ubuntu:22.04:LTS', 'dpkg'],
    ['Alpine:v3.20', 'apk'],
    ['Wolfi', 'apk'],
    ['Red Hat:enterprise_linux:9::baseos', 'rpm'],
    ['AlmaLinux:9', 'rpm'],
    ['Rocky Linux:9', 'rpm'],
    ['PyPI', 'pep440'],
    ['npm', 'semver'],
    ['Go', 'semver'],
    ['crates.io', 'semver'],
    ['Maven', 'maven'],
  ])('uses the %s order for %s', (ecosystem, name) => {
    expect(versionOrderFor(ecosystem)?.name).toBe(name);
  });

  it('has no order for an ecosystem it does not know', () => {
    expect(versionOrderFor('NuGet')).toBeUndefined();
  });

  it('takes the base ecosystem before the first colon', () => {
    expect(baseEcosystem('Debian:12')).toBe('Debian');
    expect(baseEcosystem('npm')).toBe('npm');
  });

  it('orders the same strings differently in different ecosystems', () => {
    // dpkg: a tilde sorts before the release; SemVer does not know the tilde form
    expect(versionOrderFor('Debian')!.compare('1.0~rc1', '1.0')).toBeLessThan(0);
    // apk: _p is a post-release; PEP 440: 1.0.post1 is too, and 1.0rc1 a pre-release
    expect(versionOrderFor('Alpine')!.compare('1.0_p1', '1.0')).toBeGreaterThan(0);
    expect(versionOrderFor('PyPI')!.compare('1.0rc1', '1.0')).toBeLessThan(0);
  });
});
