import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexReader, IndexWriter, versionBounds, versionSpan } from './advisory-index.ts';
import { prefetchKey } from './database.ts';
import { parseOsvRecord, type Advisory, type AffectedPackage } from './osv.ts';
import { dpkgKey, semverKey } from './version/index.ts';

function advisory(id: string, affected: object[]): Advisory {
  const r = parseOsvRecord({ id, modified: '2024-01-01T00:00:00Z', affected });
  if (!r.ok) throw new Error(r.error);
  return r.advisory;
}

function entry(affected: object): AffectedPackage {
  return advisory('X-1', [affected]).affected[0]!;
}

const span = (affected: object): ReturnType<typeof versionSpan> => {
  const a = entry(affected);
  return versionSpan(a, versionBounds(a));
};

describe('the span of versions an index entry can affect', () => {
  it.each([
    {
      name: 'from the lowest introduced to the highest fix',
      affected: {
        package: { ecosystem: 'npm', name: 'a' },
        ranges: [
          {
            type: 'SEMVER',
            events: [{ introduced: '1.2.0' }, { fixed: '1.4.0' }, { introduced: '0.9.0' }],
          },
          { type: 'SEMVER', events: [{ introduced: '2.0.0' }, { last_affected: '2.1.0' }] },
        ],
      },
      expected: [semverKey('0.9.0'), semverKey('2.1.0')],
    },
    {
      name: 'from the empty key for introduced 0, open above when a range is never fixed',
      affected: {
        package: { ecosystem: 'Debian:12', name: 'a' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
      },
      expected: ['', null],
    },
    {
      name: 'widened by the bounds of the versions list',
      affected: {
        package: { ecosystem: 'Debian:12', name: 'a' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0-1' }, { fixed: '1.2-1' }] }],
        versions: ['0.9-1', '1.0-1', '3.0-1'],
      },
      expected: [dpkgKey('0.9-1'), dpkgKey('3.0-1')],
    },
  ])('is $name', ({ affected, expected }) => {
    expect(span(affected)).toEqual(expected);
  });

  it.each([
    {
      name: 'an ecosystem whose order has no keys',
      affected: {
        package: { ecosystem: 'Maven', name: 'g:a' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }],
      },
    },
    {
      name: 'a SEMVER range of a distribution package (another order than the ecosystem’s)',
      affected: {
        package: { ecosystem: 'Debian:12', name: 'a' },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }],
      },
    },
    {
      name: 'an event the order cannot read',
      affected: {
        package: { ecosystem: 'npm', name: 'a' },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0' }] }],
      },
    },
    {
      name: 'a versions list holding a version the order cannot read',
      affected: {
        package: { ecosystem: 'npm', name: 'a' },
        versions: ['1.0.0', 'latest'],
      },
    },
  ])('is unknown (the entry is always read) for $name', ({ affected }) => {
    expect(span(affected)).toBeUndefined();
  });
});

describe('an index lookup with the installed version', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('leaves out the entries whose span excludes the version, and only those', () => {
    dir = mkdtempSync(join(tmpdir(), 'index-span-'));
    const path = join(dir, 'advisories.sqlite');
    const writer = new IndexWriter(path);
    const source = writer.beginSource('test', 1, {});
    const ranged = (id: string, introduced: string, fixed: string): Advisory =>
      advisory(id, [
        {
          package: { ecosystem: 'npm', name: 'left-pad' },
          ranges: [{ type: 'SEMVER', events: [{ introduced }, { fixed }] }],
        },
      ]);
    source.addAdvisory(ranged('A-1', '0', '1.2.0'));
    source.addAdvisory(ranged('A-2', '2.0.0', '2.5.0'));
    source.addAdvisory(
      advisory('A-3', [
        { package: { ecosystem: 'npm', name: 'left-pad' }, versions: ['3.0.0', '3.0.1'] },
      ]),
    );
    // Maven's order has no keys: its entries are returned whatever the version.
    source.addAdvisory(
      advisory('M-1', [
        {
          package: { ecosystem: 'Maven', name: 'left-pad' },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }],
        },
      ]),
    );
    writer.finish();
    const reader = new IndexReader(path);
    try {
      const ids = (ecosystem: string, version: string | undefined): string[] => {
        const found = reader.prefetch([[ecosystem, 'left-pad', version]]);
        const entries = found.get(prefetchKey(ecosystem, 'left-pad', version)) ?? [];
        return entries.map((e) => e.advisory.id).sort();
      };
      expect(ids('npm', '1.1.9')).toEqual(['A-1']);
      expect(ids('npm', '1.2.0')).toEqual(['A-1']); // the fix is the span's upper end
      expect(ids('npm', '1.5.0')).toEqual([]);
      expect(ids('npm', '2.4.0')).toEqual(['A-2']);
      expect(ids('npm', '3.0.1')).toEqual(['A-3']);
      expect(ids('npm', '3.0.2')).toEqual([]);
      // A version the order cannot read, or none: every entry of the package.
      expect(ids('npm', 'not-semver')).toEqual(['A-1', 'A-2', 'A-3']);
      expect(ids('npm', undefined)).toEqual(['A-1', 'A-2', 'A-3']);
      expect(ids('Maven', '5.0')).toEqual(['M-1']);
    } finally {
      reader.close();
    }
  });
});
