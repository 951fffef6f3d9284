#!/usr/bin/env node
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { versionInfo } from '../version.ts';
import { InputError } from './errors.ts';

interface Command {
  summary: string;
  /** `cmd` is how the user calls the program: `kube-inspector` or `kubectl inspector`. */
  run(args: string[], cmd: string): Promise<number>;
}

/**
 * `kubectl inspector` when the program runs as the kubectl plugin `kubectl-inspector` (kubectl
 * runs plugins by their file name), else `kube-inspector`.
 */
export function commandName(argv1: string | undefined): string {
  return argv1 !== undefined && /^kubectl-inspector(\.[cm]?[jt]s)?$/.test(basename(argv1))
    ? 'kubectl inspector'
    : 'kube-inspector';
}

// Each command's module is imported when the command runs, so `version` and `--help` start
// fast and one command does not load another's dependencies.
const commands: Record<string, Command> = {
  controller: {
    summary: 'Run the kube-inspector controller against a cluster.',
    run: async (args, cmd) =>
      exitWhenIdle(await (await import('./controller.ts')).runController(args, cmd)),
  },
  coverage: {
    summary: 'Summarise coverage per resource type: All / Scanning / Not scanning, by reason.',
    run: async (args, cmd) => (await import('./coverage.ts')).runCoverage(args, cmd),
  },
  findings: {
    summary: 'Export findings as CSV or JSON (findings export).',
    run: async (args, cmd) => (await import('./findings-export.ts')).runFindings(args, cmd),
  },
  db: {
    summary: 'Update the vulnerability database index or show its state (db update|status).',
    run: async (args, cmd) => (await import('./db.ts')).runDb(args, cmd),
  },
  'findings-store': {
    summary: 'Copy the findings store between SQLite and PostgreSQL (findings-store copy).',
    run: async (args, cmd) =>
      (await import('./findings-store-copy.ts')).runFindingsStore(args, cmd),
  },
  agent: {
    summary: "Run the node agent: write this node's NodeInventory (the DaemonSet).",
    run: async (args) => (await import('./agent.ts')).runAgent(args),
  },
  scan: {
    summary: 'Scan an image, a root filesystem or an SBOM (scan image|rootfs|sbom).',
    run: async (args) =>
      args[0] === 'image' || args[0] === 'rootfs'
        ? (await import('./scan-image.ts')).scanTargets[args[0]](args.slice(1))
        : (await import('./scan-sbom.ts')).runScan(args),
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

function usage(cmd: string): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(
    ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
  );
  return [
    'kube-inspector: vulnerability coverage and scanning for Kubernetes.',
    '',
    `Usage: ${cmd} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    `Run \`${cmd} <command> --help\` for the options of a command.`,
  ].join('\n');
}

export async function main(argv: string[], cmd = 'kube-inspector'): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(cmd));
    return 0;
  }
  if (name === '--version') return commands.version!.run([], cmd);
  const command = commands[name];
  if (command === undefined) {
    console.error(`${cmd}: unknown command "${name}"\n\n${usage(cmd)}`);
    return 2;
  }
  try {
    return await command.run(rest, cmd);
  } catch (err) {
    console.error(`${cmd} ${name}: ${err instanceof Error ? err.message : String(err)}`);
    // Bad usage (a flag's value, an unreadable input named by a flag) is exit code 2.
    return err instanceof InputError ? 2 : 1;
  }
}

/**
 * The exit code of a long-running command that has stopped: the process ends once its event
 * loop is empty, or a second later if a library still holds a handle (a pooled socket, a timer),
 * as a Go controller's process ends when main returns.
 */
function exitWhenIdle(code: number): number {
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}

process.exitCode = await main(process.argv.slice(2), commandName(process.argv[1]));
