/**
 * A finding population shaped like a real cluster's, shared by the findings benchmarks: advisories
 * with real text lengths, CVSS vectors and binary packages of one source package, shared by the
 * images built on a few dozen base images and by homogeneous node pools, and the Findings the
 * findings controller would build for them.
 */
import { FINDINGS_API_VERSION, LABELS } from '../src/api/v1alpha1/common.ts';
import { findingName, labelValue } from '../src/findings/build.ts';
import type { StoredFinding } from '../src/findings-store/store.ts';
import { seededRandom, type Random } from '../src/vulndb/testing/random.ts';

/** The namespace the controller writes findings of cluster-scoped resources to. */
export const FINDINGS_NAMESPACE = 'kube-inspector-system';

export interface PopulationSizes {
  images: number;
  perImage: number;
  nodes: number;
  perNode: number;
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNTRIAGED'] as const;
/** Share of each severity among OS advisories (Debian's and Ubuntu's trackers: few critical). */
const SEVERITY_WEIGHTS = [0.035, 0.19, 0.43, 0.31, 0.035];
const SCORE_BANDS: Record<string, [number, number]> = {
  CRITICAL: [9.0, 10.0],
  HIGH: [7.0, 8.9],
  MEDIUM: [4.0, 6.9],
  LOW: [0.1, 3.9],
  UNTRIAGED: [0, 0],
};
const COMPONENTS = [
  'the X.509 certificate parser',
  'the HTTP/2 frame decoder',
  'the DNS resolver',
  'the TLS handshake state machine',
  'the regular expression compiler',
  'the PNG chunk reader',
  'the archive extraction routine',
  'the URL normalisation code',
  'the ASN.1 decoder',
  'the cookie jar implementation',
  'the SSH key exchange',
  'the kernel netfilter subsystem',
  'the XML entity expansion code',
  'the glob pattern matcher',
];
const FLAWS = [
  'a heap-based buffer overflow',
  'an out-of-bounds read',
  'a use-after-free',
  'an integer overflow',
  'a NULL pointer dereference',
  'an infinite loop',
  'a double free',
  'uncontrolled recursion',
  'a race condition',
  'improper input validation',
  'a path traversal',
];
const IMPACTS = [
  'cause a denial of service (application crash)',
  'execute arbitrary code with the privileges of the process',
  'read sensitive information from process memory',
  'bypass certificate verification and impersonate a server',
  'write files outside the intended directory',
  'escalate privileges to root on the host',
  'exhaust CPU through crafted input',
];
const TAILS = [
  'This issue affects versions before the fixed release listed in the advisory.',
  'The vulnerability is only exploitable when the non-default legacy option is enabled.',
  'Exploitation requires the attacker to supply a specially crafted file that a user opens.',
  'Upstream has released a patch; distributions have backported it to their stable branches.',
  'NOTE: the vendor disputes the severity because the affected function is rarely reachable remotely.',
  'The flaw exists because the length field of the record is trusted before memory is copied.',
  'A public proof of concept exists and the issue has been discussed on the oss-security mailing list.',
];
const OS_SOURCES = [
  ['openssl', ['libssl3', 'openssl', 'libssl-dev']],
  ['glibc', ['libc6', 'libc-bin', 'libc-l10n', 'locales']],
  ['curl', ['libcurl4', 'curl']],
  ['systemd', ['libsystemd0', 'libudev1', 'systemd', 'systemd-sysv']],
  ['perl', ['perl-base', 'perl', 'libperl5.36', 'perl-modules-5.36']],
  ['krb5', ['libgssapi-krb5-2', 'libk5crypto3', 'libkrb5-3', 'libkrb5support0']],
  ['libxml2', ['libxml2']],
  ['gnutls28', ['libgnutls30']],
  ['expat', ['libexpat1']],
  ['tiff', ['libtiff6']],
  ['sqlite3', ['libsqlite3-0']],
  ['util-linux', ['libblkid1', 'libmount1', 'libuuid1', 'util-linux', 'mount']],
  ['ncurses', ['libncursesw6', 'libtinfo6', 'ncurses-base', 'ncurses-bin']],
  ['shadow', ['login', 'passwd']],
  ['pam', ['libpam0g', 'libpam-modules', 'libpam-modules-bin', 'libpam-runtime']],
  ['linux', ['linux-image-6.8.0-1021-aws', 'linux-modules-6.8.0-1021-aws']],
  ['gnupg2', ['gpgv', 'gnupg', 'dirmngr']],
  ['zlib', ['zlib1g']],
  ['binutils', ['binutils', 'libbinutils', 'binutils-common']],
  ['python3.11', ['libpython3.11-minimal', 'python3.11', 'libpython3.11-stdlib']],
] as const;
const MANAGERS: Record<string, string> = { npm: 'NPM', PyPI: 'PIP', Go: 'GOBINARY', Maven: 'JAR' };
const LANG_PACKAGES = [
  ['npm', 'pkg:npm', ['lodash', 'axios', 'express', 'semver', 'ws', 'jsonwebtoken', 'tar']],
  ['PyPI', 'pkg:pypi', ['requests', 'urllib3', 'jinja2', 'cryptography', 'pyyaml', 'django']],
  ['Go', 'pkg:golang', ['golang.org/x/net', 'google.golang.org/grpc', 'golang.org/x/crypto']],
  ['Maven', 'pkg:maven', ['org.yaml/snakeyaml', 'com.fasterxml.jackson.core/jackson-databind']],
] as const;

interface Advisory {
  id: string;
  severity: string;
  /** The status fields every finding of this advisory shares. */
  shared: Record<string, unknown>;
  /** Binary packages (OS: several of one source package; language: one). */
  packages: { name: string; ecosystem: string; purlType: string }[];
  fixed: string | undefined;
}

function pickSeverity(rng: Random): string {
  let x = rng.next();
  for (let i = 0; i < SEVERITIES.length; i++) {
    x -= SEVERITY_WEIGHTS[i]!;
    if (x < 0) return SEVERITIES[i]!;
  }
  return 'LOW';
}

/** 200–1,500 characters, most around 300–600, as NVD descriptions are. */
function description(rng: Random, pkg: string): string {
  const target = 200 + Math.floor(1300 * rng.next() ** 2.2);
  let text =
    `${rng.pick(FLAWS)[0]!.toUpperCase()}${rng.pick(FLAWS).slice(1)} was found in ${rng.pick(COMPONENTS)} of ${pkg}. ` +
    `A remote attacker could use this flaw to ${rng.pick(IMPACTS)}.`;
  while (text.length < target) text += ` ${rng.pick(TAILS)}`;
  return text.slice(0, 1500);
}

function cvssVector(rng: Random): string {
  const v = (name: string, values: string) => `${name}:${rng.pick(values.split(''))}`;
  return [
    'CVSS:3.1',
    v('AV', 'NNNALP'),
    v('AC', 'LLH'),
    v('PR', 'NNLH'),
    v('UI', 'NR'),
    v('S', 'UUC'),
    v('C', 'HHLN'),
    v('I', 'HLN'),
    v('A', 'HHLN'),
  ].join('/');
}

function score(rng: Random, severity: string): number {
  const [lo, hi] = SCORE_BANDS[severity]!;
  return Math.round((lo + rng.next() * (hi - lo)) * 10) / 10;
}

function makeAdvisory(rng: Random, n: number, ecosystem: string, lang: boolean): Advisory {
  const id = `CVE-${2016 + rng.int(10)}-${1000 + ((n * 7919) % 98_000)}`;
  const severity = pickSeverity(rng);
  let packages: Advisory['packages'];
  let source: string;
  if (lang) {
    const [eco, purlType, names] = rng.pick(LANG_PACKAGES);
    source = rng.pick(names);
    packages = [{ name: source, ecosystem: eco, purlType }];
  } else {
    const [src, bins] = rng.pick(OS_SOURCES);
    source = src;
    const count = 1 + rng.int(bins.length);
    packages = bins.slice(0, count).map((name) => ({ name, ecosystem, purlType: 'pkg:deb' }));
  }
  const refs = [
    `https://nvd.nist.gov/vuln/detail/${id}`,
    `https://security-tracker.debian.org/tracker/${id}`,
    ...Array.from(
      { length: rng.int(5) },
      (_, i) =>
        `https://github.com/${source}/${source}/commit/${(n * 31 + i).toString(16).padStart(40, 'a')}`,
    ),
  ];
  const base = score(rng, severity);
  const cvss =
    severity === 'UNTRIAGED'
      ? []
      : [
          { version: '3.1', scoringVector: cvssVector(rng), baseScore: base, source: 'NVD' },
          ...(rng.chance(0.5)
            ? [
                {
                  version: '3.1',
                  scoringVector: cvssVector(rng),
                  baseScore: Math.max(0.1, base - 1.2),
                  source: 'DEBIAN_CVE',
                },
              ]
            : []),
        ];
  const shared: Record<string, unknown> = {
    description: description(rng, source),
    vulnerabilitySource: lang ? 'GHSA' : 'DEBIAN_CVE',
    exploitAvailable: rng.chance(0.04) ? 'YES' : 'NO',
    aliases: [
      lang
        ? `GHSA-${(n * 104_729).toString(36).slice(0, 4)}-${n.toString(36).padStart(4, 'q')}-x9mw`
        : `DSA-${5000 + (n % 900)}-1`,
    ],
    referenceUrls: refs,
    epss: { score: Math.round(rng.next() ** 4 * 10_000) / 10_000 },
    ...(cvss.length > 0 ? { cvss, inspectorScore: base } : {}),
  };
  const fixed = rng.chance(0.65)
    ? `${1 + rng.int(3)}.${rng.int(20)}.${rng.int(9)}-${1 + rng.int(3)}+deb12u${1 + rng.int(4)}`
    : undefined;
  return { id, severity, shared, packages, fixed };
}

interface Resource {
  type: 'CONTAINER_IMAGE' | 'NODE';
  id: string;
  covered: string;
  extra: Record<string, unknown>;
  /** Advisories of this resource (indexes into the shared table). */
  advisories: number[];
}

export interface Population {
  advisories: Advisory[];
  /** The resources in the order they are evaluated. */
  resource(i: number): Resource;
  count: number;
}

/** Picks `n` distinct entries of `pool`. */
function sample(rng: Random, pool: number[], n: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, pool.length)) picked.add(pool[rng.int(pool.length)]!);
  return [...picked];
}

/**
 * 40 base images (each with ~300 OS advisories drawn from its distribution's 3,000), 8,000
 * language advisories, 8 homogeneous node pools (each ~30 advisories of the node OS's 600).
 * An image takes ~85% of its findings from its base image, the rest from language packages;
 * a node takes its pool's set (1 in 10 nodes lags one patch round and has a few more).
 */
export function population(sizes: PopulationSizes): Population {
  const rng = seededRandom(7);
  const advisories: Advisory[] = [];
  const add = (count: number, eco: string, lang: boolean): number[] =>
    Array.from({ length: count }, () => {
      advisories.push(makeAdvisory(rng, advisories.length, eco, lang));
      return advisories.length - 1;
    });
  const debian = add(3000, 'Debian:12', false);
  const ubuntu = add(2000, 'Ubuntu:22.04', false);
  const lang = add(8000, 'npm', true);
  const nodeOs = add(600, 'Ubuntu:24.04', false);
  const bases = Array.from({ length: 40 }, (_, b) =>
    sample(rng, b % 3 === 2 ? ubuntu : debian, Math.round(sizes.perImage * 1.2)),
  );
  const pools = Array.from({ length: 8 }, () => sample(rng, nodeOs, sizes.perNode * 1.3));
  const resource = (i: number): Resource => {
    const r = seededRandom(1000 + i);
    if (i < sizes.images) {
      const base = bases[i % bases.length]!;
      const n = Math.max(1, Math.round(sizes.perImage * (0.6 + r.next() * 0.8)));
      const os = sample(r, base, Math.round(n * 0.85));
      return { ...imageResource(i), advisories: [...os, ...sample(r, lang, n - os.length)] };
    }
    const k = i - sizes.images;
    const pool = pools[k % pools.length]!;
    const own = k % 10 === 0 ? sample(r, nodeOs, 8) : [];
    const set = [
      ...new Set([...pool.slice(0, Math.round(sizes.perNode * (0.8 + (k % 8) * 0.05))), ...own]),
    ];
    return { ...nodeResource(k), advisories: set };
  };
  return { advisories, resource, count: sizes.images + sizes.nodes };
}

function imageResource(i: number): Omit<Resource, 'advisories'> {
  const digest = `sha256:${(i * 2_654_435_761).toString(16).padStart(16, '0').repeat(4).slice(0, 64)}`;
  const repository = `registry.example.com/team-${i % 60}/service-${i}`;
  return {
    type: 'CONTAINER_IMAGE',
    id: `${repository}@${digest}`,
    covered: `image-${digest.slice(7, 23)}`,
    extra: {
      imageRepository: repository,
      imageDigest: digest,
      imageTags: [`v1.${i % 30}.${i % 7}`],
      platform: 'DEBIAN_12',
    },
  };
}

function nodeResource(i: number): Omit<Resource, 'advisories'> {
  const name = `ip-10-${(i >> 8) & 255}-${i & 255}-${i % 200}.pool-${i % 8}.ec2.internal`;
  return {
    type: 'NODE',
    id: name,
    covered: `node-${name}`.slice(0, 63),
    extra: { kind: 'Node', name, platform: 'UBUNTU_24_04' },
  };
}

const OBSERVED = '2026-11-30T08:00:00Z';

function managedFields() {
  const fields = [
    'type',
    'title',
    'severity',
    'status',
    'vulnerabilityId',
    'packages',
    'resource',
    'recommendation',
    'fixAvailable',
    'firstObservedAt',
    'updatedAt',
  ];
  return [
    {
      manager: 'kube-inspector',
      operation: 'Apply',
      apiVersion: FINDINGS_API_VERSION,
      time: OBSERVED,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': Object.fromEntries(fields.map((f) => [`f:${f}`, {}])) },
      subresource: 'status',
    },
  ];
}

/** The Finding of one advisory on one resource, as the findings controller builds it. */
function makeFinding(
  resource: Resource,
  a: Advisory,
  apiVersion: string,
  seed: number,
): StoredFinding {
  const rng = seededRandom(seed);
  const layer = `sha256:${(seed * 40_503).toString(16).padStart(64, '0').slice(-64)}`;
  const packages = a.packages.map((p) => {
    const version = `${1 + rng.int(3)}.${rng.int(20)}.${rng.int(9)}-1`;
    const os = p.purlType === 'pkg:deb';
    return {
      name: p.name,
      version,
      ...(a.fixed ? { fixedInVersion: a.fixed } : {}),
      ecosystem: resource.type === 'NODE' && os ? 'Ubuntu:24.04' : p.ecosystem,
      packageManager: os ? 'OS' : (MANAGERS[p.ecosystem] ?? 'OS'),
      purl: `${p.purlType}/${os ? 'debian/' : ''}${p.name}@${version}${os ? '?arch=amd64' : ''}`,
      ...(!os ? { filePath: `/app/vendor/${p.name}` } : {}),
      ...(resource.type === 'CONTAINER_IMAGE' ? { sourceLayerHash: layer } : {}),
      remediation: a.fixed
        ? os
          ? `apt-get install --only-upgrade ${p.name}`
          : `Upgrade ${p.name} to ${a.fixed}`
        : 'No fixed version is known yet.',
    };
  });
  const names = a.packages.map((p) => p.name);
  return {
    apiVersion,
    kind: 'Finding',
    metadata: {
      namespace: FINDINGS_NAMESPACE,
      name: findingName(resource.id, a.id, `${a.packages[0]!.ecosystem}/${names[0]}`),
      labels: {
        [LABELS.severity]: a.severity,
        [LABELS.type]: 'PACKAGE_VULNERABILITY',
        [LABELS.status]: 'ACTIVE',
        [LABELS.resourceType]: resource.type,
        [LABELS.vulnerabilityId]: labelValue(a.id),
        [LABELS.coveredResource]: resource.covered,
      },
      ...(apiVersion === FINDINGS_API_VERSION ? { managedFields: managedFields() } : {}),
    },
    status: {
      type: 'PACKAGE_VULNERABILITY',
      title: `${a.id} - ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`,
      severity: a.severity,
      status: 'ACTIVE',
      vulnerabilityId: a.id,
      ...a.shared,
      packages,
      fixAvailable: a.fixed ? 'YES' : 'NO',
      resource: { type: resource.type, id: resource.id, ...resource.extra },
      rulesPackage: 'cve',
      recommendation: {
        text: a.fixed
          ? `Upgrade ${names.map((n) => `${n} to ${a.fixed}`).join(', ')} or later.`
          : 'No fixed version is known yet; watch the advisory.',
        url: (a.shared.referenceUrls as string[])[0],
      },
      firstObservedAt: OBSERVED,
      lastObservedAt: OBSERVED,
      updatedAt: OBSERVED,
    },
  };
}

export function resourceFindings(pop: Population, i: number, apiVersion: string): StoredFinding[] {
  const r = pop.resource(i);
  return r.advisories.map((a, k) => makeFinding(r, pop.advisories[a]!, apiVersion, i * 4096 + k));
}
