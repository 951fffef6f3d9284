import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mutate, generatePairs, type Random } from '../testing/random.ts';
import { compareMaven } from './maven.ts';

const alphabet = [
  '0',
  '1',
  '2',
  '10',
  '01',
  '.',
  '-',
  '.',
  '-',
  'a',
  'b',
  'm',
  'alpha',
  'beta',
  'milestone',
  'rc',
  'cr',
  'snapshot',
  'SNAPSHOT',
  'ga',
  'final',
  'Final',
  'release',
  'RELEASE',
  'sp',
  'jre',
  'android',
  'x',
  'v',
  'M',
];

function randomVersion(rng: Random): string[] {
  const head = [rng.pick(['1', '2', '0', '10'])];
  return head.concat(Array.from({ length: rng.int(6) }, () => rng.pick(alphabet)));
}

const pairsOf = (count: number, seed: number): [string, string][] =>
  generatePairs(count, seed, {
    random: randomVersion,
    near: (rng, a) => mutate(rng, a, alphabet),
    nearChance: 0.8,
    render: (v) => v.join(''),
    valid: (v) => v.length > 0,
  });

const harness = `
import java.io.*;
import org.apache.maven.artifact.versioning.ComparableVersion;
public class Compare {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    StringBuilder out = new StringBuilder();
    for (String line; (line = in.readLine()) != null; ) {
      String[] p = line.split("\\t", -1);
      int c = new ComparableVersion(p[0]).compareTo(new ComparableVersion(p[1]));
      out.append(Integer.signum(c)).append('\\n');
    }
    System.out.print(out);
  }
}
`;

/** Maven's own ComparableVersion (Debian's libmaven3-core-java) run by a single-file Java program. */
function mavenOracle(pairs: [string, string][]): number[] {
  const jar = '/usr/share/java/maven3-artifact.jar';
  if (!existsSync(jar)) throw new Error(`${jar} is missing: install libmaven3-core-java`);
  const dir = mkdtempSync(join(tmpdir(), 'maven-oracle-'));
  try {
    const file = join(dir, 'Compare.java');
    writeFileSync(file, harness);
    const out = execFileSync('java', ['-cp', jar, file], {
      input: pairs.map(([a, b]) => `${a}\t${b}`).join('\n') + '\n',
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    return out.trim().split('\n').map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Maven version order', () => {
  it.each([
    ['1.0-alpha-1', '1.0', -1],
    ['1.0.a1', '1.0-alpha1', 0],
    ['1.0-SNAPSHOT', '1.0', -1],
    ['1.0-rc1', '1.0-cr1', 0],
    ['1.0', '1.0.0-ga', 0],
    ['1.0.Final', '1.0', 0],
    ['1.0', '1.0-sp1', -1],
    ['1.0-sp1', '1.0.1', -1],
    ['2.13.4', '2.13.4.2', -1],
    ['2.15.0-rc1', '2.15.0', -1],
    ['32.0.0-android', '32.0.1-jre', -1],
    ['5.3.18.RELEASE', '5.3.18', 0],
    ['9.4.48.v20220622', '9.4.49.v20220914', -1],
  ])('orders %s against %s as %i', (a, b, expected) => {
    expect(compareMaven(a, b)).toBe(expected);
    expect(compareMaven(b, a)).toBe(-expected || 0);
  });

  it("agrees with Maven's ComparableVersion on 2,500 generated pairs", { timeout: 120_000 }, () => {
    const pairs = pairsOf(2500, 0x3a7e);
    const expected = mavenOracle(pairs);
    expect(expected).toHaveLength(pairs.length);
    const disagreements = pairs
      .map(([a, b], i) => ({ a, b, maven: expected[i], ours: compareMaven(a, b) }))
      .filter((r) => r.maven !== r.ours);
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(new Set(expected)).toEqual(new Set([-1, 0, 1]));
  });
});
