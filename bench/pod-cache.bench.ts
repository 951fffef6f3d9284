/**
 * The memory of the controller's pod cache (`make bench`): pods as the API server returns them
 * (managedFields, ownerReferences, a pod spec with environment, resources, probes, volumes and
 * tolerations, kubelet status), trimmed by the cache's transform and held in a Map, as the cache
 * holds them. Pods of a ReplicaSet stay trimmed to images and status; bare Pods (no controller)
 * keep their whole spec for the workload rules packages. Measures the heap each kind takes after
 * a forced GC, the CPU time of the transform, and for comparison what keeping every pod's spec
 * would cost.
 *
 * Sizes (environment): BENCH_OWNED_PODS (50000), BENCH_BARE_PODS (500). Run with --expose-gc.
 */
import { keepsPodSpec, trimPod } from '../src/controllers/informers.ts';
import type { KubeObject } from '../src/kube/resources.ts';

const size = (name: string, def: number): number => {
  const v = Number(process.env[name] ?? def);
  if (!Number.isInteger(v) || v < 0)
    throw new Error(`${name} must be a non-negative integer, not ${process.env[name]}`);
  return v;
};

const OWNED = size('BENCH_OWNED_PODS', 50_000);
const BARE = size('BENCH_BARE_PODS', 500);

if (global.gc === undefined) throw new Error('run with node --expose-gc');
const gc = global.gc;

const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');

/** A pod as the API server returns it; owned by a ReplicaSet unless `bare`. */
function pod(i: number, bare: boolean): KubeObject {
  const app = `app-${i % 1000}`;
  const now = new Date(1_700_000_000_000 + i * 1000).toISOString();
  const image = `registry.example/team/${app}@sha256:${hex(i % 2000, 64)}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: bare ? `debug-${i}` : `${app}-7c9d8f6b5-${hex(i, 5)}`,
      namespace: `ns-${i % 100}`,
      uid: `${hex(i, 8)}-0000-4000-8000-${hex(i, 12)}`,
      resourceVersion: String(100_000 + i),
      creationTimestamp: now,
      labels: { app, 'pod-template-hash': '7c9d8f6b5', team: `team-${i % 20}` },
      annotations: {
        'kubectl.kubernetes.io/restartedAt': now,
        'prometheus.io/scrape': 'true',
      },
      ...(bare
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'ReplicaSet',
                name: `${app}-7c9d8f6b5`,
                uid: `rs-${hex(i % 1000, 8)}`,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }),
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: now,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:labels': {} }, 'f:spec': { 'f:containers': {} } },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: now,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {} } },
          subresource: 'status',
        },
      ],
    },
    spec: {
      nodeName: `node-${i % 5000}`,
      serviceAccountName: app,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: {
            requests: { cpu: '100m', memory: '128Mi' },
            limits: { cpu: '500m', memory: '256Mi' },
          },
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 10 },
          volumeMounts: [
            {
              name: 'kube-api-access',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            },
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          terminationMessagePath: '/dev/termination-log',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [
        {
          name: 'kube-api-access',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              {
                configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
              },
            ],
          },
        },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: {
      phase: 'Running',
      startTime: now,
      podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastTransitionTime: now,
      })),
      containerStatuses: [
        {
          name: 'app',
          image,
          imageID: image,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: now } },
        },
      ],
    },
  };
}

/** Heap taken by the trimmed pods (bytes, after GC) and the transform's CPU seconds. */
function hold(
  count: number,
  bare: boolean,
  transform: (p: KubeObject) => KubeObject,
): { bytes: number; cpuSeconds: number } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new Map<string, KubeObject>();
  let cpu = 0;
  for (let i = 0; i < count; i++) {
    // Built one at a time, as objects arrive from a watch: only the trimmed copy stays.
    const p = pod(i, bare);
    const t0 = process.cpuUsage();
    const t = transform(p);
    const d = process.cpuUsage(t0);
    cpu += d.user + d.system;
    cache.set(`${t.metadata.namespace}/${t.metadata.name}`, t);
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (cache.size !== count) throw new Error('lost pods');
  return { bytes, cpuSeconds: cpu / 1e6 };
}

const kib = (b: number, n: number) => (n === 0 ? '-' : `${(b / n / 1024).toFixed(2)} KiB`);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

if (keepsPodSpec(pod(0, false).metadata) || !keepsPodSpec(pod(0, true).metadata))
  throw new Error('the bench pods are not what keepsPodSpec expects');
const owned = hold(OWNED, false, trimPod);
const bare = hold(BARE, true, trimPod);
// For comparison: every pod keeping its whole spec (as a bare Pod does).
const everySpec = hold(OWNED, true, trimPod);
console.log(`pod cache: ${OWNED} pods of ReplicaSets, ${BARE} bare Pods`);
console.log(
  `  pods of ReplicaSets (trimmed): ${mib(owned.bytes)}, ${kib(owned.bytes, OWNED)} a pod, transform ${owned.cpuSeconds.toFixed(2)} CPU s`,
);
console.log(
  `  bare Pods (whole spec):        ${mib(bare.bytes)}, ${kib(bare.bytes, BARE)} a pod, transform ${bare.cpuSeconds.toFixed(2)} CPU s`,
);
console.log(
  `  if all ${OWNED} kept their spec: ${mib(everySpec.bytes)}, ${kib(everySpec.bytes, OWNED)} a pod`,
);
