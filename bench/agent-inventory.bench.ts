/**
 * Node agent benchmark (`make bench`): the size of a NodeInventory at the package limit, and
 * how long a collection takes on real root filesystems.
 *
 *   1. JSON bytes of a NodeInventory of 5,000 realistic Debian 12 packages (names, versions
 *      with epochs and security suffixes, purls with arch and distro qualifiers, source names),
 *      against etcd's default 1.5 MiB and the API server's 3 MiB request limits;
 *   2. collection of this machine's own root filesystem (its dpkg or rpm database, and the
 *      language packages under /usr/lib and /usr/local/lib), the median of BENCH_RUNS runs;
 *   3. the same for the debootstrap Debian 12 root filesystem when it has been built
 *      (hack/agent/debootstrap-rootfs.sh).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { collect } from '../src/agent/collect.ts';
import { inventoryStatus } from '../src/agent/inventory.ts';
import { realisticDebianPackages } from '../src/agent/testing.ts';
import { operatingSystem } from '../src/scanner/analyzers/os-release.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const status = inventoryStatus(
  {
    os: operatingSystem({
      ID: 'debian',
      VERSION_ID: '12',
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
    })!,
    packages: realisticDebianPackages(5000),
    kernelVersion: '6.1.0-28-cloud-amd64',
    architecture: 'amd64',
    errors: [],
    durationMs: 1234,
  },
  {
    nodeName: 'ip-10-0-123-45.eu-west-1.compute.internal',
    agentVersion: '0.1.0',
    collectedAt: new Date(),
    packageLimit: 5000,
  },
);
const bytes = Buffer.byteLength(
  JSON.stringify({
    apiVersion: 'kubeinspector.io/v1alpha1',
    kind: 'NodeInventory',
    metadata: { name: status.nodeName },
    status,
  }),
);
console.log(
  `NodeInventory at 5,000 packages: ${bytes} bytes (${(bytes / MiB).toFixed(2)} MiB; ` +
    `${Math.round((bytes / (1.5 * MiB)) * 100)}% of etcd's 1.5 MiB, ${Math.round((bytes / (3 * MiB)) * 100)}% of the API server's 3 MiB); ` +
    `${Math.round(bytes / 5000)} bytes a package`,
);

async function timeCollection(name: string, root: string): Promise<void> {
  const times: number[] = [];
  let found = 0;
  let errors: string[] = [];
  for (let i = 0; i < runs; i++) {
    const c = await collect(root, { timeLimitMs: 900_000 });
    times.push(c.durationMs);
    found = c.packages.length;
    errors = c.errors.map((e) => e.code);
  }
  console.log(
    `collection of ${name}: median ${median(times)} ms over ${runs} runs, ${found} packages` +
      (errors.length > 0 ? `, errors ${errors.join(' ')}` : ''),
  );
}

await timeCollection('this machine (/)', '/');
const debian = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'kube-inspector/rootfs/debian-bookworm-minbase-v1',
);
if (existsSync(debian)) await timeCollection('the debootstrap Debian 12 rootfs', debian);
else console.log('debootstrap rootfs not built (hack/agent/debootstrap-rootfs.sh): skipped');
