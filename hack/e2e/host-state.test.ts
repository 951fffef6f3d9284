import { describe, expect, it } from 'vitest';
import { type HostState, leftovers, netfilterRestoreScripts } from './host-state.ts';

const base: HostState = {
  processes: { '10': 'containerd --config a' },
  mounts: ['/', '/proc'],
  links: ['eth0', 'lo'],
  netfilter: ['iptables-save filter :INPUT', 'iptables-save nat :PREROUTING'],
  cgroups: ['/sys/fs/cgroup/memory/system.slice'],
  sysctls: { 'net/ipv4/ip_forward': '0' },
  files: ['/var/lib/dpkg'],
};

describe('leftovers', () => {
  it('is empty for the same state', () => {
    expect(leftovers(base, structuredClone(base))).toEqual([]);
  });

  it('names every kind of thing a node leaves behind', () => {
    const after: HostState = {
      processes: { ...base.processes, '42': 'containerd-shim-runc-v2 -id x' },
      mounts: [...base.mounts, '/run/netns/cni-1'],
      links: [...base.links, 'kinspbr0'],
      netfilter: [...base.netfilter, 'iptables-save filter :KUBE-FIREWALL'],
      cgroups: [...base.cgroups, '/sys/fs/cgroup/memory/kubepods'],
      sysctls: { 'net/ipv4/ip_forward': '1' },
      files: [...base.files, '/var/log/containers'],
    };
    expect(leftovers(base, after)).toEqual([
      'process 42: containerd-shim-runc-v2 -id x',
      'mount /run/netns/cni-1',
      'network link kinspbr0',
      'netfilter iptables-save filter :KUBE-FIREWALL',
      'cgroup /sys/fs/cgroup/memory/kubepods',
      'sysctl net/ipv4/ip_forward=1 (was 0)',
      'file /var/log/containers',
    ]);
  });

  it('counts a process whose pid was reused by another command', () => {
    const after = { ...base, processes: { '10': 'kubelet --config b' } };
    expect(leftovers(base, after)).toEqual(['process 10: kubelet --config b']);
  });
});

describe('netfilterRestoreScripts', () => {
  it('deletes added rules from old chains, then flushes and deletes added chains', () => {
    const before = ['iptables-save filter :INPUT', 'iptables-save filter -A INPUT -j ACCEPT'];
    const after = [
      ...before,
      'iptables-save filter :KUBE-FIREWALL',
      'iptables-save filter -A INPUT -j KUBE-FIREWALL',
      'iptables-save filter -A KUBE-FIREWALL -m comment --comment "block x" -j DROP',
      'ip6tables-save mangle :KUBE-KUBELET-CANARY',
    ];
    expect(netfilterRestoreScripts(before, after)).toEqual({
      'iptables-restore':
        '*filter\n-D INPUT -j KUBE-FIREWALL\n-F KUBE-FIREWALL\n-X KUBE-FIREWALL\nCOMMIT\n',
      'ip6tables-restore': '*mangle\n-F KUBE-KUBELET-CANARY\n-X KUBE-KUBELET-CANARY\nCOMMIT\n',
    });
  });

  it('is empty when nothing was added', () => {
    expect(
      netfilterRestoreScripts(['iptables-save nat :OUTPUT'], ['iptables-save nat :OUTPUT']),
    ).toEqual({});
  });
});

describe('leftovers with markers', () => {
  it("ignores other programs' new processes, not the node's or a pod's", () => {
    const after = {
      ...base,
      processes: {
        ...base.processes,
        '50': 'docker-registry docker-registry serve /elsewhere/config.yml',
        '51': 'docker-registry docker-registry serve /node-work/registry.yml',
        '52': 'sleep sleep 3600 [kubepods]',
      },
    };
    expect(leftovers(base, after, ['/node-work'])).toEqual([
      'process 51: docker-registry docker-registry serve /node-work/registry.yml',
      'process 52: sleep sleep 3600 [kubepods]',
    ]);
  });
});
