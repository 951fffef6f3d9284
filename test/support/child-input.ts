import type { ChildProcess } from 'node:child_process';

/**
 * Writes `input` to a child's stdin and closes it. A child may end without reading its input
 * (most kubectl commands never read it): writing to the closed pipe then fails with EPIPE,
 * which says nothing the exit code does not, so it is ignored; any other error goes to `fail`.
 */
export function endInput(
  child: ChildProcess,
  input: string | undefined,
  fail: (err: Error) => void,
): void {
  const stdin = child.stdin;
  if (!stdin) return;
  stdin.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') fail(err);
  });
  stdin.end(input ?? '');
}
