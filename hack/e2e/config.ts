// Configuration files of the end-to-end worker node: containerd, its registry
// hosts, the CNI network, the kubelet, kube-proxy and the loopback registry.

export interface NodeLayout {
  /** The node's working folder: every file the node writes that can be relocated. */
  work: string;
  registry: string;
  registryPort: number;
  /** A second registry that requires basic auth (htpasswd in the work folder). */
  authRegistryPort: number;
  cniBinDir: string;
  bridge: string;
  network: string;
  podCidr: string;
  nodeName: string;
  kubeletPort: number;
  kubeletHealthzPort: number;
  proxyHealthzPort: number;
  proxyMetricsPort: number;
}

export function containerdConfig(n: NodeLayout): string {
  return `version = 2
root = "${n.work}/containerd/root"
state = "${n.work}/containerd/state"

[grpc]
  address = "${n.work}/containerd/containerd.sock"

[ttrpc]
  address = "${n.work}/containerd/containerd.sock.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${n.work}/containerd/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    # Built locally and pushed to the loopback registry (hack/e2e/pause).
    sandbox_image = "${n.registry}/pause:1"
    # Without CAP_SYS_RESOURCE runc cannot lower a container's oom_score_adj below its own
    # (the sandbox's -998 fails with "Permission denied"): clamp it to containerd's value.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${n.cniBinDir}"
      conf_dir = "${n.work}/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "${n.work}/containerd/certs.d"
`;
}

/** hosts.toml: plain HTTP to the loopback registry (host:port). */
export function registryHosts(registry: string): string {
  return `server = "http://${registry}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

export function cniConfig(n: NodeLayout): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: n.network,
      plugins: [
        {
          type: 'bridge',
          bridge: n.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: `${n.work}/cni/ipam`,
            ranges: [[{ subnet: n.podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * KubeletConfiguration for a throw-away node on a cgroup v1 host without systemd: disk
 * eviction and image garbage collection off (as kind's nodes), serving on loopback.
 */
export function kubeletConfig(n: NodeLayout): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${n.work}/containerd/containerd.sock
imageServiceEndpoint: unix://${n.work}/containerd/containerd.sock
address: 127.0.0.1
port: ${n.kubeletPort}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${n.kubeletHealthzPort}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${n.work}/pki/ca.crt
authorization:
  mode: Webhook
rotateCertificates: false
serverTLSBootstrap: false
clusterDomain: cluster.local
podCIDR: ${n.podCidr}
podLogsDir: ${n.work}/pod-logs
volumePluginDir: ${n.work}/kubelet/volume-plugins
evictionHard:
  imagefs.available: "0%"
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
imageGCHighThresholdPercent: 100
maxPods: 110
`;
}

/** kube-proxy in iptables mode; no sysctl writes (conntrack sizing, localhost NodePorts) */
export function kubeProxyConfig(n: NodeLayout, kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: iptables
clusterCIDR: ${n.podCidr}
hostnameOverride: ${n.nodeName}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:${n.proxyHealthzPort}
metricsBindAddress: 127.0.0.1:${n.proxyMetricsPort}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
`;
}

/** docker-registry's config; with `htpasswd`, basic auth against that file. */
export function registryConfig(storage: string, addr: string, htpasswd?: string): string {
  const auth = htpasswd
    ? `auth:
  htpasswd:
    realm: kube-inspector-e2e
    path: ${htpasswd}
`
    : '';
  return `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: ${addr}
${auth}`;
}
