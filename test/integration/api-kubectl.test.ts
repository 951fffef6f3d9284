// What a person sees with kubectl once the CRDs are installed and the findings
// API is served: every example applies (server-side dry run, then for real; the
// Finding as the controller, the only writer of findings), kubectl explain
// describes the fields, the inspector category lists every kind, and the printer
// columns show the values that matter.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { GROUP, KINDS } from '../../src/api/v1alpha1/index.ts';
import {
  type SharedFindingsApi,
  controllerUsername,
  deleteClusterObject,
  exampleFiles,
  examplesDir,
  installCrds,
  rewriteExample,
  serveFindingsApi,
} from './api-helpers.ts';
import { createNamespace, eventually, kubeConfig, kubectl } from './helpers.ts';

let kc: KubeConfig;
let namespace: string;
let findingsApi: SharedFindingsApi;
const suffix = Math.random().toString(16).slice(2, 10);
const work = mkdtempSync(join(tmpdir(), 'api-examples-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const clusterObjects: [string, string][] = [];

beforeAll(async () => {
  await installCrds();
  kc = kubeConfig();
  findingsApi = await serveFindingsApi(kc);
  namespace = await createNamespace(kc, 'api-kubectl');
});

afterAll(async () => {
  for (const [kind, name] of clusterObjects) await deleteClusterObject(kc, kind, name);
  await findingsApi?.stop();
});

/** Writes the rewritten example into dir and returns its path. */
function prepare(
  file: string,
  into: string,
  dir: string,
): { path: string; count: number; withStatus: boolean } {
  const docs = parseAllDocuments(readFileSync(join(examplesDir, file), 'utf8'), {
    version: '1.1',
  }).map((d) => d.toJS() as Record<string, unknown>);
  const rewritten = rewriteExample(docs, into, suffix);
  clusterObjects.push(...rewritten.clusterObjects);
  const path = join(dir, basename(file));
  writeFileSync(
    path,
    rewritten.documents.map((d) => stringify(d, { version: '1.1' })).join('---\n'),
  );
  return {
    path,
    count: rewritten.documents.length,
    withStatus: rewritten.documents.some((d) => d.status !== undefined),
  };
}

describe('every example', () => {
  for (const file of exampleFiles().filter((f) => !f.startsWith('scenario'))) {
    it(`${file} passes a server-side dry run, applies, and its status is accepted`, async () => {
      const { path, count, withStatus } = prepare(file, namespace, work);
      // Findings are written by the controller alone (the findings API refuses anyone else).
      const as = file === 'finding.yaml' ? [`--as=${controllerUsername}`] : [];
      const dry = await kubectl(...as, 'apply', '--server-side', '--dry-run=server', '-f', path);
      expect(dry.match(/\(server dry run\)/g)).toHaveLength(count);
      const applied = await kubectl(...as, 'apply', '--server-side', '-f', path);
      expect(applied.match(/serverside-applied/g)).toHaveLength(count);
      if (file === 'covered-resource.yaml') {
        // No status subresource: the apply stored the status with the object (ADR 505).
        const name = `container-image-3f9a6c1e2b7d4058-${suffix}`;
        const stored = await kubectl(
          'get',
          'coveredresource',
          name,
          '-o',
          'jsonpath={.status.scanStatus.reason}',
        );
        expect(stored).toBe('SUCCESSFUL');
        await expect(
          kubectl('apply', '--server-side', '--subresource=status', '-f', path),
        ).rejects.toThrow(/not ?found|NotFound/i);
      } else if (withStatus) {
        const status = await kubectl(
          ...as,
          'apply',
          '--server-side',
          '--subresource=status',
          '-f',
          path,
        );
        expect(status).toMatch(/serverside-applied/);
      }
    });
  }
});

describe('the scenario', () => {
  const scenarioNamespace = `api-scenario-${suffix}`;
  const dir = mkdtempSync(join(tmpdir(), 'api-scenario-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const files = exampleFiles().filter((f) => f.startsWith('scenario'));

  it('applies as a whole folder, namespace first', async () => {
    const total = files.reduce((n, f) => n + prepare(f, scenarioNamespace, dir).count, 0);
    const applied = await kubectl('apply', '--server-side', '-f', dir);
    expect(applied.match(/serverside-applied/g)).toHaveLength(total);
    const out = await kubectl('get', 'inspector', '-n', scenarioNamespace, '-o', 'name');
    // -n lists the namespaced kinds of the category in that namespace (and
    // cluster-scoped objects, which are not namespaced).
    const names = out.trim().split('\n');
    expect(names).toEqual(
      expect.arrayContaining([
        'assessmentrun.kubeinspector.io/storefront-first-run',
        'assessmenttarget.kubeinspector.io/storefront',
        'assessmenttemplate.kubeinspector.io/storefront-nightly',
        'suppressionrule.kubeinspector.io/low-without-fix',
      ]),
    );
    expect(names.filter((n) => /^(finding|assessment|suppression)/.test(n))).toHaveLength(4);
  });

  for (const file of files) {
    it(`${file} passes a server-side dry run`, async () => {
      const path = join(dir, basename(file));
      const dry = await kubectl('apply', '--server-side', '--dry-run=server', '-f', path);
      expect(dry).toMatch(/\(server dry run\)/);
    });
  }
});

describe('kubectl', () => {
  it('explain finding.status.packages prints the description of the field and its fields', async () => {
    const out = await eventually('kubectl explain to know Finding', async () => {
      try {
        return await kubectl('explain', 'finding.status.packages');
      } catch {
        return undefined;
      }
    });
    expect(out).toContain('Vulnerable packages');
    expect(out).toContain('fixedInVersion');
    expect(out).toContain('First version that fixes the vulnerability');
  });

  it('explain shows the documented default and range of a template duration', async () => {
    const out = await kubectl('explain', 'assessmenttemplate.spec.durationSeconds');
    expect(out).toContain('180 to 86400 seconds. Default 3600.');
  });

  it('get inspector -A lists every kind of the API', async () => {
    const out = await kubectl('get', 'inspector', '-A', '-o', 'name');
    for (const info of KINDS) {
      expect(out, info.kind).toContain(`${info.singular}.${info.group ?? GROUP}/`);
    }
  });

  it('api-resources lists eight kinds in the inspector category, CoveredResource with the short name coverage', async () => {
    const out = await kubectl('api-resources', '--categories=inspector', '--no-headers');
    expect(out.trim().split('\n')).toHaveLength(KINDS.length);
    expect(out).toMatch(
      /^coveredresources\s+coverage,cov\s+kubeinspector\.io\/v1alpha1\s+false\s+CoveredResource$/m,
    );
  });

  it('get findings shows Severity, Type, Title, Resource and Status, and selects by severity label', async () => {
    const out = await kubectl(
      'get',
      'findings',
      '-n',
      namespace,
      '-l',
      'kubeinspector.io/severity=HIGH',
    );
    const [header, row] = out.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'SEVERITY',
      'TYPE',
      'TITLE',
      'RESOURCE',
      'STATUS',
      'AGE',
    ]);
    expect(row).toMatch(
      /HIGH\s+PACKAGE_VULNERABILITY\s+CVE-2024-6387 - openssh-server\s+worker-eu-1a-7\s+ACTIVE/,
    );
  });

  it('get coverage shows Type, Resource, Status, Reason, Last Scanned and Scan Type', async () => {
    const out = await kubectl('get', 'coverage', `container-image-3f9a6c1e2b7d4058-${suffix}`);
    const [header, row] = out.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'TYPE',
      'RESOURCE',
      'STATUS',
      'REASON',
      'LAST SCANNED',
      'SCAN TYPE',
      'AGE',
    ]);
    expect(row).toMatch(
      /CONTAINER_IMAGE\s+registry\.example\/shop\/web@sha256:\w+\s+ACTIVE\s+SUCCESSFUL\s+\d+[smhd]\s+PACKAGE/,
    );
  });

  it('get assessmentruns shows State, Template, Critical, High, Started', async () => {
    const out = await kubectl('get', 'assessmentruns', '-n', namespace);
    const [header, ...rows] = out.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'STATE',
      'TEMPLATE',
      'CRITICAL',
      'HIGH',
      'STARTED',
      'AGE',
    ]);
    expect(rows.join('\n')).toMatch(/storefront-adhoc-1\s+storefront-nightly/);
  });

  it('get nodeinventories shows OS, architecture and the package count', async () => {
    const out = await kubectl('get', 'ninv', `worker-eu-1a-7-${suffix}`);
    expect(out).toMatch(/OS\s+ARCH\s+PACKAGES\s+COLLECTED\s+AGE/);
    expect(out).toMatch(/Debian GNU\/Linux 12 \(bookworm\)\s+amd64\s+3\s/);
  });

  it('get assessmenttemplates shows target, duration and schedule', async () => {
    const out = await kubectl('get', 'atemplate', 'storefront-nightly', '-n', namespace);
    expect(out).toMatch(/TARGET\s+DURATION\s+SCHEDULE\s+LAST RUN\s+AGE/);
    expect(out).toMatch(/storefront\s+900\s+30 2 \* \* \*/);
  });
});
