import { describe, expect, it } from 'vitest';
import {
  compileGlob,
  coverageConfig,
  effectiveConfiguration,
  repositoryFrequency,
  selectorMatches,
} from './config.ts';
import { coveredResourceName, resourceTypeOfName } from './names.ts';
import { platformOf, podImages } from './pods.ts';

describe('repository globs', () => {
  it.each([
    ['registry.example/library/*', 'registry.example/library/nginx', true],
    ['registry.example/library/*', 'registry.example/library/team/nginx', false],
    ['registry.example/**', 'registry.example/library/team/nginx', true],
    ['*/prod/**', 'registry.example/prod/api/v2', true],
    ['*/prod/**', 'registry.example/dev/api', false],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app', true],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/apps', false],
    ['registry.example/a.b', 'registry.example/aXb', false],
  ])('%s against %s is %s', (glob, repo, match) => {
    expect(compileGlob(glob).test(repo)).toBe(match);
  });

  it.each([
    ['registry.example/[abc]', 'may contain only'],
    ['registry.example/***', '"***"'],
    ['registry.example//x', 'empty path segment'],
    ['/x', 'empty path segment'],
  ])('refuses %s', (glob, message) => {
    expect(() => compileGlob(glob)).toThrow(message);
  });

  it('the first matching rule wins; no match is continuous', () => {
    const { config, problems } = coverageConfig({
      image: {
        repositoryRules: [
          { filter: 'r.example/prod/**', frequency: 'CONTINUOUS_SCAN' },
          { filter: 'r.example/**', frequency: 'MANUAL' },
          { filter: 'other.example/*', frequency: 'SCAN_ON_PUSH' },
        ],
      },
    });
    expect(problems).toEqual([]);
    expect(repositoryFrequency(config.rules, 'r.example/prod/api')).toBe('CONTINUOUS_SCAN');
    expect(repositoryFrequency(config.rules, 'r.example/dev/api')).toBe('MANUAL');
    expect(repositoryFrequency(config.rules, 'other.example/x')).toBe('SCAN_ON_PUSH');
    expect(repositoryFrequency(config.rules, 'docker.io/library/nginx')).toBe('CONTINUOUS_SCAN');
  });

  it('a bad glob is a problem naming the rule, and the other rules still apply', () => {
    const { config, problems } = coverageConfig({
      image: {
        repositoryRules: [
          { filter: 'bad[', frequency: 'MANUAL' },
          { filter: 'good/*', frequency: 'MANUAL' },
        ],
      },
    });
    expect(problems).toEqual([
      expect.stringContaining('spec.image.repositoryRules[0].filter: "bad["'),
    ]);
    expect(config.rules.map((r) => r.filter)).toEqual(['good/*']);
  });
});

describe('the configuration in effect', () => {
  it('applies the documented defaults', () => {
    const { config } = coverageConfig({});
    expect([...config.scanTypes]).toEqual(['Node', 'Image', 'Workload']);
    expect(config.staleInventoryMs).toBe(7 * 86_400_000);
    expect(config.pushWindowMs).toBe(90 * 86_400_000);
    expect(config.pullWindowMs).toBe(14 * 86_400_000);
    expect(config.pullDateMode).toBe('LAST_IN_USE_AT');
    expect(config.maxImageBytes).toBe(10 * 1024 ** 3);
    expect(config.workloadEligibilityMs).toBe(90 * 86_400_000);
    expect(config.exclusionLabel).toBe('kubeinspector.io/exclude');
  });

  it('no ScanConfiguration activates nothing', () => {
    const { config } = coverageConfig(undefined);
    expect(config.present).toBe(false);
    expect(config.scanTypes.size).toBe(0);
  });
});

describe('label selectors', () => {
  it.each([
    [undefined, { a: '1' }, true],
    [{ matchLabels: { team: 'a' } }, { team: 'a' }, true],
    [{ matchLabels: { team: 'a' } }, { team: 'b' }, false],
    [
      { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] },
      { env: 'prod' },
      true,
    ],
    [
      { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] },
      { env: 'prod' },
      false,
    ],
    [{ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, {}, false],
    [{ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, {}, true],
  ] as const)('%j matches %j: %s', (selector, labels, match) => {
    expect(selectorMatches(selector as never, labels)).toBe(match);
  });
});

describe('CoveredResource names', () => {
  it('are readable where the identity is a valid name', () => {
    expect(coveredResourceName.node('ip-10-0-0-1.ec2.internal')).toBe(
      'node-ip-10-0-0-1.ec2.internal',
    );
    expect(coveredResourceName.namespace('team-a')).toBe('namespace-team-a');
    expect(coveredResourceName.workload('team-a', 'Deployment', 'api')).toBe(
      'workload-team-a.deployment.api',
    );
  });

  it('differ for identities that would clean up to the same text', () => {
    const a = coveredResourceName.repository('r.example/a_b');
    const b = coveredResourceName.repository('r.example/a-b');
    expect(a).not.toBe(b);
    for (const n of [a, b]) expect(n).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });

  it('stay within 253 characters', () => {
    const long = `workload-${'x'.repeat(300)}`;
    expect(coveredResourceName.workload('ns', 'Pod', long).length).toBeLessThanOrEqual(253);
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(
      coveredResourceName.image(`r.example/${'y/'.repeat(200)}z`, digest).length,
    ).toBeLessThanOrEqual(253);
  });

  it('carry their resource type', () => {
    expect(
      resourceTypeOfName(coveredResourceName.image('r.example/a', `sha256:${'b'.repeat(64)}`)),
    ).toBe('CONTAINER_IMAGE');
    expect(resourceTypeOfName('something-else')).toBeUndefined();
  });
});

describe('images of a pod', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  it('come from the kubelet imageID, normalised like Docker references', () => {
    const images = podImages({
      spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      status: {
        containerStatuses: [
          {
            name: 'app',
            image: 'docker.io/library/nginx:1.27',
            imageID: `docker-pullable://nginx@${digest}`,
            state: { running: { startedAt: '2026-11-20T10:00:00Z' } },
          },
        ],
      },
    });
    expect(images).toEqual([
      {
        repository: 'docker.io/library/nginx',
        digest,
        key: `docker.io/library/nginx@${digest}`,
        tag: '1.27',
        container: 'app',
        startedAt: Date.parse('2026-11-20T10:00:00Z'),
        running: true,
      },
    ]);
  });

  it('use the spec image when the runtime reports only an image id and the spec pins the digest', () => {
    const images = podImages({
      spec: { containers: [{ name: 'app', image: `127.0.0.1:5000/app@${digest}` }] },
      status: { containerStatuses: [{ name: 'app', imageID: digest, state: {} }] },
    });
    expect(images.map((i) => [i.key, i.running])).toEqual([
      [`127.0.0.1:5000/app@${digest}`, false],
    ]);
  });

  it("belong to the repository the spec names; the imageID's repository gives only the digest", () => {
    // The runtime reports the first repository digest it holds for this content: a copy in
    // another registry that another pod pulled first.
    const images = podImages({
      spec: {
        containers: [{ name: 'app', image: 'registry.b.example/team/app:2' }],
        initContainers: [{ name: 'init', image: 'registry.b.example/team/init' }],
      },
      status: {
        containerStatuses: [
          {
            name: 'app',
            image: 'registry.b.example/team/app:2',
            imageID: `registry.a.example/mirror/app@${digest}`,
            state: { running: { startedAt: '2026-11-20T10:00:00Z' } },
          },
        ],
        initContainerStatuses: [
          { name: 'init', imageID: `docker-pullable://registry.a.example/init@${digest}` },
        ],
      },
    });
    expect(images.map((i) => [i.key, i.tag])).toEqual([
      [`registry.b.example/team/app@${digest}`, '2'],
      [`registry.b.example/team/init@${digest}`, 'latest'],
    ]);
  });

  it("fall back to the imageID's repository when the spec image does not parse", () => {
    const images = podImages({
      spec: { containers: [{ name: 'app', image: 'Not A Reference' }] },
      status: {
        containerStatuses: [{ name: 'app', imageID: `registry.a.example/app@${digest}` }],
      },
    });
    expect(images.map((i) => [i.key, i.tag])).toEqual([
      [`registry.a.example/app@${digest}`, undefined],
    ]);
  });

  it('leave out a bare image id the spec does not pin (it is no manifest digest)', () => {
    expect(
      podImages({
        spec: { containers: [{ name: 'app', image: `r.example/app@sha256:${'d'.repeat(64)}` }] },
        status: { containerStatuses: [{ name: 'app', imageID: digest }] },
      }),
    ).toEqual([]);
  });

  it('leave out containers that cannot be identified', () => {
    expect(
      podImages({
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
        status: { containerStatuses: [{ name: 'app', imageID: '' }] },
      }),
    ).toEqual([]);
  });

  it('platforms are spelled as Inspector spells them', () => {
    expect(platformOf({ family: 'debian', version: '12' })).toBe('DEBIAN_12');
    expect(platformOf({ family: 'alpine', version: '3.20.3' })).toBe('ALPINE_3_20');
    expect(platformOf(undefined)).toBeUndefined();
  });
});

describe('the configuration in effect across a spec that does not validate', () => {
  const valid = {
    image: { repositoryRules: [{ filter: 'r.example/team/*', frequency: 'MANUAL' }] },
  };
  const broken = {
    image: { repositoryRules: [{ filter: 'r.example/team/***', frequency: 'MANUAL' }] },
  };
  const sc = (spec: unknown, generation: number, kept?: { generation: number; spec: unknown }) => ({
    metadata: { generation },
    spec,
    ...(kept ? { status: { configurationInEffect: kept } } : {}),
  });

  it('a spec that validates is in effect, with its generation', () => {
    const e = effectiveConfiguration(sc(valid, 3, { generation: 1, spec: {} }));
    expect(e.source).toBe('spec');
    expect(e.generation).toBe(3);
    expect(e.problems).toEqual([]);
    expect(repositoryFrequency(e.config.rules, 'r.example/team/app')).toBe('MANUAL');
  });

  it('a broken rule leaves the last valid configuration in effect: MANUAL images stay MANUAL', () => {
    const kept = { generation: 1, spec: coverageConfig(valid).config.spec };
    const e = effectiveConfiguration(sc(broken, 2, kept));
    expect(e.source).toBe('lastValid');
    expect(e.generation).toBe(1);
    expect(e.problems).toEqual([
      expect.stringContaining('spec.image.repositoryRules[0].filter: "r.example/team/***"'),
    ]);
    expect(repositoryFrequency(e.config.rules, 'r.example/team/app')).toBe('MANUAL');
    expect(e.config.present).toBe(true);
  });

  it('without a last valid configuration, a spec that does not validate activates nothing', () => {
    const e = effectiveConfiguration(sc(broken, 1));
    expect(e.source).toBe('none');
    expect(e.problems).toHaveLength(1);
    expect(e.config.present).toBe(false);
    expect(e.config.scanTypes.size).toBe(0);
  });

  it('a last valid configuration that no longer validates is not used either', () => {
    const e = effectiveConfiguration(sc(broken, 2, { generation: 1, spec: broken }));
    expect(e.source).toBe('none');
    expect(e.config.present).toBe(false);
  });

  it('no ScanConfiguration is no configuration', () => {
    const e = effectiveConfiguration(undefined);
    expect(e.source).toBe('none');
    expect(e.problems).toEqual([]);
    expect(e.config.present).toBe(false);
  });

  it('problems of the schema name the field as the API server does', () => {
    const e = effectiveConfiguration(sc({ node: { packageLimit: 9000 } }, 1));
    expect(e.problems).toEqual([expect.stringMatching(/^spec\.node\.packageLimit: /)]);
    const list = effectiveConfiguration(sc({ node: { customPaths: ['relative'] } }, 1)).problems;
    expect(list).toEqual([expect.stringMatching(/^spec\.node\.customPaths\[0\]: /)]);
  });
});
