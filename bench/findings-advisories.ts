/**
 * OSV advisories for the coverage benchmark's cluster, so that its finished scans turn into as
 * many findings as a real cluster's: `perNode` findings for a node running
 * BOOKWORM_PACKAGES, and `perImage` for an image, which also carries `IMAGE_PACKAGES`
 * (application libraries installed with dpkg beside the base system). Each advisory affects one
 * source package from version 0 up to a fixed version above the installed one (most) or with no
 * fix (some), with a description of a real advisory's length; every image shares them, as
 * images built on one base share their base's vulnerabilities.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InventoryPackage } from '../src/api/v1alpha1/node-inventory.ts';
import { seededRandom } from '../src/vulndb/testing/random.ts';

/** How many libraries an image adds to the base system. */
const IMAGE_LIBRARIES = 60;

/** Libraries installed in every benchmark image besides the base system. */
export const IMAGE_PACKAGES = Array.from({ length: IMAGE_LIBRARIES }, (_, i) => ({
  name: `libbench${i}`,
  version: `1.${i % 7}.${i % 5}-1`,
}));

const WORDS =
  'a heap based buffer overflow in the parser allows remote attackers to execute arbitrary code or cause a denial of service via a crafted certificate when the library processes untrusted input from the network because a length field is not validated before copying memory'.split(
    ' ',
  );

function advisory(id: string, pkg: string, fixed: string | undefined, seed: number): unknown {
  const rng = seededRandom(seed);
  const length = 200 + Math.floor(1300 * rng.next() ** 2.2);
  let details = '';
  while (details.length < length) details += `${rng.pick(WORDS)} `;
  const events: Record<string, string>[] = [{ introduced: '0' }];
  if (fixed !== undefined) events.push({ fixed });
  return {
    id,
    modified: '2026-11-30T00:00:00Z',
    upstream: [id.replace(/^DEBIAN-/, '')],
    details: details.trim(),
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: pkg },
        ranges: [{ type: 'ECOSYSTEM', events }],
        ecosystem_specific: { urgency: rng.pick(['low', 'medium', 'high', 'not yet assigned']) },
      },
    ],
  };
}

/**
 * Writes the advisories as OSV JSON files into `dir/bench/`; returns how many. The base system's
 * source packages share `perNode` advisories; the image libraries share `perImage - perNode`.
 */
export function writeBenchAdvisories(
  dir: string,
  base: readonly InventoryPackage[],
  perNode: number,
  perImage: number,
): number {
  const out = join(dir, 'bench');
  mkdirSync(out, { recursive: true });
  const sources = [...new Set(base.map((p) => p.sourceName ?? p.name))];
  const targets = [
    ...Array.from({ length: Math.max(0, perNode) }, (_, i) => sources[i % sources.length]!),
    ...Array.from(
      { length: Math.max(0, perImage - perNode) },
      (_, i) => IMAGE_PACKAGES[i % IMAGE_PACKAGES.length]!.name,
    ),
  ];
  targets.forEach((pkg, i) => {
    const id = `DEBIAN-CVE-2026-${String(10_000 + i)}`;
    // Two in three are fixed in a version far above any installed one ('99' sorts after them).
    const fixed = i % 3 === 2 ? undefined : `99:${i}-1`;
    writeFileSync(join(out, `${id}.json`), JSON.stringify(advisory(id, pkg, fixed, i)));
  });
  return targets.length;
}
