import { describe, expect, it } from 'vitest';
import { FindingStatusSchema } from '../api/v1alpha1/finding.ts';
import type { FilterCriteria, SuppressionRule } from '../api/v1alpha1/suppression-rule.ts';
import { findSecrets } from '../code-scan/secrets.ts';
import { fakeSecrets } from '../code-scan/testing.ts';
import type { FindingResource } from './build.ts';
import { buildCodeFinding, buildCodeFindings, type CodeMatchInput } from './code.ts';
import { globRegex, suppressingRule } from './suppression.ts';

const s = fakeSecrets('finding');
const image: FindingResource = {
  resourceType: 'CONTAINER_IMAGE',
  id: 'registry.test/shop/api@sha256:' + 'a'.repeat(64),
  imageRepository: 'registry.test/shop/api',
  imageDigest: 'sha256:' + 'a'.repeat(64),
};
const workload: FindingResource = {
  resourceType: 'WORKLOAD',
  id: 'shop/Deployment/api',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'api',
};

function fromText(
  text: string,
  path: string,
  layerDigest = 'sha256:' + 'b'.repeat(64),
): CodeMatchInput[] {
  return findSecrets(text).map((m) => ({ ...m, path, layerDigest }));
}

describe('CODE_VULNERABILITY findings', () => {
  const matches = fromText(
    `x=1\nGITHUB_TOKEN=${s['github-token']}\nAWS_KEY=${s['aws-access-key-id']}\n`,
    'app/.env',
  );

  it('carry the rule, file, line, layer, CWE, severity and remediation, and validate against the schema', () => {
    const [gh] = buildCodeFindings(image, matches).filter(
      (f) => f.status.ruleId === 'github-token',
    );
    expect(gh!.status).toMatchObject({
      type: 'CODE_VULNERABILITY',
      severity: 'CRITICAL',
      title: 'GitHub token - /app/.env',
      codeVulnerabilityDetails: {
        detectorId: 'github-token',
        detectorName: 'GitHub token',
        cwes: ['CWE-798'],
        filePath: { fileName: '.env', filePath: '/app/.env', startLine: 2, endLine: 2 },
        sourceLayerDigest: 'sha256:' + 'b'.repeat(64),
        secret: { redacted: 'ghp_****************' },
      },
    });
    expect(gh!.status.recommendation?.text).toMatch(/Revoke the token/);
    expect(gh!.labels).toMatchObject({
      'kubeinspector.io/type': 'CODE_VULNERABILITY',
      'kubeinspector.io/severity': 'CRITICAL',
      'kubeinspector.io/vulnerability-id': 'github-token',
    });
    expect(() => FindingStatusSchema.parse(gh!.status)).not.toThrow();
  });

  it('never hold the secret', () => {
    const text = JSON.stringify(buildCodeFindings(image, matches));
    expect(text).not.toContain(s['github-token']!.slice(4));
    expect(text).not.toContain(s['aws-access-key-id']!.slice(4));
  });

  it('keep their name when the secret moves to another line, and differ per secret and file', () => {
    const moved = fromText(`\n\n\nGITHUB_TOKEN=${s['github-token']}\n`, 'app/.env');
    const a = buildCodeFinding(image, matches[0]!)!;
    const b = buildCodeFinding(image, moved[0]!)!;
    expect(b.name).toBe(a.name);
    expect(b.status.codeVulnerabilityDetails?.filePath?.startLine).toBe(4);
    const other = buildCodeFinding(image, { ...matches[0]!, path: 'app/.env.prod' })!;
    expect(other.name).not.toBe(a.name);
    expect(a.name).toMatch(/^github-token-[a-z0-9-]+$/);
  });

  it('from the pod template name the field and no file', () => {
    const f = buildCodeFinding(workload, {
      ruleId: 'github-token',
      fieldPath: 'spec.template.spec.containers[name=api].env[name=GITHUB_TOKEN].value',
      redacted: 'ghp_****',
      fingerprint: '0123456789abcdef0123',
    })!;
    expect(f.status.codeVulnerabilityDetails?.filePath).toBeUndefined();
    expect(f.status.codeVulnerabilityDetails?.fieldPath).toContain('env[name=GITHUB_TOKEN]');
    expect(f.status.description).toMatch(/anyone who can read the workload object/);
    expect(f.labels['kubeinspector.io/resource-namespace']).toBe('shop');
    expect(() => FindingStatusSchema.parse(f.status)).not.toThrow();
  });

  it('skip a rule id this release does not know', () => {
    expect(buildCodeFinding(image, { ruleId: 'retired-rule', path: 'a' })).toBeUndefined();
  });
});

describe('suppression of code findings', () => {
  const admin = 'kube-inspector-system';
  const rule = (filterCriteria: FilterCriteria): SuppressionRule => ({
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'SuppressionRule',
    metadata: { namespace: admin, name: 'r' },
    spec: { filterCriteria, reason: 'test data' },
  });
  const finding = (path: string, ruleId = 'jwt') => ({
    metadata: { namespace: admin },
    status: buildCodeFinding(image, {
      ruleId,
      path,
      line: 1,
      fingerprint: '0123456789abcdef0123',
      redacted: 'eyJ****',
    })!.status,
  });
  const suppressed = (c: FilterCriteria, f: ReturnType<typeof finding>) =>
    suppressingRule([rule(c)], f, { adminNamespace: admin }) !== undefined;

  it.each<[string, FilterCriteria, string, boolean]>([
    ['by rule id', { ruleId: [{ comparison: 'EQUALS', value: 'jwt' }] }, 'app/a.js', true],
    [
      'by another rule id',
      { ruleId: [{ comparison: 'EQUALS', value: 'github-token' }] },
      'app/a.js',
      false,
    ],
    ['by a ** glob', { filePathGlobs: ['/app/test/**'] }, 'app/test/unit/a.js', true],
    ['by a ** glob outside it', { filePathGlobs: ['/app/test/**'] }, 'app/src/a.js', false],
    ['by an extension glob', { filePathGlobs: ['**/*.min.js'] }, 'srv/static/vendor.min.js', true],
    ['* stays in one segment', { filePathGlobs: ['app/*.js'] }, 'app/lib/a.js', false],
    [
      'rule id and glob together (AND)',
      { ruleId: [{ comparison: 'EQUALS', value: 'jwt' }], filePathGlobs: ['app/fixtures/**'] },
      'app/src/a.js',
      false,
    ],
    [
      'by finding type',
      { findingType: [{ comparison: 'EQUALS', value: 'CODE_VULNERABILITY' }] },
      'x',
      true,
    ],
  ])('%s', (_name, c, path, expected) => {
    expect(suppressed(c, finding(path))).toBe(expected);
  });

  it('a glob never matches a pod template finding, and special characters are literal', () => {
    const f = {
      metadata: { namespace: admin },
      status: buildCodeFinding(workload, {
        ruleId: 'jwt',
        fieldPath: 'spec.x',
        fingerprint: '0123456789abcdef0123',
        redacted: 'eyJ****',
      })!.status,
    };
    expect(suppressed({ filePathGlobs: ['**'] }, f)).toBe(false);
    expect(globRegex('a/(b)+.txt').test('a/(b)+.txt')).toBe(true);
    expect(globRegex('a/(b)+.txt').test('a/bb.txt')).toBe(false);
  });
});
