#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { versionInfo } from '../version.ts';
import { runController } from './controller.ts';
import { scanTargets } from './scan-image.ts';
import { runScan } from './scan-sbom.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  controller: {
    summary: 'Run the kube-inspector controller against a cluster.',
    run: runController,
  },
  scan: {
    summary: 'Scan an image, a root filesystem or an SBOM (scan image|rootfs|sbom).',
    run: (args) =>
      args[0] === 'image' || args[0] === 'rootfs'
        ? scanTargets[args[0]](args.slice(1))
        : runScan(args),
  },
  version: {
    summary: 'Print the version.',
    run: (args) => {
      const { values } = parseArgs({
        args,
        options: { output: { type: 'string', short: 'o', default: 'text' } },
      });
      const info = versionInfo();
      if (values.output === 'json') {
        console.log(JSON.stringify(info));
      } else {
        console.log(`kube-inspector ${info.version} (node ${info.node}, ${info.platform})`);
      }
      return Promise.resolve(0);
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return [
    'kube-inspector: vulnerability coverage and scanning for Kubernetes.',
    '',
    'Usage: kube-inspector <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `kube-inspector <command> --help` for the options of a command.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === '--version') return commands.version!.run([]);
  const command = commands[name];
  if (command === undefined) {
    console.error(`kube-inspector: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    console.error(`kube-inspector ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
