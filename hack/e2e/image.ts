// Builds kube-inspector's image from the project's Dockerfile without a Docker
// engine: buildah (Debian's package) runs the Dockerfile's steps itself, as
// root, with chroot isolation and the host's network. When the Dockerfile's
// public base image (NODE_IMAGE) cannot be pulled, a local one is built and
// selected with the same build argument: Debian bookworm from debootstrap
// (hack/agent/debootstrap-rootfs.sh), the Node.js 24 that runs this script, npm,
// and the CA certificates of the machine that builds it.
//
//   node hack/e2e/image.ts --tag kube-inspector:dev [--push 127.0.0.1:5000/kube-inspector:dev]
//     [--node-image local|<image>] [--storage <folder>]
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheRoot } from '../control-plane/binaries.ts';
import { run } from './images.ts';

const repoRoot = join(dirname(new URL(import.meta.url).pathname), '..', '..');

/** The npm CLI put into a locally built base image (the public node image ships one). */
export const npmVersion = '11.19.1';
const caBundle = '/etc/ssl/certs/ca-certificates.crt';

export interface BuildOptions {
  /** The image's name in buildah's storage, e.g. kube-inspector:dev. */
  tag: string;
  /** Also push it here (plain HTTP registries on loopback are allowed). */
  push?: string;
  /** The base image: undefined tries the Dockerfile's default, then a local one; `local` forces it. */
  nodeImage?: string;
  /** buildah's storage folder; undefined uses buildah's default (containers-storage). */
  storage?: string;
  log?: (line: string) => void;
}

function buildah(storage: string | undefined): (args: string[]) => Promise<string> {
  const global = storage
    ? [
        '--root',
        join(storage, 'root'),
        '--runroot',
        join(storage, 'run'),
        '--storage-driver',
        'overlay',
      ]
    : [];
  return (args) => run('buildah', [...global, ...args]);
}

/** The base image's name, keyed by what goes into it. */
async function localBaseName(rootfs: string): Promise<string> {
  const key = createHash('sha256')
    .update(`${process.version}\0${npmVersion}\0${rootfs}\0`)
    .update(await readFile(caBundle).catch(() => Buffer.alloc(0)))
    .digest('hex')
    .slice(0, 12);
  return `localhost/kube-inspector-node-base:${process.version.slice(1)}-${key}`;
}

/** Builds (once) the local stand-in for node:24-bookworm-slim; returns its name. */
export async function buildLocalBase(
  storage: string | undefined,
  log: (line: string) => void,
): Promise<string> {
  const b = buildah(storage);
  const rootfs = (await run(join(repoRoot, 'hack/agent/debootstrap-rootfs.sh'), [])).trim();
  const name = await localBaseName(rootfs);
  if ((await b(['images', '-q', name]).catch(() => '')).trim() !== '') return name;
  log(`building the local base image ${name}`);
  const cache = join(cacheRoot(), 'image-build');
  await mkdir(cache, { recursive: true });
  const npmTarball = join(cache, `npm-${npmVersion}.tgz`);
  if (!existsSync(npmTarball)) {
    await run('npm', ['pack', `npm@${npmVersion}`, '--pack-destination', cache]);
  }
  const container = (await b(['from', 'scratch'])).trim();
  try {
    const mnt = (await b(['mount', container])).trim();
    await run('cp', ['-a', `${rootfs}/.`, `${mnt}/`]);
    await run('rm', ['-f', join(mnt, '.complete')]);
    await mkdir(join(mnt, 'usr/local/bin'), { recursive: true });
    await copyFile(process.execPath, join(mnt, 'usr/local/bin/node'));
    await chmod(join(mnt, 'usr/local/bin/node'), 0o755);
    const npmDir = join(mnt, 'usr/local/lib/node_modules/npm');
    await mkdir(npmDir, { recursive: true });
    await run('tar', ['-xzf', npmTarball, '-C', npmDir, '--strip-components=1']);
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(mnt, 'usr/local/bin/npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(mnt, 'usr/local/bin/npx'));
    if (existsSync(caBundle)) {
      await mkdir(join(mnt, dirname(caBundle)), { recursive: true });
      await copyFile(caBundle, join(mnt, caBundle));
    }
    await b(['umount', container]);
    await b([
      'config',
      '--env',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--env',
      `NODE_EXTRA_CA_CERTS=${caBundle}`,
      '--cmd',
      'node',
      container,
    ]);
    await b(['commit', '--quiet', container, name]);
  } finally {
    await b(['rm', container]).catch(() => undefined);
  }
  return name;
}

/** The Dockerfile's default NODE_IMAGE. */
async function dockerfileNodeImage(): Promise<string> {
  const text = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
  const m = /^ARG NODE_IMAGE=(\S+)/m.exec(text);
  if (!m?.[1]) throw new Error('the Dockerfile declares no default for ARG NODE_IMAGE');
  return m[1];
}

/** Picks the base image: the one asked for, the public default if it can be pulled, else local. */
async function chooseBase(options: BuildOptions, log: (line: string) => void): Promise<string> {
  const b = buildah(options.storage);
  if (options.nodeImage === 'local') return buildLocalBase(options.storage, log);
  if (options.nodeImage) return options.nodeImage;
  const wanted = await dockerfileNodeImage();
  try {
    await b(['pull', '--quiet', wanted]);
    return wanted;
  } catch (err) {
    log(
      `cannot pull ${wanted} (${(err as Error).message.split('\n')[0]}); using a local base image`,
    );
    return buildLocalBase(options.storage, log);
  }
}

/** Builds the image from the Dockerfile (and pushes it); returns timings in ms. */
export async function buildImage(
  options: BuildOptions,
): Promise<{ buildMs: number; pushMs: number }> {
  const log = options.log ?? ((line: string) => console.error(line));
  const b = buildah(options.storage);
  if (process.getuid?.() !== 0) throw new Error('the image build runs buildah as root');
  const base = await chooseBase(options, log);
  let t = Date.now();
  await b([
    'bud',
    '--isolation',
    'chroot',
    '--network',
    'host',
    '--layers=false',
    '--build-arg',
    `NODE_IMAGE=${base}`,
    '--tag',
    options.tag,
    '--file',
    join(repoRoot, 'Dockerfile'),
    repoRoot,
  ]);
  const buildMs = Date.now() - t;
  t = Date.now();
  if (options.push) {
    const plain = /^(127\.0\.0\.1|localhost)(:\d+)?\//.test(options.push);
    await b([
      'push',
      ...(plain ? ['--tls-verify=false'] : []),
      options.tag,
      `docker://${options.push}`,
    ]);
  }
  return { buildMs, pushMs: Date.now() - t };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      tag: { type: 'string' },
      push: { type: 'string' },
      'node-image': { type: 'string' },
      storage: { type: 'string' },
    },
  });
  if (!values.tag) {
    console.error(
      'usage: image.ts --tag NAME[:TAG] [--push REF] [--node-image local|IMAGE] [--storage DIR]',
    );
    process.exit(2);
  }
  const timings = await buildImage({
    tag: values.tag,
    ...(values.push ? { push: values.push } : {}),
    ...(values['node-image'] ? { nodeImage: values['node-image'] } : {}),
    ...(values.storage ? { storage: values.storage } : {}),
  });
  console.error(
    `built ${values.tag} in ${timings.buildMs} ms${values.push ? `, pushed in ${timings.pushMs} ms` : ''}`,
  );
}
