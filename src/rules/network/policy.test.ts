import { describe, expect, it } from 'vitest';
import { admits, inCidr, type NetworkPolicyFacts, type Peer, type PolicyPod } from './policy.ts';

// The examples of the Kubernetes documentation's NetworkPolicy page
// (concepts/services-networking/network-policies), in the namespace `default`.

/** "test-network-policy": the page's first, complete example. */
const testNetworkPolicy: NetworkPolicyFacts = {
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
  egress: [
    { to: [{ ipBlock: { cidr: '10.0.0.0/24' } }], ports: [{ protocol: 'TCP', port: 5978 }] },
  ],
};

/** "default-deny-ingress". */
const defaultDenyIngress: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'default-deny-ingress',
  podSelector: {},
  policyTypes: ['Ingress'],
};

/** "allow-all-ingress". */
const allowAllIngress: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'allow-all-ingress',
  podSelector: {},
  ingress: [{}],
  policyTypes: ['Ingress'],
};

/** "default-deny-egress": isolates egress only. */
const defaultDenyEgress: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'default-deny-egress',
  podSelector: {},
  policyTypes: ['Egress'],
};

/** The page's "and" peer: one element with namespaceSelector and podSelector. */
const andPeer: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'and',
  podSelector: {},
  ingress: [
    {
      from: [
        {
          namespaceSelector: { matchLabels: { user: 'alice' } },
          podSelector: { matchLabels: { role: 'client' } },
        },
      ],
    },
  ],
};

/** The page's "or" peers: the same selectors as two elements. */
const orPeers: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'or',
  podSelector: {},
  ingress: [
    {
      from: [
        { namespaceSelector: { matchLabels: { user: 'alice' } } },
        { podSelector: { matchLabels: { role: 'client' } } },
      ],
    },
  ],
};

/** The page's port range example (32000 to 32768), here for ingress. */
const portRange: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'multi-port',
  podSelector: { matchLabels: { role: 'db' } },
  policyTypes: ['Ingress'],
  ingress: [{ ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] }],
};

/** A named port. */
const namedPort: NetworkPolicyFacts = {
  namespace: 'default',
  name: 'named',
  podSelector: { matchLabels: { role: 'db' } },
  ingress: [{ ports: [{ port: 'redis' }] }],
};

const db: PolicyPod = {
  namespace: 'default',
  labels: { role: 'db' },
  namedPorts: new Map([['redis', { port: 6379, protocol: 'TCP' as const }]]),
};
const web: PolicyPod = { namespace: 'default', labels: { role: 'web' }, namedPorts: new Map() };

const external = (ip?: string): Peer =>
  ip === undefined ? { kind: 'external' } : { kind: 'external', ip };
const pod = (
  namespace: string,
  labels: Record<string, string>,
  namespaceLabels: Record<string, string> = {},
): Peer => ({
  kind: 'pod',
  namespace,
  labels,
  namespaceLabels,
});

interface Case {
  name: string;
  policies: NetworkPolicyFacts[];
  to: PolicyPod;
  from: Peer;
  port: number;
  protocol?: 'TCP' | 'UDP';
  admitted: boolean;
}

const CASES: Case[] = [
  // test-network-policy
  {
    name: 'an address in the ipBlock reaches 6379',
    policies: [testNetworkPolicy],
    to: db,
    from: external('172.17.0.5'),
    port: 6379,
    admitted: true,
  },
  {
    name: 'an address in the except range does not',
    policies: [testNetworkPolicy],
    to: db,
    from: external('172.17.1.5'),
    port: 6379,
    admitted: false,
  },
  {
    name: 'an address outside the ipBlock does not',
    policies: [testNetworkPolicy],
    to: db,
    from: external('10.1.1.1'),
    port: 6379,
    admitted: false,
  },
  {
    name: 'the ipBlock admits 6379 only, not 80',
    policies: [testNetworkPolicy],
    to: db,
    from: external('172.17.0.5'),
    port: 80,
    admitted: false,
  },
  {
    name: 'UDP 6379 is not TCP 6379',
    policies: [testNetworkPolicy],
    to: db,
    from: external('172.17.0.5'),
    port: 6379,
    protocol: 'UDP',
    admitted: false,
  },
  {
    name: 'a frontend pod of the same namespace reaches 6379',
    policies: [testNetworkPolicy],
    to: db,
    from: pod('default', { role: 'frontend' }),
    port: 6379,
    admitted: true,
  },
  {
    name: 'a frontend pod of another namespace does not (podSelector alone is the policy namespace)',
    policies: [testNetworkPolicy],
    to: db,
    from: pod('other', { role: 'frontend' }),
    port: 6379,
    admitted: false,
  },
  {
    name: 'any pod of a namespace labelled project=myproject does',
    policies: [testNetworkPolicy],
    to: db,
    from: pod('myproject', { app: 'x' }, { project: 'myproject' }),
    port: 6379,
    admitted: true,
  },
  {
    name: 'a pod the policy does not select is not isolated (default allow)',
    policies: [testNetworkPolicy],
    to: web,
    from: external('8.8.8.8'),
    port: 80,
    admitted: true,
  },
  {
    name: 'egress rules do not admit ingress',
    policies: [testNetworkPolicy],
    to: db,
    from: external('10.0.0.5'),
    port: 5978,
    admitted: false,
  },
  // default deny / allow all
  {
    name: 'default-deny-ingress admits nothing',
    policies: [defaultDenyIngress],
    to: web,
    from: pod('default', { role: 'frontend' }),
    port: 80,
    admitted: false,
  },
  {
    name: 'default-deny-ingress keeps out the outside too',
    policies: [defaultDenyIngress],
    to: web,
    from: external(),
    port: 80,
    admitted: false,
  },
  {
    name: 'allow-all-ingress admits everything',
    policies: [allowAllIngress],
    to: web,
    from: external('8.8.8.8'),
    port: 443,
    admitted: true,
  },
  {
    name: 'policies add up: allow-all next to default-deny admits',
    policies: [defaultDenyIngress, allowAllIngress],
    to: web,
    from: external(),
    port: 443,
    admitted: true,
  },
  {
    name: 'default-deny-egress does not isolate ingress',
    policies: [defaultDenyEgress],
    to: web,
    from: external(),
    port: 80,
    admitted: true,
  },
  // and / or
  {
    name: 'and: a client pod in an alice namespace',
    policies: [andPeer],
    to: web,
    from: pod('a', { role: 'client' }, { user: 'alice' }),
    port: 80,
    admitted: true,
  },
  {
    name: 'and: any pod in an alice namespace is not enough',
    policies: [andPeer],
    to: web,
    from: pod('a', { role: 'server' }, { user: 'alice' }),
    port: 80,
    admitted: false,
  },
  {
    name: 'and: a client pod of the policy namespace is not enough',
    policies: [andPeer],
    to: web,
    from: pod('default', { role: 'client' }),
    port: 80,
    admitted: false,
  },
  {
    name: 'or: any pod in an alice namespace',
    policies: [orPeers],
    to: web,
    from: pod('a', { role: 'server' }, { user: 'alice' }),
    port: 80,
    admitted: true,
  },
  {
    name: 'or: a client pod of the policy namespace',
    policies: [orPeers],
    to: web,
    from: pod('default', { role: 'client' }),
    port: 80,
    admitted: true,
  },
  {
    name: 'or: pod selectors never admit the outside',
    policies: [orPeers],
    to: web,
    from: external(),
    port: 80,
    admitted: false,
  },
  // ports
  {
    name: 'a port within the range',
    policies: [portRange],
    to: db,
    from: external(),
    port: 32500,
    admitted: true,
  },
  {
    name: 'the range ends are included',
    policies: [portRange],
    to: db,
    from: external(),
    port: 32768,
    admitted: true,
  },
  {
    name: 'a port past the range',
    policies: [portRange],
    to: db,
    from: external(),
    port: 32769,
    admitted: false,
  },
  {
    name: 'a named port resolves on the pod',
    policies: [namedPort],
    to: db,
    from: external(),
    port: 6379,
    admitted: true,
  },
  {
    name: 'a named port admits no other port',
    policies: [namedPort],
    to: db,
    from: external(),
    port: 6380,
    admitted: false,
  },
];

describe('NetworkPolicy ingress semantics (the documentation examples)', () => {
  it.each(CASES)('$name', ({ policies, to, from, port, protocol, admitted }) => {
    expect(admits(policies, to, from, port, protocol ?? 'TCP').admitted).toBe(admitted);
  });

  it('says why: default allow, the admitting policy, or the isolating ones', () => {
    expect(admits([], web, external(), 80, 'TCP').reason).toBe(
      'no NetworkPolicy selects the pod (default allow)',
    );
    expect(admits([defaultDenyIngress, allowAllIngress], web, external(), 80, 'TCP')).toEqual({
      admitted: true,
      reason: 'admitted by NetworkPolicy default/allow-all-ingress',
      policies: ['default/allow-all-ingress', 'default/default-deny-ingress'],
      sources: ['0.0.0.0/0'],
    });
    expect(admits([testNetworkPolicy], db, external(), 6379, 'TCP').sources).toEqual([
      '172.17.0.0/16',
    ]);
    expect(admits([defaultDenyIngress], web, external(), 80, 'TCP').reason).toBe(
      'NetworkPolicies default/default-deny-ingress select the pod and admit no such traffic',
    );
  });

  it('matches IPv4 CIDRs, and refuses to guess on other text', () => {
    expect(inCidr('10.0.0.255', '10.0.0.0/24')).toBe(true);
    expect(inCidr('10.0.1.0', '10.0.0.0/24')).toBe(false);
    expect(inCidr('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(inCidr('1.2.3.4', '1.2.3.4/32')).toBe(true);
    expect(inCidr('2001:db8::1', '2001:db8::/32')).toBeUndefined();
    expect(inCidr('1.2.3.4', '1.2.3.0/33')).toBeUndefined();
  });
});
