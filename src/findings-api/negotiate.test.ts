import { describe, expect, it } from 'vitest';
import { negotiate, negotiateDiscovery } from './negotiate.ts';

const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const METADATA_LIST_ACCEPT =
  'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_ACCEPT =
  'application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

describe('negotiate', () => {
  it.each([
    ['no Accept header gets the object', undefined, 'object', { kind: 'object' }],
    ['*/* gets the object', '*/*', 'list', { kind: 'object' }],
    ['kubectl get gets a v1 Table', TABLE_ACCEPT, 'list', { kind: 'table', version: 'v1' }],
    [
      'a v1beta1-only client gets a v1beta1 Table',
      'application/json;as=Table;v=v1beta1;g=meta.k8s.io',
      'object',
      { kind: 'table', version: 'v1beta1' },
    ],
    [
      'the metadata client skips protobuf and gets a metadata list',
      METADATA_LIST_ACCEPT,
      'list',
      { kind: 'metadata', version: 'v1' },
    ],
    [
      'the metadata client watching gets PartialObjectMetadata',
      METADATA_ACCEPT,
      'watch',
      { kind: 'metadata', version: 'v1' },
    ],
    [
      'PartialObjectMetadata asked of a list falls back to the next alternative',
      METADATA_ACCEPT,
      'list',
      { kind: 'object' },
    ],
    [
      'an unknown as= falls back to plain JSON',
      'application/json;as=Foo;v=v1;g=meta.k8s.io,application/json',
      'object',
      { kind: 'object' },
    ],
  ] as const)('%s', (_name, accept, endpoint, expected) => {
    expect(negotiate(accept, endpoint)).toEqual(expected);
  });

  it.each([
    ['protobuf only', 'application/vnd.kubernetes.protobuf'],
    ['YAML', 'application/yaml'],
    ['a Table of a group that is not meta.k8s.io', 'application/json;as=Table;v=v1;g=example.com'],
  ])('answers nothing producible for %s (406)', (_name, accept) => {
    expect(negotiate(accept, 'list')).toBeUndefined();
  });
});

describe('negotiateDiscovery', () => {
  it.each([
    [
      'kube-aggregator asks for v2 first',
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
      'aggregated-v2',
    ],
    [
      'an older client asks for v2beta1',
      'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json',
      'aggregated-v2beta1',
    ],
    ['kubectl with aggregated discovery off', 'application/json', 'legacy'],
    ['no Accept', undefined, 'legacy'],
    [
      'an unknown discovery version falls back to legacy',
      'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json',
      'legacy',
    ],
    ['protobuf only cannot be served', 'application/vnd.kubernetes.protobuf', undefined],
  ] as const)('%s', (_name, accept, expected) => {
    expect(negotiateDiscovery(accept)).toBe(expected);
  });
});
