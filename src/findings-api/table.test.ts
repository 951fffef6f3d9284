import { describe, expect, it } from 'vitest';
import type { StoredFinding } from '../findings-store/store.ts';
import {
  cell,
  columnDefinitions,
  humanDuration,
  parseIncludeObject,
  partialMetadata,
  tableRow,
  valueAt,
} from './table.ts';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('humanDuration (k8s.io/apimachinery duration.HumanDuration)', () => {
  it.each([
    [-2 * s, '<invalid>'],
    [-1 * s, '0s'],
    [0, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [2 * m + 5 * s, '2m5s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [3 * h + 25 * m, '3h25m'],
    [8 * h, '8h'],
    [47 * h, '47h'],
    [48 * h, '2d'],
    [2 * d + 5 * h, '2d5h'],
    [8 * d, '8d'],
    [729 * d, '729d'],
    [2 * 365 * d, '2y'],
    [2 * 365 * d + 40 * d, '2y40d'],
    [8 * 365 * d, '8y'],
  ])('%i ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('cells', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  it.each([
    ['string', 'HIGH', 'HIGH'],
    ['string', 7, '7'],
    ['string', undefined, null],
    ['number', 7.5, 7.5],
    ['number', '7.5', null],
    ['integer', 3.9, 3],
    ['boolean', true, true],
    ['date', '2026-12-01T11:00:00Z', '60m'],
    ['date', 'yesterday', '<invalid>'],
  ] as const)('%s column with %j is %j', (type, value, expected) => {
    expect(cell(type, value, now)).toEqual(expected);
  });

  it('reads simple JSONPaths and misses absent ones', () => {
    expect(valueAt({ status: { resource: { id: 'x' } } }, '.status.resource.id')).toBe('x');
    expect(valueAt({ status: {} }, '.status.resource.id')).toBeUndefined();
    expect(valueAt({ status: { list: [1] } }, '.status.list.0')).toBeUndefined();
  });
});

describe('rows', () => {
  const obj: StoredFinding = {
    apiVersion: 'findings.kubeinspector.io/v1alpha1',
    kind: 'Finding',
    metadata: { name: 'f', namespace: 'ns', creationTimestamp: '2026-11-30T12:00:00Z' },
    status: { severity: 'LOW', type: 'CONFIGURATION', inspectorScore: 2 },
  };
  const now = new Date('2026-12-01T12:00:00Z');

  it('has Name first, then the printer columns in order, missing values null', () => {
    const names = columnDefinitions().map((c) => c.name);
    expect(names).toEqual([
      'Name',
      'Severity',
      'Type',
      'Title',
      'Resource',
      'Status',
      'Score',
      'Fix',
      'Age',
    ]);
    expect(tableRow(obj, 'None', 'v1', now)).toEqual({
      cells: ['f', 'LOW', 'CONFIGURATION', null, null, null, 2, null, '24h'],
    });
  });

  it.each([
    [
      'Metadata',
      { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1beta1', metadata: obj.metadata },
    ],
    ['Object', obj],
  ] as const)('with includeObject=%s carries %j', (include, object) => {
    expect(tableRow(obj, include, 'v1beta1', now).object).toEqual(object);
  });

  it('leaves managedFields out of the metadata a row carries, and only there', () => {
    const managed = {
      ...obj,
      metadata: {
        ...obj.metadata,
        labels: { a: 'b' },
        managedFields: [{ manager: 'm', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: {} }],
      },
    };
    expect(tableRow(managed, 'Metadata', 'v1', now).object).toEqual({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: {
        name: 'f',
        namespace: 'ns',
        creationTimestamp: '2026-11-30T12:00:00Z',
        labels: { a: 'b' },
      },
    });
    expect(tableRow(managed, 'Object', 'v1', now).object).toBe(managed);
    expect(partialMetadata(managed, 'v1').metadata).toBe(managed.metadata);
  });

  it.each([
    [null, 'Metadata'],
    ['', 'Metadata'],
    ['None', 'None'],
    ['Object', 'Object'],
    ['object', undefined],
  ])('includeObject=%j reads as %j', (value, expected) => {
    expect(parseIncludeObject(value)).toBe(expected);
  });
});
