// Discovery documents of the findings API, as kube-apiserver serves them for a CRD group:
// legacy (/apis APIGroupList, /apis/<group> APIGroup, /apis/<group>/<version> APIResourceList)
// and aggregated (/apis as apidiscovery.k8s.io/v2 or v2beta1 APIGroupDiscoveryList). Pure and
// precomputed: answering discovery never touches the store.
import { createHash } from 'node:crypto';
import { FINDINGS_API_VERSION, FINDINGS_GROUP, FINDINGS_VERSION } from '../api/v1alpha1/common.ts';
import { CATEGORY, kindInfo } from '../api/v1alpha1/kinds.ts';

const finding = kindInfo('Finding');

/** Verbs of `findings`, as RBAC and `kubectl api-resources -o wide` name them. */
export const FINDING_VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;
export const STATUS_VERBS = ['get', 'patch', 'update'] as const;

const groupVersion = { groupVersion: FINDINGS_API_VERSION, version: FINDINGS_VERSION };

export function apiGroup(): Record<string, unknown> {
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: FINDINGS_GROUP,
    versions: [groupVersion],
    preferredVersion: groupVersion,
  };
}

export function apiGroupList(): Record<string, unknown> {
  const { kind: _k, apiVersion: _a, ...group } = apiGroup();
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [group] };
}

export function apiResourceList(): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: FINDINGS_API_VERSION,
    resources: [
      {
        name: finding.plural,
        singularName: finding.singular,
        namespaced: true,
        kind: finding.kind,
        verbs: [...FINDING_VERBS],
        shortNames: finding.shortNames,
        categories: [CATEGORY],
      },
      {
        name: `${finding.plural}/status`,
        singularName: '',
        namespaced: true,
        kind: finding.kind,
        verbs: [...STATUS_VERBS],
      },
    ],
  };
}

/** apidiscovery.k8s.io APIGroupDiscoveryList (v2 and v2beta1 have the same shape). */
export function apiGroupDiscoveryList(version: 'v2' | 'v2beta1'): Record<string, unknown> {
  const responseKind = { group: FINDINGS_GROUP, version: FINDINGS_VERSION, kind: finding.kind };
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: [
      {
        metadata: { name: FINDINGS_GROUP },
        versions: [
          {
            version: FINDINGS_VERSION,
            resources: [
              {
                resource: finding.plural,
                responseKind,
                scope: 'Namespaced',
                singularResource: finding.singular,
                verbs: [...FINDING_VERBS],
                shortNames: finding.shortNames,
                categories: [CATEGORY],
                subresources: [{ subresource: 'status', responseKind, verbs: [...STATUS_VERBS] }],
              },
            ],
            freshness: 'Current',
          },
        ],
      },
    ],
  };
}

/** A serialised document with its strong ETag (quoted hex SHA-256 of the bytes). */
export interface Document {
  body: string;
  etag: string;
  contentType: string;
}

export function document(value: unknown, contentType = 'application/json'): Document {
  const body = JSON.stringify(value);
  const etag = `"${createHash('sha256').update(body).digest('hex').toUpperCase()}"`;
  return { body, etag, contentType };
}

/** True when an If-None-Match header names the document's ETag (or `*`). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

export const AGGREGATED_CONTENT_TYPE = (v: 'v2' | 'v2beta1') =>
  `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;

/** Every discovery document, built once. */
export const DISCOVERY = {
  groupList: document(apiGroupList()),
  group: document(apiGroup()),
  resourceList: document(apiResourceList()),
  aggregatedV2: document(apiGroupDiscoveryList('v2'), AGGREGATED_CONTENT_TYPE('v2')),
  aggregatedV2beta1: document(apiGroupDiscoveryList('v2beta1'), AGGREGATED_CONTENT_TYPE('v2beta1')),
};
