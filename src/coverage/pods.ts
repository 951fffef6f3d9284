/**
 * What coverage reads from Pods, as the kubelet reports it: which images (repository and
 * manifest digest) their containers run, since when, and whether they run now. Pure.
 */
import { parseReference } from '../registry/reference.ts';
import type { OperatingSystem } from '../scanner/types.ts';

export interface PodImage {
  /** `registry/repository`, normalised as Docker does (`docker.io/library/nginx`). */
  repository: string;
  /** Manifest digest, `sha256:…`. */
  digest: string;
  /** `repository@digest`: the identity of a CONTAINER_IMAGE. */
  key: string;
  /** Tag of the container's spec image, when it names one. */
  tag: string | undefined;
  container: string;
  /** When the container last started running (state.running.startedAt), epoch ms. */
  startedAt: number | undefined;
  running: boolean;
}

interface ContainerStatus {
  name?: string;
  image?: string;
  imageID?: string;
  state?: { running?: { startedAt?: string } };
}

interface PodLike {
  spec?: unknown;
  status?: unknown;
  metadata?: unknown;
}

const SHA256 = /sha256:[0-9a-f]{64}$/;

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

function specImages(pod: PodLike): Map<string, string> {
  const spec = (pod.spec ?? {}) as {
    containers?: { name?: string; image?: string }[];
    initContainers?: { name?: string; image?: string }[];
  };
  const out = new Map<string, string>();
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    if (c.name !== undefined && c.image !== undefined) out.set(c.name, c.image);
  }
  return out;
}

/** A reference's repository, tag and digest, or undefined when it does not parse. */
function parsedOrUndefined(
  reference: string,
): { repository: string; tag: string | undefined; digest: string | undefined } | undefined {
  try {
    const r = parseReference(reference);
    return { repository: `${r.registry}/${r.repository}`, tag: r.tag, digest: r.digest };
  } catch {
    return undefined;
  }
}

/** The repository of a reference, or undefined when it does not parse. */
export function repositoryOf(reference: string): string | undefined {
  try {
    const r = parseReference(reference);
    return `${r.registry}/${r.repository}`;
  } catch {
    return undefined;
  }
}

/**
 * Images a pod's containers run, from status.containerStatuses (and init containers). The
 * image is attributed to the repository the pod's spec names: the kubelet's imageID
 * (`[docker-pullable://]registry/repo@sha256:…`) contributes the manifest digest, and its
 * repository only when the spec image does not parse (the runtime reports the first repository
 * digest it holds for that content, which can be another registry's or a mirror's copy).
 * A container whose imageID carries no repository (some runtimes report only an image id, not
 * a manifest digest) uses the spec image when that image is pinned by the same digest;
 * otherwise it cannot be identified and is left out.
 */
export function podImages(pod: PodLike): PodImage[] {
  const status = (pod.status ?? {}) as {
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
  const spec = specImages(pod);
  const out: PodImage[] = [];
  const seen = new Set<string>();
  for (const s of [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])]) {
    const id = (s.imageID ?? '').replace(/^[a-z-]+:\/\//, '');
    const digest = SHA256.exec(id)?.[0];
    if (digest === undefined) continue;
    const specImage = spec.get(s.name ?? '') ?? s.image ?? '';
    const named = parsedOrUndefined(specImage);
    let repository: string | undefined;
    if (id.includes('@')) repository = named?.repository ?? repositoryOf(id);
    else if (named?.digest === digest) repository = named.repository;
    if (repository === undefined) continue;
    const tag =
      named?.repository === repository && named.digest === undefined ? named.tag : undefined;
    const key = `${repository}@${digest}`;
    const startedAt = time(s.state?.running?.startedAt);
    const entry: PodImage = {
      repository,
      digest,
      key,
      tag,
      container: s.name ?? '',
      startedAt,
      running: s.state?.running !== undefined,
    };
    if (seen.has(`${key}/${entry.container}`)) continue;
    seen.add(`${key}/${entry.container}`);
    out.push(entry);
  }
  return out;
}

/** Inspector-style platform of an OS: `DEBIAN_12`, `ALPINE_3_20`, `UBUNTU_22_04`. */
export function platformOf(
  os: Pick<OperatingSystem, 'family' | 'version'> | undefined,
): string | undefined {
  if (os === undefined || os.family === '') return undefined;
  // Alpine releases are named by major.minor (3.20), as its advisories are.
  const release = os.family === 'alpine' ? os.version.split('.').slice(0, 2).join('.') : os.version;
  const version = release.replace(/[^0-9A-Za-z]+/g, '_');
  return `${os.family.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}${version ? `_${version}` : ''}`.slice(
    0,
    64,
  );
}
