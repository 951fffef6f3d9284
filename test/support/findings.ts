/** A Finding as the export tests use it: a real advisory on a node, two packages, attributes. */
export const OPENSSH_STATUS = {
  type: 'PACKAGE_VULNERABILITY',
  title: 'CVE-2024-6387 - openssh-server',
  severity: 'HIGH',
  status: 'ACTIVE',
  vulnerabilityId: 'CVE-2024-6387',
  aliases: ['DSA-5724-1', 'DEBIAN-CVE-2024-6387'],
  inspectorScore: 8.1,
  fixAvailable: 'YES',
  packages: [
    { name: 'openssh-server', version: '1:9.2p1-2', fixedInVersion: '1:9.2p1-2+deb12u3' },
    { name: 'openssh-client', version: '1:9.2p1-2' },
  ],
  resource: { type: 'NODE', id: 'node-a', name: 'node-a' },
  firstObservedAt: '2026-03-01T12:00:00Z',
  lastObservedAt: '2026-03-02T00:00:01Z',
  updatedAt: '2026-03-01T12:00:00.900Z',
};

/** Attributes a person set on it. */
export const OPENSSH_ATTRIBUTES = { ticket: 'SEC-1', owner: 'platform' };

/** The header of a `--columns visible` export: namespace, name, the Finding printer columns. */
export const VISIBLE_HEADERS = [
  'Namespace',
  'Name',
  'Severity',
  'Type',
  'Title',
  'Resource',
  'Status',
  'Score',
  'Fix',
  'Age',
];
