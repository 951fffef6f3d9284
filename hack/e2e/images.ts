// The images the end-to-end node needs, built locally with umoci and pushed to
// the loopback registry with skopeo: the pod sandbox ("pause", from
// hack/e2e/pause/pause.go) and a tools image (a static busybox and kubectl)
// for test workloads.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command; a failure names the command and carries its stderr. */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, {
      maxBuffer: 64 * 1024 * 1024,
      ...(options.env ? { env: options.env } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`, {
      cause: err,
    });
  }
}

const here = dirname(new URL(import.meta.url).pathname);

export interface ImageSources {
  /** A static busybox binary. */
  busybox: string;
  /** kubectl (static, from the control plane's binaries). */
  kubectl: string;
}

/** A new image in an OCI layout with the files `fill` puts into its root filesystem. */
async function buildImage(
  layout: string,
  tag: string,
  fill: (rootfs: string) => Promise<void>,
  config: string[],
): Promise<void> {
  const image = `${layout}:${tag}`;
  const bundle = join(dirname(layout), `bundle-${tag}`);
  await run('umoci', ['new', '--image', image]);
  await run('umoci', ['unpack', '--image', image, bundle]);
  await fill(join(bundle, 'rootfs'));
  await run('umoci', ['repack', '--image', image, bundle]);
  await run('umoci', ['config', '--image', image, ...config]);
  await rm(bundle, { recursive: true, force: true });
}

/** Builds pause:1 and tools:1 under `dir` and pushes them to `registry` (host:port). */
export async function pushNodeImages(
  dir: string,
  registry: string,
  sources: ImageSources,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const layout = join(dir, 'layout');
  await run('umoci', ['init', '--layout', layout]);
  const pause = join(dir, 'pause');
  await run(
    'go',
    ['build', '-trimpath', '-ldflags', '-s -w', '-o', pause, join(here, 'pause', 'pause.go')],
    {
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '', GO111MODULE: 'off' },
    },
  );
  await buildImage(
    layout,
    'pause',
    async (rootfs) => {
      await copyFile(pause, join(rootfs, 'pause'));
      await chmod(join(rootfs, 'pause'), 0o755);
    },
    ['--config.entrypoint', '/pause'],
  );
  await buildImage(
    layout,
    'tools',
    async (rootfs) => {
      await mkdir(join(rootfs, 'bin'), { recursive: true });
      await mkdir(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
      await copyFile(sources.busybox, join(rootfs, 'bin', 'busybox'));
      await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
      await copyFile(sources.kubectl, join(rootfs, 'bin', 'kubectl'));
      await chmod(join(rootfs, 'bin', 'kubectl'), 0o755);
      const applets = (await run(sources.busybox, ['--list'])).split('\n').filter(Boolean);
      for (const applet of applets) {
        if (applet !== 'busybox') await symlink('busybox', join(rootfs, 'bin', applet));
      }
    },
    ['--config.env', 'PATH=/bin', '--config.cmd', 'sh'],
  );
  for (const [tag, name] of [
    ['pause', 'pause:1'],
    ['tools', 'tools:1'],
  ] as const) {
    await run('skopeo', [
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:${tag}`,
      `docker://${registry}/${name}`,
    ]);
  }
}
