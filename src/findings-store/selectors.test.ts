import { describe, expect, it } from 'vitest';
import {
  SelectorError,
  escapeFieldValue,
  findingFields,
  labelKeyErrors,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  unescapeFieldValue,
  unsupportedFields,
  type LabelRequirement,
} from './selectors.ts';

describe('parseLabelSelector', () => {
  const parsed: [string, LabelRequirement[]][] = [
    ['', []],
    ['   ', []],
    ['a=b', [{ key: 'a', operator: 'Equals', value: 'b' }]],
    ['a==b', [{ key: 'a', operator: 'Equals', value: 'b' }]],
    ['a!=b', [{ key: 'a', operator: 'NotEquals', value: 'b' }]],
    ['a=', [{ key: 'a', operator: 'Equals', value: '' }]],
    [
      'a=,b',
      [
        { key: 'a', operator: 'Equals', value: '' },
        { key: 'b', operator: 'Exists' },
      ],
    ],
    ['a', [{ key: 'a', operator: 'Exists' }]],
    ['!a', [{ key: 'a', operator: 'DoesNotExist' }]],
    [' ! a ', [{ key: 'a', operator: 'DoesNotExist' }]],
    ['a in (x,y)', [{ key: 'a', operator: 'In', values: ['x', 'y'] }]],
    ['a in(y, x ,y)', [{ key: 'a', operator: 'In', values: ['x', 'y'] }]],
    ['a notin (x)', [{ key: 'a', operator: 'NotIn', values: ['x'] }]],
    ['a in ()', [{ key: 'a', operator: 'In', values: [''] }]],
    ['a in (,x)', [{ key: 'a', operator: 'In', values: ['', 'x'] }]],
    ['a in (x,)', [{ key: 'a', operator: 'In', values: ['', 'x'] }]],
    ['a>5', [{ key: 'a', operator: 'GreaterThan', value: '5' }]],
    ['a < 10', [{ key: 'a', operator: 'LessThan', value: '10' }]],
    [
      'kubeinspector.io/severity in (CRITICAL,HIGH), !kubeinspector.io/run,x.y/z!=1',
      [
        { key: 'kubeinspector.io/severity', operator: 'In', values: ['CRITICAL', 'HIGH'] },
        { key: 'kubeinspector.io/run', operator: 'DoesNotExist' },
        { key: 'x.y/z', operator: 'NotEquals', value: '1' },
      ],
    ],
    ['in=notin', [{ key: 'in', operator: 'Equals', value: 'notin' }]],
    [
      'a=b,a!=c',
      [
        { key: 'a', operator: 'Equals', value: 'b' },
        { key: 'a', operator: 'NotEquals', value: 'c' },
      ],
    ],
  ];
  it.each(parsed)('parses %j', (text, requirements) => {
    expect(parseLabelSelector(text).requirements).toEqual(requirements);
  });

  const refused: [string, RegExp][] = [
    ['a=b,', /expected: identifier after ','/],
    [',a', /expected: !, identifier, or 'end of string'/],
    ['a=b c', /found 'c', expected: ',' or 'end of string'/],
    ['a b', /found 'b', expected: in, notin/],
    ['!a=b', /found '=', expected: ',' or 'end of string'/],
    ['a in x', /expected: '\('/],
    ['a in (x', /expected: ',' or '\)'/],
    ['a in (x y)', /expected: ',' or '\)'/],
    ['a = = b', /found '=', expected: identifier/],
    ['a (b)', /expected: in, notin, =, ==, !=, gt, lt/],
    ['a>b', /must be an integer/],
    ['a>99999999999999999999', /must be an integer/],
    ['-a=b', /key "-a": name part must consist of alphanumeric/],
    ['Example.com/a=b', /key "Example.com\/a": prefix part a lowercase RFC 1123 subdomain/],
    ['/a', /prefix part must be non-empty/],
    ['a/', /name part must be non-empty/],
    ['a/b/c', /a qualified name/],
    [`${'k'.repeat(64)}`, /name part must be no more than 63 characters/],
    ['a=-b', /value "-b" of key "a": a valid label must be an empty string/],
    [`a=${'v'.repeat(64)}`, /must be no more than 63 characters/],
    ['a in (ok,-no)', /value "-no" of key "a"/],
  ];
  it.each(refused)('refuses %j naming what is wrong', (text, message) => {
    expect(() => parseLabelSelector(text)).toThrow(SelectorError);
    expect(() => parseLabelSelector(text)).toThrow(message);
  });

  it('accepts a 253-character prefix and a 63-character name', () => {
    const prefix = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(prefix).toHaveLength(253);
    expect(labelKeyErrors(`${prefix}/${'n'.repeat(63)}`)).toEqual([]);
    expect(labelKeyErrors(`${prefix}x/n`)).toEqual([
      'prefix part must be no more than 253 characters',
    ]);
  });
});

describe('matchesLabels', () => {
  const labels = { sev: 'CRITICAL', n: '7', empty: '' };
  const cases: [string, boolean][] = [
    ['', true],
    ['sev=CRITICAL', true],
    ['sev==HIGH', false],
    ['sev!=HIGH', true],
    ['missing!=x', true],
    ['sev in (HIGH,CRITICAL)', true],
    ['missing in (x)', false],
    ['sev notin (CRITICAL)', false],
    ['missing notin (x)', true],
    ['sev', true],
    ['missing', false],
    ['!sev', false],
    ['!missing', true],
    ['empty=', true],
    ['missing=', false],
    ['empty in ()', true],
    ['n>6', true],
    ['n>7', false],
    ['n<8', true],
    ['sev>1', false],
    ['missing<1', false],
    ['sev=CRITICAL,n>10', false],
  ];
  it.each(cases)('%j on {sev: CRITICAL, n: 7, empty: ""} is %s', (text, expected) => {
    expect(matchesLabels(parseLabelSelector(text), labels)).toBe(expected);
  });

  it('treats missing labels as an empty map', () => {
    expect(matchesLabels(parseLabelSelector('!a'), undefined)).toBe(true);
    expect(matchesLabels(parseLabelSelector('a'), undefined)).toBe(false);
  });
});

describe('parseFieldSelector', () => {
  it.each([
    ['', []],
    [',', []],
    ['metadata.name=a', [{ field: 'metadata.name', operator: 'Equals', value: 'a' }]],
    ['metadata.name==a', [{ field: 'metadata.name', operator: 'Equals', value: 'a' }]],
    ['status.severity!=LOW', [{ field: 'status.severity', operator: 'NotEquals', value: 'LOW' }]],
    ['metadata.name=', [{ field: 'metadata.name', operator: 'Equals', value: '' }]],
    [
      'status.resource.id=a\\,b\\=c\\\\d,metadata.namespace=ns',
      [
        { field: 'metadata.namespace', operator: 'Equals', value: 'ns' },
        { field: 'status.resource.id', operator: 'Equals', value: 'a,b=c\\d' },
      ],
    ],
  ])('parses %j', (text, requirements) => {
    expect(parseFieldSelector(text).requirements).toEqual(requirements);
  });

  it.each([
    ['metadata.name', /can't understand 'metadata.name'/],
    ['a=b=c', /unescaped character =/],
    ['a=b\\x', /invalid escape sequence: \\x/],
    ['a=b\\', /invalid escape sequence: \\/],
  ])('refuses %j', (text, message) => {
    expect(() => parseFieldSelector(text)).toThrow(message);
  });

  it('escapes what it unescapes', () => {
    for (const v of ['plain', 'a,b', 'x=y', 'back\\slash', '\\,=']) {
      expect(unescapeFieldValue(escapeFieldValue(v))).toBe(v);
      expect(
        parseFieldSelector(`metadata.name=${escapeFieldValue(v)}`).requirements[0]!.value,
      ).toBe(v);
    }
  });

  it('names the fields a Finding cannot be selected on', () => {
    const selector = parseFieldSelector('metadata.name=a,spec.attributes=x,status.severity=LOW,x=');
    expect(unsupportedFields(selector)).toEqual(['spec.attributes', 'x']);
  });
});

describe('matchesFields', () => {
  const finding = {
    metadata: { name: 'f1', namespace: 'ns' },
    status: {
      severity: 'HIGH',
      status: 'ACTIVE',
      type: 'PACKAGE_VULNERABILITY',
      vulnerabilityId: 'CVE-2024-1',
      resource: { type: 'NODE', id: 'node-a' },
    },
  };
  const fields = findingFields(finding);
  it('reads every selectable field, missing ones as ""', () => {
    expect(fields).toEqual({
      'metadata.name': 'f1',
      'metadata.namespace': 'ns',
      'status.severity': 'HIGH',
      'status.status': 'ACTIVE',
      'status.type': 'PACKAGE_VULNERABILITY',
      'status.vulnerabilityId': 'CVE-2024-1',
      'status.resource.type': 'NODE',
      'status.resource.id': 'node-a',
      'status.rulesPackage': '',
    });
  });
  it.each([
    ['', true],
    ['metadata.name=f1', true],
    ['metadata.name=f2', false],
    ['metadata.namespace!=ns', false],
    ['status.severity=HIGH,status.resource.type=NODE', true],
    ['status.severity=HIGH,status.resource.type!=NODE', false],
    ['status.rulesPackage=', true],
    ['status.rulesPackage!=', false],
    ['status.rulesPackage!=cve', true],
  ])('%j is %s', (text, expected) => {
    expect(matchesFields(parseFieldSelector(text), fields)).toBe(expected);
  });
});
