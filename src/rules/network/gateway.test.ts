import { describe, expect, it } from 'vitest';
import {
  acceptingListeners,
  hostnamesIntersect,
  type GatewayFacts,
  type ListenerFacts,
  type ParentRef,
} from './gateway.ts';

const gateway = (listeners: ListenerFacts[], name = 'public'): GatewayFacts => ({
  namespace: 'infra',
  name,
  listeners,
});
const http = (over: Partial<ListenerFacts> = {}): ListenerFacts => ({
  name: 'http',
  port: 80,
  protocol: 'HTTP',
  from: 'All',
  ...over,
});
const ref = (over: Partial<ParentRef> = {}): ParentRef => ({
  namespace: 'infra',
  name: 'public',
  ...over,
});
const labels = new Map([
  ['shop', { expose: 'yes' }],
  ['infra', {}],
]);

interface Case {
  name: string;
  gateways: GatewayFacts[];
  route?: { namespace?: string; parentRefs?: ParentRef[]; hostnames?: string[] };
  /** `gateway:port` of the accepting listeners. */
  accepted: string[];
}

// Attachment as the Gateway API's specification describes it (Gateway and HTTPRoute v1:
// parentRefs, listeners' allowedRoutes and hostnames).
const CASES: Case[] = [
  {
    name: 'a listener taking routes from every namespace',
    gateways: [gateway([http()])],
    accepted: ['infra/public:80'],
  },
  { name: 'a Gateway that does not exist accepts nothing', gateways: [], accepted: [] },
  {
    name: 'a listener with no allowedRoutes takes routes of its own namespace only',
    gateways: [gateway([{ name: 'http', port: 80, protocol: 'HTTP' }])],
    accepted: [],
  },
  {
    name: 'from Same accepts a route of the Gateway’s namespace',
    gateways: [gateway([http({ from: 'Same' })])],
    route: { namespace: 'infra' },
    accepted: ['infra/public:80'],
  },
  {
    name: 'from Selector accepts a route of a namespace the selector matches',
    gateways: [gateway([http({ from: 'Selector', selector: { matchLabels: { expose: 'yes' } } })])],
    accepted: ['infra/public:80'],
  },
  {
    name: 'from Selector refuses a namespace the selector does not match',
    gateways: [gateway([http({ from: 'Selector', selector: { matchLabels: { expose: 'no' } } })])],
    accepted: [],
  },
  {
    name: 'from Selector refuses a namespace whose labels are not known',
    gateways: [gateway([http({ from: 'Selector', selector: {} })])],
    route: { namespace: 'unknown' },
    accepted: [],
  },
  {
    name: 'a TCP or TLS listener takes no HTTPRoute',
    gateways: [
      gateway([http({ protocol: 'TCP' }), http({ name: 'tls', port: 443, protocol: 'TLS' })]),
    ],
    accepted: [],
  },
  {
    name: 'an HTTPS listener takes HTTPRoutes',
    gateways: [gateway([http({ name: 'https', port: 443, protocol: 'HTTPS' })])],
    accepted: ['infra/public:443'],
  },
  {
    name: 'allowedRoutes kinds without HTTPRoute refuse it',
    gateways: [
      gateway([http({ kinds: [{ group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }] })]),
    ],
    accepted: [],
  },
  {
    name: 'allowedRoutes kinds listing HTTPRoute accept it',
    gateways: [
      gateway([http({ kinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }] })]),
    ],
    accepted: ['infra/public:80'],
  },
  {
    name: 'sectionName picks one listener',
    gateways: [gateway([http(), http({ name: 'https', port: 443, protocol: 'HTTPS' })])],
    route: { parentRefs: [ref({ sectionName: 'https' })] },
    accepted: ['infra/public:443'],
  },
  {
    name: 'a sectionName no listener has attaches nowhere',
    gateways: [gateway([http()])],
    route: { parentRefs: [ref({ sectionName: 'admin' })] },
    accepted: [],
  },
  {
    name: 'port picks the listeners on that port',
    gateways: [gateway([http(), http({ name: 'alt', port: 8080 })])],
    route: { parentRefs: [ref({ port: 8080 })] },
    accepted: ['infra/public:8080'],
  },
  {
    name: 'sectionName and port must both match',
    gateways: [gateway([http(), http({ name: 'alt', port: 8080 })])],
    route: { parentRefs: [ref({ sectionName: 'http', port: 8080 })] },
    accepted: [],
  },
  {
    name: 'no parentRef gives no attachment',
    gateways: [gateway([http()])],
    route: { parentRefs: [] },
    accepted: [],
  },
  {
    name: 'every listener that accepts the route counts, over several Gateways',
    gateways: [gateway([http()]), gateway([http({ port: 8080 })], 'other')],
    route: { parentRefs: [ref(), ref({ name: 'other' })] },
    accepted: ['infra/public:80', 'infra/other:8080'],
  },
  {
    name: 'a listener hostname the route’s hostnames do not meet refuses it',
    gateways: [gateway([http({ hostname: 'admin.example.com' })])],
    route: { hostnames: ['shop.example.com'] },
    accepted: [],
  },
  {
    name: 'a wildcard listener hostname takes a route for a host under it',
    gateways: [gateway([http({ hostname: '*.example.com' })])],
    route: { hostnames: ['shop.example.com'] },
    accepted: ['infra/public:80'],
  },
  {
    name: 'a route without hostnames takes the listener’s',
    gateways: [gateway([http({ hostname: 'shop.example.com' })])],
    accepted: ['infra/public:80'],
  },
];

describe('Gateway listeners accepting an HTTPRoute', () => {
  it.each(CASES)('$name', ({ gateways, route, accepted }) => {
    const got = acceptingListeners(
      {
        namespace: route?.namespace ?? 'shop',
        parentRefs: route?.parentRefs ?? [ref()],
        ...(route?.hostnames !== undefined ? { hostnames: route.hostnames } : {}),
      },
      gateways,
      labels,
    );
    expect(got.map((l) => `${l.gateway}:${l.port}`)).toEqual(accepted);
  });
});

describe('host names', () => {
  it.each<[string, string, boolean]>([
    ['shop.example.com', 'shop.example.com', true],
    ['Shop.Example.com', 'shop.example.com', true],
    ['shop.example.com', 'admin.example.com', false],
    ['*.example.com', 'shop.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'badexample.com', false],
    ['*.example.com', '*.shop.example.com', true],
    ['*.example.com', '*.example.org', false],
  ])('%s and %s: %s', (a, b, want) => {
    expect(hostnamesIntersect(a, b)).toBe(want);
    expect(hostnamesIntersect(b, a)).toBe(want);
  });
});
