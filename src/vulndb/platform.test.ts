import { describe, expect, it } from 'vitest';
import { DatabaseBuilder } from './database.ts';
import { matchPackage } from './match.ts';
import {
  goImportPlatforms,
  goPlatformOfPurl,
  importsMatchPlatform,
  type GoImportPlatform,
} from './platform.ts';

const windowsOnly: GoImportPlatform = { goos: ['windows'], goarch: [] };
const anyPlatform: GoImportPlatform = { goos: [], goarch: [] };
const linuxArm: GoImportPlatform = { goos: ['linux'], goarch: ['arm', 'arm64'] };

describe('Go platform limits', () => {
  it.each([
    ['no limits apply everywhere', undefined, 'linux', 'amd64', true],
    ['an empty import list applies everywhere', [], 'linux', 'amd64', true],
    ['a Windows-only import does not apply to Linux', [windowsOnly], 'linux', 'amd64', false],
    ['a Windows-only import applies to Windows', [windowsOnly], 'windows', 'amd64', true],
    ['an unknown platform matches every limit', [windowsOnly], '', '', true],
    ['an unknown GOOS still checks GOARCH', [linuxArm], '', 'amd64', false],
    ['both GOOS and GOARCH must match', [linuxArm], 'linux', 'amd64', false],
    ['both GOOS and GOARCH match', [linuxArm], 'linux', 'arm64', true],
    [
      'any import without a limit makes the record apply',
      [windowsOnly, anyPlatform],
      'linux',
      'amd64',
      true,
    ],
    [
      'any import that includes the platform makes it apply',
      [windowsOnly, linuxArm],
      'linux',
      'arm',
      true,
    ],
  ] as const)('%s', (_name, imports, goos, goarch, want) => {
    expect(importsMatchPlatform(imports, { goos, goarch })).toBe(want);
  });

  it('keeps import limits only when some import has one', () => {
    expect(goImportPlatforms(undefined)).toBeUndefined();
    expect(goImportPlatforms({ imports: [{ path: 'a', symbols: ['F'] }] })).toBeUndefined();
    expect(
      goImportPlatforms({
        imports: [
          { path: 'path/filepath', goos: ['windows'] },
          { path: 'os', goarch: ['386'] },
        ],
      }),
    ).toEqual([
      { goos: ['windows'], goarch: [] },
      { goos: [], goarch: ['386'] },
    ]);
    // Values of the wrong type are no limit at all, never a crash.
    expect(goImportPlatforms({ imports: [{ goos: 'windows' }, 7] })).toBeUndefined();
  });

  it.each([
    ['pkg:golang/golang.org/x/net@v0.7.0?goarch=amd64&goos=linux', 'linux', 'amd64'],
    ['pkg:golang/stdlib@v1.21.0?goos=windows#sub/path', 'windows', ''],
    ['pkg:golang/stdlib@v1.21.0', '', ''],
    ['pkg:golang/stdlib@v1.21.0?goos=%E0%A4%A', '', ''],
  ])('reads the platform qualifiers of %s', (purl, goos, goarch) => {
    expect(goPlatformOfPurl(purl)).toEqual({ goos, goarch });
  });
});

describe('matching Go packages with platform limits', () => {
  const builder = new DatabaseBuilder('test');
  builder.addRecord(
    {
      id: 'GO-2023-2185',
      modified: '2024-01-01T00:00:00Z',
      summary: 'Windows only',
      affected: [
        {
          package: { ecosystem: 'Go', name: 'stdlib' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.20.11' }] }],
          ecosystem_specific: { imports: [{ path: 'path/filepath', goos: ['windows'] }] },
        },
      ],
    },
    'GO-2023-2185.json',
  );
  builder.addRecord(
    {
      id: 'GO-2023-1878',
      modified: '2024-01-01T00:00:00Z',
      summary: 'every platform',
      affected: [
        {
          package: { ecosystem: 'Go', name: 'stdlib' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.20.6' }] }],
          ecosystem_specific: { imports: [{ path: 'net/http', symbols: ['Get'] }] },
        },
      ],
    },
    'GO-2023-1878.json',
  );
  const db = builder.build();
  const stdlib = (purl: string | undefined) =>
    matchPackage(db, { ecosystem: 'Go', name: 'stdlib', version: 'v1.19.8', purl })
      .flatMap((f) => f.records)
      .sort();

  it('matches a Windows-only record against a Windows build and an unknown platform only', () => {
    expect(stdlib('pkg:golang/stdlib@v1.19.8?goarch=amd64&goos=linux')).toEqual(['GO-2023-1878']);
    expect(stdlib('pkg:golang/stdlib@v1.19.8?goarch=amd64&goos=windows')).toEqual([
      'GO-2023-1878',
      'GO-2023-2185',
    ]);
    expect(stdlib(undefined)).toEqual(['GO-2023-1878', 'GO-2023-2185']);
  });
});
