import { describe, expect, it } from 'vitest';
import {
  gatewayFacts,
  httpRouteFacts,
  ingressFacts,
  networkPolicyFacts,
  serviceFacts,
} from './objects.ts';

describe('Kubernetes objects as network facts', () => {
  it('a NetworkPolicy as the documentation writes it', () => {
    const p = networkPolicyFacts({
      metadata: { name: 'test-network-policy', namespace: 'default' },
      spec: {
        podSelector: { matchLabels: { role: 'db' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
              { namespaceSelector: { matchLabels: { project: 'myproject' } } },
              { podSelector: { matchLabels: { role: 'frontend' } } },
            ],
            ports: [{ protocol: 'TCP', port: 6379 }],
          },
        ],
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ port: 5978 }] }],
      },
    });
    expect(p).toEqual({
      namespace: 'default',
      name: 'test-network-policy',
      podSelector: { matchLabels: { role: 'db' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          from: [
            { ipBlock: { cidr: '172.17.0.0/16', except: ['172.17.1.0/24'] } },
            { namespaceSelector: { matchLabels: { project: 'myproject' } } },
            { podSelector: { matchLabels: { role: 'frontend' } } },
          ],
          ports: [{ protocol: 'TCP', port: 6379 }],
        },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ port: 5978 }] }],
    });
    // An ingress rule with nothing in it (allow all) stays an empty rule.
    expect(
      networkPolicyFacts({
        metadata: { name: 'all', namespace: 'x' },
        spec: { podSelector: {}, ingress: [{}] },
      }).ingress,
    ).toEqual([{}]);
  });

  it('a Service keeps its type, selector and ports', () => {
    expect(
      serviceFacts({
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          type: 'LoadBalancer',
          selector: { app: 'web' },
          clusterIP: '10.0.0.1',
          ports: [
            { name: 'https', port: 443, targetPort: 'http', nodePort: 31443, protocol: 'TCP' },
          ],
        },
      }),
    ).toEqual({
      namespace: 'shop',
      name: 'web',
      type: 'LoadBalancer',
      selector: { app: 'web' },
      ports: [{ name: 'https', port: 443, targetPort: 'http', nodePort: 31443, protocol: 'TCP' }],
    });
  });

  it('an Ingress: default backend and every rule path, by port number or name', () => {
    expect(
      ingressFacts({
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          defaultBackend: { service: { name: 'fallback', port: { number: 80 } } },
          rules: [
            {
              host: 'shop.example',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: 'web', port: { name: 'https' } } },
                  },
                  {
                    path: '/static',
                    pathType: 'Prefix',
                    backend: { resource: { kind: 'Bucket', name: 'b' } },
                  },
                ],
              },
            },
          ],
        },
      }).backends,
    ).toEqual([
      { service: 'fallback', port: 80 },
      { service: 'web', port: 'https' },
    ]);
  });

  it('an HTTPRoute: its Gateways and Service backends', () => {
    expect(
      httpRouteFacts({
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          parentRefs: [
            { name: 'public', namespace: 'infra', sectionName: 'https' },
            { name: 'internal', port: 8080 },
            { kind: 'Service', name: 'mesh' },
          ],
          hostnames: ['shop.example.com'],
          rules: [
            {
              backendRefs: [
                { name: 'web', port: 80 },
                { name: 'other', namespace: 'b', port: 8080 },
                { group: 'example.io', kind: 'Bucket', name: 'x' },
              ],
            },
          ],
        },
      }),
    ).toEqual({
      namespace: 'shop',
      name: 'web',
      parentRefs: [
        { namespace: 'infra', name: 'public', sectionName: 'https' },
        { namespace: 'shop', name: 'internal', port: 8080 },
      ],
      hostnames: ['shop.example.com'],
      backends: [
        { name: 'web', port: 80 },
        { name: 'other', namespace: 'b', port: 8080 },
      ],
    });
  });

  it('a Gateway: its listeners with port, protocol, hostname and the routes they allow', () => {
    expect(
      gatewayFacts({
        metadata: { name: 'public', namespace: 'infra' },
        spec: {
          gatewayClassName: 'example',
          listeners: [
            { name: 'http', port: 80, protocol: 'HTTP' },
            {
              name: 'https',
              port: 443,
              protocol: 'HTTPS',
              hostname: '*.example.com',
              allowedRoutes: {
                namespaces: { from: 'Selector', selector: { matchLabels: { expose: 'yes' } } },
                kinds: [{ kind: 'HTTPRoute' }, { group: 'example.io', kind: 'Other' }],
              },
            },
            { name: 'no-port', protocol: 'HTTP' },
          ],
        },
      }),
    ).toEqual({
      namespace: 'infra',
      name: 'public',
      listeners: [
        { name: 'http', port: 80, protocol: 'HTTP' },
        {
          name: 'https',
          port: 443,
          protocol: 'HTTPS',
          hostname: '*.example.com',
          from: 'Selector',
          selector: { matchLabels: { expose: 'yes' } },
          kinds: [
            { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
            { group: 'example.io', kind: 'Other' },
          ],
        },
      ],
    });
  });
});
