import { describe, expect, it } from 'vitest';
import type { StoredFinding } from '../../findings-store/store.ts';
import { recordControllerWrite } from './ownership.ts';

const now = new Date('2026-03-01T00:00:00Z');
const finding = (extra: Record<string, unknown> = {}): StoredFinding => ({
  apiVersion: 'findings.kubeinspector.io/v1alpha1',
  kind: 'Finding',
  metadata: { name: 'f', namespace: 'ns', labels: { 'kubeinspector.io/status': 'ACTIVE' } },
  status: { status: 'ACTIVE', severity: 'HIGH' },
  ...extra,
});

const entries = (f: StoredFinding) =>
  (f.metadata.managedFields ?? []) as { manager: string; subresource?: string; fieldsV1: object }[];

describe('ownership of what the controllers write in-process', () => {
  it('gives labels to the controller, status to its status entry and template attributes to the templates manager', () => {
    const out = recordControllerWrite(
      undefined,
      finding({ spec: { attributes: { owner: 'team-a' } } }),
      now,
      'kube-inspector-templates',
    );
    const byManager = Object.fromEntries(
      entries(out).map((e) => [
        `${e.manager}${e.subresource ? '/' + e.subresource : ''}`,
        JSON.stringify(e.fieldsV1),
      ]),
    );
    expect(byManager['kube-inspector']).toContain('f:kubeinspector.io/status');
    expect(byManager['kube-inspector/status']).toContain('f:severity');
    expect(byManager['kube-inspector-templates']).toContain('f:owner');
    expect(out.spec).toEqual({ attributes: { owner: 'team-a' } });
  });

  it('owns only the status fields that are stored: an undefined member is no field', () => {
    const first = recordControllerWrite(
      undefined,
      finding({ status: { status: 'ACTIVE', severity: 'HIGH', fixAvailable: undefined } }),
      now,
    );
    const status = () => entries(first).find((e) => e.subresource === 'status')!.fieldsV1;
    expect(status()).toEqual({ 'f:status': { 'f:severity': {}, 'f:status': {} } });
    // Unchanged values (the same or an equal copy) leave the fields as they were.
    const again = recordControllerWrite(
      first,
      { ...first, status: { status: 'ACTIVE', severity: 'HIGH', epss: undefined } },
      new Date('2026-03-02T00:00:00Z'),
    );
    expect(entries(again).map((e) => e.fieldsV1)).toEqual(entries(first).map((e) => e.fieldsV1));
    const changed = recordControllerWrite(
      first,
      { ...first, status: { status: 'ACTIVE', severity: 'LOW', fixAvailable: 'YES' } },
      now,
    );
    expect(entries(changed).find((e) => e.subresource === 'status')!.fieldsV1).toEqual({
      'f:status': { 'f:fixAvailable': {}, 'f:severity': {}, 'f:status': {} },
    });
  });

  it("leaves a person's attribute to them when the controller only changes status", () => {
    const person = recordControllerWrite(undefined, finding(), now);
    const withTicket = {
      ...person,
      spec: { attributes: { ticket: 'SEC-1' } },
      metadata: {
        ...person.metadata,
        managedFields: [
          ...entries(person),
          {
            manager: 'jane',
            operation: 'Apply',
            apiVersion: 'findings.kubeinspector.io/v1alpha1',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:spec': { 'f:attributes': { 'f:ticket': {} } } },
          },
        ],
      },
    } as StoredFinding;
    const out = recordControllerWrite(
      withTicket,
      { ...withTicket, status: { status: 'CLOSED', severity: 'HIGH' } },
      now,
    );
    expect(entries(out).find((e) => e.manager === 'jane')?.fieldsV1).toEqual({
      'f:spec': { 'f:attributes': { 'f:ticket': {} } },
    });
    expect(out.spec).toEqual({ attributes: { ticket: 'SEC-1' } });
  });
});
