import { describe, expect, it } from 'vitest';
import { podSpecPath, scanPodSpec, scanWorkloadTemplate } from './pod-template.ts';
import { fingerprint } from './secrets.ts';
import { fakeSecrets } from './testing.ts';

const s = fakeSecrets('pod');

describe('pod template secret scanning', () => {
  const spec = {
    initContainers: [
      {
        name: 'migrate',
        command: [
          'migrate',
          '--db',
          `postgres://app:${s['connection-string-password']}@db:5432/app`,
        ],
      },
    ],
    containers: [
      {
        name: 'app',
        env: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'GITHUB_TOKEN', value: s['github-token']! },
          { name: 'SESSION_SECRET', value: s['generic-secret-assignment']! },
          { name: 'DB_PASSWORD', value: '$(DB_PASSWORD_FROM_SECRET)' },
          { name: 'FROM_SECRET' },
        ],
        args: [
          '--api-token',
          s['generic-secret-assignment']!,
          '--verbose',
          `--stripe-key=${s['stripe-secret-key']}`,
        ],
      },
      { name: 'sidecar', args: ['--listen', ':8080'] },
    ],
  };

  it('names each secret by a field path that survives reordering, with no value', () => {
    const found = scanPodSpec(spec, podSpecPath('Deployment'));
    expect(found.map((m) => `${m.ruleId} ${m.fieldPath}`).sort()).toEqual(
      [
        'connection-string-password spec.template.spec.initContainers[name=migrate].command[2]',
        'github-token spec.template.spec.containers[name=app].env[name=GITHUB_TOKEN].value',
        'generic-secret-assignment spec.template.spec.containers[name=app].env[name=SESSION_SECRET].value',
        'generic-secret-assignment spec.template.spec.containers[name=app].args[1]',
        'stripe-secret-key spec.template.spec.containers[name=app].args[3]',
      ].sort(),
    );
    const gh = found.find((m) => m.ruleId === 'github-token')!;
    expect(gh.fingerprint).toBe(fingerprint(s['github-token']!));
    const text = JSON.stringify(found);
    for (const v of Object.values(s)) expect(text).not.toContain(v.slice(8));
  });

  it('finds nothing in a clean template and knows where each kind keeps its pod spec', () => {
    expect(
      scanPodSpec(
        {
          containers: [
            {
              name: 'a',
              env: [{ name: 'PORT', value: '8080' }],
              args: ['--token-file', '/var/run/secrets/token'],
            },
          ],
        },
        'spec',
      ),
    ).toEqual([]);
    expect(podSpecPath('Pod')).toBe('spec');
    expect(podSpecPath('CronJob')).toBe('spec.jobTemplate.spec.template.spec');
    expect(podSpecPath('StatefulSet')).toBe('spec.template.spec');
  });

  it('reads the pod template where each workload kind keeps it, from the object root', () => {
    const cronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'report', namespace: 'shop' },
      spec: {
        schedule: '0 * * * *',
        jobTemplate: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'report', env: [{ name: 'DB_PASSWORD', value: s['github-token'] }] },
                ],
              },
            },
          },
        },
      },
    };
    const found = scanWorkloadTemplate('CronJob', cronJob);
    expect(found.map((m) => [m.ruleId, m.fieldPath])).toEqual([
      [
        'github-token',
        'spec.jobTemplate.spec.template.spec.containers[name=report].env[name=DB_PASSWORD].value',
      ],
    ]);
    expect(found[0]!.redacted).not.toContain(s['github-token']!.slice(8));
    // A Deployment's path is not a CronJob's: nothing is read from the wrong place.
    expect(scanWorkloadTemplate('Deployment', cronJob)).toEqual([]);
  });

  it('passes over whatever is not the shape of a pod spec, without a crash', () => {
    const odd = {
      spec: {
        template: {
          spec: {
            containers: [
              null,
              'app',
              { name: 3, env: 'x', args: [1, { a: 1 }, `--github-token=${s['github-token']}`] },
              { name: 'b', env: [null, { value: 'x' }, { name: 'T', value: 7 }], command: {} },
            ],
            initContainers: { name: 'x' },
          },
        },
      },
    };
    const found = scanWorkloadTemplate('StatefulSet', odd);
    expect(found.map((m) => m.fieldPath)).toEqual(['spec.template.spec.containers[name=].args[2]']);
    expect(scanWorkloadTemplate('Deployment', { spec: null })).toEqual([]);
    expect(scanWorkloadTemplate('Deployment', {})).toEqual([]);
  });
});
