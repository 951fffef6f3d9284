// manifests/ as a person installs it: `kubectl apply -k manifests/` against a real control
// plane (of this file's own: it installs cluster-scoped objects), every object accepted by a
// server-side dry run, and the controller Deployment checked against the image and the
// controller's flags; the findings API's objects (APIService, Service, certificate, PVC,
// delegated authentication bindings) agree with each other and with those flags, and no
// Finding CRD or deletion admission policy is installed.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/control-plane/control-plane.ts';
import { parseControllerArgs } from '../../src/cli/controller.ts';
import { FINDINGS_API_LABEL, FINDINGS_API_LABEL_VALUE } from '../../src/cli/findings-pod-label.ts';
import {
  ADMIN_NAMESPACE,
  applyManifests,
  kubectlOf,
  CONTROLLER_SA,
  type Manifest,
  expandedArgs,
  find,
  manifestsDir,
  podSpec,
  renderManifests,
  repoRoot,
} from './manifests.ts';

let plane: ControlPlane;
let objects: Manifest[];

let kubectl: ReturnType<typeof kubectlOf>;

beforeAll(async () => {
  plane = await startControlPlane({ log: () => {} });
  kubectl = kubectlOf(plane);
  objects = await renderManifests(plane.binaries.kubectl);
});

afterAll(async () => {
  await plane?.stop();
});

const NAMESPACED = new Set([
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'Deployment',
  'DaemonSet',
  'Service',
  'ConfigMap',
  'PodDisruptionBudget',
  'ServiceMonitor',
  'PrometheusRule',
  'PersistentVolumeClaim',
  'Issuer',
  'Certificate',
]);

describe('manifests/', () => {
  it('renders the namespace, the CRDs, the controller and the monitoring objects', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Namespace',
      'CustomResourceDefinition',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceMonitor',
      'PrometheusRule',
      'ConfigMap',
      'APIService',
      'PersistentVolumeClaim',
      'Issuer',
      'Certificate',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds).toHaveLength(7);
    // Finding is served by the findings API: no CRD, and no admission policy for its deletion.
    expect(crds.map((c) => c.metadata.name)).not.toContain('findings.kubeinspector.io');
    const policies = objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'));
    expect(policies.map((p) => p.metadata.name)).not.toContain('kube-inspector-finding-deletion');
    expect(JSON.stringify(policies)).not.toMatch(/"findings"/);
    expect(find(objects, 'Namespace').metadata.name).toBe(ADMIN_NAMESPACE);
    for (const o of objects.filter((x) => NAMESPACED.has(x.kind))) {
      // The one exception: reading kube-apiserver's front-proxy settings is granted in kube-system.
      const expected =
        o.kind === 'RoleBinding' && o.metadata.name.endsWith('-authentication-reader')
          ? 'kube-system'
          : ADMIN_NAMESPACE;
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(expected);
    }
    for (const o of objects) {
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], o.metadata.name).toBe(
        'kube-inspector',
      );
    }
  });

  it('applies with kubectl apply -k, every object passes a server-side dry run, and a second apply changes nothing', async () => {
    const applied = await applyManifests(kubectl);
    expect(applied).toContain('deployment.apps/kube-inspector-controller created');
    expect(applied).toContain('prometheusrule.monitoring.coreos.com/kube-inspector created');

    for (const o of objects) {
      const out = await kubectl.withInput(
        JSON.stringify(o),
        'apply',
        '--dry-run=server',
        '-f',
        '-',
        '-o',
        'name',
      );
      expect(out.trim(), `${o.kind} ${o.metadata.name}`).not.toBe('');
    }

    // kubectl reports the PodDisruptionBudget "configured" on every apply (its selector is
    // always sent), so "nothing changed" is read from the stored objects' resourceVersions.
    const versions = async (): Promise<string[]> =>
      (
        JSON.parse(await kubectl('get', '-k', manifestsDir, '-o', 'json')) as {
          items: { kind: string; metadata: { name: string; resourceVersion: string } }[];
        }
      ).items.map((i) => `${i.kind}/${i.metadata.name}@${i.metadata.resourceVersion}`);
    const before = await versions();
    expect(before).toHaveLength(objects.length);
    await kubectl('apply', '-k', manifestsDir);
    expect(await versions()).toEqual(before);

    const stored = JSON.parse(
      await kubectl(
        '-n',
        ADMIN_NAMESPACE,
        'get',
        'deployment',
        'kube-inspector-controller',
        '-o',
        'json',
      ),
    ) as { spec: { replicas: number } };
    expect(stored.spec.replicas).toBe(1);
  });

  it('builds with the PostgreSQL component as its comment shows, and the result passes a server-side dry run', async () => {
    // A kustomization of the user's own next to manifests/, as the component's comment says.
    const site = await mkdtemp(join(tmpdir(), 'ki-site-'));
    try {
      await writeFile(
        join(site, 'kustomization.yaml'),
        `resources:\n  - ${relative(site, manifestsDir)}\ncomponents:\n  - ${relative(site, join(manifestsDir, 'components', 'postgres'))}\n`,
      );
      const built = await renderManifests(plane.binaries.kubectl, site);
      const deployment = find(built, 'Deployment', 'kube-inspector-controller') as Manifest & {
        spec: { replicas: number };
      };
      const spec = podSpec(deployment);
      const args = expandedArgs(built, spec.containers[0]!);
      expect(deployment.spec.replicas).toBe(3);
      expect(args).toContain('--findings-store=postgres');
      expect(args).toContain('--findings-postgres-url-file=/etc/kube-inspector/postgres/url');
      expect(args.some((a) => a.startsWith('--findings-db'))).toBe(false);
      // The flags are ones the controller accepts, with the store it names.
      const parsed = parseControllerArgs(args.slice(1), { POD_NAMESPACE: ADMIN_NAMESPACE });
      expect(parsed.findings).toMatchObject({
        store: 'postgres',
        postgresUrlFile: '/etc/kube-inspector/postgres/url',
      });
      const volumes = (spec.volumes ?? []) as { name: string; secret?: { secretName: string } }[];
      expect(volumes.map((v) => v.name)).not.toContain('findings');
      expect(volumes.find((v) => v.name === 'postgres')?.secret?.secretName).toBe(
        'kube-inspector-findings-postgres',
      );
      expect(spec.containers[0]!.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
      expect(spec.terminationGracePeriodSeconds).toBe(40);
      expect(built.some((o) => o.kind === 'PersistentVolumeClaim')).toBe(false);
      // Every replica serves: the findings API Service selects every controller pod (ADR 710).
      const service = find(built, 'Service', 'kube-inspector-findings-api') as unknown as {
        spec: { selector: Record<string, string> };
      };
      expect(service.spec.selector[FINDINGS_API_LABEL]).toBeUndefined();
      expect(service.spec.selector).toEqual({
        'app.kubernetes.io/name': 'kube-inspector',
        'app.kubernetes.io/component': 'controller',
      });
      expect(
        (deployment as unknown as { spec: { template: { metadata: { labels: object } } } }).spec
          .template.metadata.labels,
      ).toMatchObject(service.spec.selector);
      // Every replica Ready and spread over nodes: one unavailable at a time (ADR 709).
      expect(
        (find(built, 'PodDisruptionBudget') as unknown as { spec: { maxUnavailable: number } }).spec
          .maxUnavailable,
      ).toBe(1);
      // Its namespace must exist for the dry run (the base's apply above creates it too).
      await kubectl.withInput(JSON.stringify(find(built, 'Namespace')), 'apply', '-f', '-');
      const out = await kubectl.withInput(
        JSON.stringify(deployment),
        'apply',
        '--dry-run=server',
        '-f',
        '-',
        '-o',
        'name',
      );
      expect(out.trim()).toBe('deployment.apps/kube-inspector-controller');
    } finally {
      await rm(site, { recursive: true, force: true });
    }
  });

  it('runs one controller with leader election, a restricted security context, probes, limits, emptyDir caches and the findings volume', () => {
    const deployment = find(objects, 'Deployment', 'kube-inspector-controller');
    const spec = podSpec(deployment);
    const pod = spec as unknown as {
      securityContext: Record<string, unknown>;
    };
    // One replica, recreated rather than rolled: it owns the findings database (ReadWriteOnce).
    expect(
      (deployment as unknown as { spec: { replicas: number; strategy: { type: string } } }).spec,
    ).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    expect(spec.serviceAccountName).toBe(CONTROLLER_SA);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.containers).toHaveLength(1);
    const c = spec.containers[0]! as unknown as {
      image: string;
      args: string[];
      command?: string[];
      securityContext: Record<string, unknown>;
      livenessProbe: { httpGet: { path: string; port: string } };
      readinessProbe: { httpGet: { path: string; port: string } };
      ports: { name: string; containerPort: number }[];
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      volumeMounts: { name: string; mountPath: string }[];
      env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    };
    expect(c.image).toBe('kube-inspector:dev');
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const port = (name: string): number | undefined =>
      c.ports.find((p) => p.name === name)?.containerPort;
    expect(port('metrics')).toBe(8080);
    expect(port('health')).toBe(8081);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    for (const r of ['cpu', 'memory']) {
      expect(c.resources.requests[r], r).toBeDefined();
      expect(c.resources.limits[r], r).toBeDefined();
    }
    expect(c.env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'metadata.namespace',
    );
    // Every mount is an emptyDir with a size limit, the findings database's PVC, or the serving
    // certificate's Secret (read-only): nothing is written to the image.
    const volumes = spec.volumes as unknown as {
      name: string;
      emptyDir?: { sizeLimit?: string };
      persistentVolumeClaim?: { claimName: string };
      secret?: { secretName: string };
    }[];
    for (const m of c.volumeMounts) {
      const v = volumes.find((x) => x.name === m.name);
      if (v?.persistentVolumeClaim !== undefined) {
        expect(v.persistentVolumeClaim.claimName).toBe('kube-inspector-findings');
        expect(find(objects, 'PersistentVolumeClaim', 'kube-inspector-findings')).toBeDefined();
      } else if (v?.secret !== undefined) {
        expect((m as { readOnly?: boolean }).readOnly, m.mountPath).toBe(true);
      } else {
        expect(v?.emptyDir?.sizeLimit, m.mountPath).toMatch(/^\d+[MG]i$/);
      }
    }
    expect(c.volumeMounts.map((m) => m.mountPath)).toContain('/tmp');

    const pdb = find(objects, 'PodDisruptionBudget') as unknown as {
      spec: {
        maxUnavailable: number | string;
        unhealthyPodEvictionPolicy?: string;
        selector: { matchLabels: Record<string, string> };
      };
    };
    // Every replica shares the one node of the ReadWriteOnce volume and only the lease holder
    // is Ready: a drain may take them all (ADR 709; the findings API answers 503 meanwhile).
    expect(pdb.spec.maxUnavailable).toBe('100%');
    // The standby is never Ready: it goes at once (the default would wait for a healthy budget).
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    const podLabels = (
      deployment as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      }
    ).spec.template.metadata.labels;
    expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  it('starts the image the Dockerfile builds with the controller command and flags the controller accepts', async () => {
    const dockerfile = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]$/m);
    const c = podSpec(find(objects, 'Deployment', 'kube-inspector-controller')).containers[0]!;
    expect(c.command, 'the image entrypoint runs the CLI').toBeUndefined();
    const args = expandedArgs(objects, c);
    expect(args[0]).toBe('controller');
    const config = parseControllerArgs(args.slice(1), { POD_NAMESPACE: ADMIN_NAMESPACE });
    expect(config).toMatchObject({
      leaderElect: true,
      adminNamespace: ADMIN_NAMESPACE,
      metrics: { port: 8080 },
      probes: { port: 8081 },
      scanConcurrency: 4,
      refreshMs: 3_600_000,
    });
    // The shipped sources: the OSV exports of every ecosystem read, each an http(s) URL.
    expect(config.vulnerabilityDb).toHaveLength(13);
    for (const source of config.vulnerabilityDb!) expect(source).toMatch(/^https:\/\//);
    // The layer cache is one of the emptyDir mounts.
    const mounts = (c as unknown as { volumeMounts: { mountPath: string }[] }).volumeMounts;
    expect(mounts.map((m) => m.mountPath)).toContain(config.scanCacheDir);
  });

  it('registers the findings API: APIService, Service, serving certificate, flags and delegated authentication agree', () => {
    type Obj = Manifest & { spec: Record<string, unknown> };
    const apiService = find(objects, 'APIService', 'v1alpha1.findings.kubeinspector.io') as Obj;
    const target = apiService.spec.service as { name: string; namespace: string; port: number };
    expect(apiService.spec).toMatchObject({
      group: 'findings.kubeinspector.io',
      version: 'v1alpha1',
    });
    expect(apiService.spec.insecureSkipTLSVerify).toBeUndefined();
    const annotations = apiService.metadata.annotations as Record<string, string> | undefined;
    expect(annotations?.['cert-manager.io/inject-ca-from']).toMatch(
      new RegExp(`^${ADMIN_NAMESPACE}/`),
    );
    const service = find(objects, 'Service', target.name) as unknown as {
      metadata: { namespace: string };
      spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    };
    expect(service.metadata.namespace).toBe(target.namespace);
    const port = service.spec.ports.find((p) => p.port === target.port);
    expect(port?.targetPort).toBe('findings-api');
    // The Service reaches the controller's pods on the port its flag serves.
    const deployment = find(objects, 'Deployment', 'kube-inspector-controller') as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    // Among them, the one labelled as serving the SQLite store (ADR 710): the label is the
    // replica's own doing, never the template's.
    const { [FINDINGS_API_LABEL]: servingLabel, ...podLabels } = service.spec.selector;
    expect(servingLabel).toBe(FINDINGS_API_LABEL_VALUE);
    expect(deployment.spec.template.metadata.labels).toMatchObject(podLabels);
    expect(deployment.spec.template.metadata.labels[FINDINGS_API_LABEL]).toBeUndefined();
    const c = podSpec(find(objects, 'Deployment', 'kube-inspector-controller')).containers[0]!;
    const ports = (c as unknown as { ports: { name: string; containerPort: number }[] }).ports;
    const config = parseControllerArgs(expandedArgs(objects, c).slice(1), {
      POD_NAMESPACE: ADMIN_NAMESPACE,
    });
    expect(ports.find((p) => p.name === 'findings-api')?.containerPort).toBe(config.findings.port);
    const mounts = (c as unknown as { volumeMounts: { mountPath: string }[] }).volumeMounts.map(
      (m) => m.mountPath,
    );
    expect(mounts.some((m) => config.findings.dbPath.startsWith(`${m}/`))).toBe(true);
    expect(mounts.some((m) => config.findings.certFile.startsWith(`${m}/`))).toBe(true);
    // The serving certificate names the Service as kube-apiserver dials it.
    const certificates = objects.filter((o) => o.kind === 'Certificate') as Obj[];
    const serving = certificates.find((o) =>
      ((o.spec.dnsNames as string[] | undefined) ?? []).includes(
        `${target.name}.${target.namespace}.svc`,
      ),
    );
    expect(serving, 'a Certificate for <service>.<namespace>.svc').toBeDefined();
    // Delegated authentication and authorisation, as every extension API server has.
    const bindings = objects.filter((o) => /RoleBinding$/.test(o.kind)) as unknown as {
      kind: string;
      metadata: { namespace?: string };
      roleRef: { name: string };
      subjects: { kind: string; name: string }[];
    }[];
    const boundTo = (role: string) =>
      bindings.find(
        (b) => b.roleRef.name === role && b.subjects.some((x) => x.name === CONTROLLER_SA),
      );
    expect(boundTo('system:auth-delegator')?.kind).toBe('ClusterRoleBinding');
    expect(boundTo('extension-apiserver-authentication-reader')?.metadata.namespace).toBe(
      'kube-system',
    );
  });

  it('exposes the metrics port to the ServiceMonitor through the Service', () => {
    const service = find(objects, 'Service', 'kube-inspector-controller-metrics') as unknown as {
      metadata: { name: string; labels: Record<string, string> };
      spec: {
        selector: Record<string, string>;
        ports: { name: string; port: number; targetPort: string }[];
      };
    };
    const monitor = find(objects, 'ServiceMonitor') as unknown as {
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    };
    expect(service.spec.ports).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s' },
    ]);
    // The alerts select the controller-runtime metrics by this job name.
    const rule = JSON.stringify(find(objects, 'PrometheusRule'));
    expect(rule).toContain(`job=\\"${service.metadata.name}\\"`);
  });

  it('ships the Grafana dashboard as a ConfigMap with the grafana_dashboard label', async () => {
    const cm = find(objects, 'ConfigMap', 'kube-inspector-dashboard') as Manifest & {
      data: Record<string, string>;
    };
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const json = cm.data['kube-inspector.json'] ?? '';
    expect(json).toBe(await readFile(join(manifestsDir, 'monitoring', 'dashboard.json'), 'utf8'));
    expect(JSON.parse(json)).toMatchObject({ uid: 'kube-inspector', title: 'kube-inspector' });
  });

  it('grants no wildcard and never lists or watches Secrets', () => {
    const rules = objects
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
      .flatMap(
        (o) =>
          (
            o as unknown as {
              rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
            }
          ).rules,
      );
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
      if (r.apiGroups.includes('') && r.resources.includes('secrets')) {
        expect(r.verbs).toEqual(['get']);
      }
    }
  });
});
