// make demo: start a real control plane, install kube-inspector's CRDs and
// examples, run the controller against it, and show what it reports with kubectl.
//
// DEMO_KEEP=true leaves everything running until Ctrl-C, with the KUBECONFIG
// printed so you can explore with kubectl.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { leaseName } from '../src/cli/controller.ts';
import { startControlPlane } from './control-plane/control-plane.ts';

const repo = join(import.meta.dirname, '..');
const keep = process.env.DEMO_KEEP === 'true';

function heading(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

const plane = await startControlPlane({ log: (line) => console.error(`control-plane: ${line}`) });
const kubectl = (...args: string[]): string =>
  execFileSync(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfig, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const show = (...args: string[]): void => {
  console.log(`$ kubectl ${args.join(' ')}`);
  process.stdout.write(kubectl(...args));
};

let controller: ReturnType<typeof spawn> | undefined;
let exitCode = 0;
try {
  heading(`control plane ${plane.server}`);
  show('version');

  const crds = join(repo, 'crds');
  const crdFiles = existsSync(crds)
    ? readdirSync(crds).filter((f) => /^kubeinspector\.io_.*\.yaml$/.test(f))
    : [];
  heading('install the kube-inspector CRDs');
  if (crdFiles.length === 0) {
    console.log('crds/ holds no CRDs yet');
  } else {
    show('apply', '--server-side', '-k', crds);
    kubectl(
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '-l',
      'app.kubernetes.io/part-of=kube-inspector',
    );
  }

  heading('apply the example scenario (what a team would keep in Git)');
  show('apply', '--server-side', '-f', join(repo, 'examples', 'scenario'));

  heading('run the controller');
  show('create', 'namespace', 'kube-inspector-system');
  controller = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repo, 'src/cli/main.ts'),
      'controller',
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
    ],
    { env: { ...process.env, KUBECONFIG: plane.kubeconfig }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const child = controller;
  // The controller logs JSON lines; show them until it has won leader election.
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error('the controller did not lead within 60 s')),
      60_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        console.log(`controller | ${line}`);
        if (line.includes('became leader')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the controller exited with code ${code}`));
    });
  });
  show('get', 'lease', '-n', 'kube-inspector-system', leaseName);

  heading('what kube-inspector serves');
  show('api-resources', '--api-group=kubeinspector.io', '-o', 'wide');
  if (crdFiles.length > 0) show('get', 'inspector', '-A');

  if (controller.exitCode !== null)
    throw new Error(`the controller stopped with code ${controller.exitCode}`);
  console.log(`controller | still running (pid ${controller.pid})`);

  if (keep) {
    heading('running; press Ctrl-C to stop');
    console.log(`export KUBECONFIG=${plane.kubeconfig}`);
    console.log(`export PATH=${join(plane.binaries.kubectl, '..')}:$PATH`);
    await new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  if (controller !== undefined && controller.exitCode === null) {
    // Let it release its lease and drain before the API server goes away.
    controller.removeAllListeners('exit');
    const exited = new Promise((resolve) => controller?.once('exit', resolve));
    controller.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  }
  await plane.stop();
}
process.exit(exitCode);
