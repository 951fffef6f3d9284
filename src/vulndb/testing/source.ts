/** Database sources for tests: each one is closed, and its scratch index removed, when its test ends. */
import { onTestFinished } from 'vitest';
import { databaseSource } from '../source.ts';

export function closedAfterTest(
  ...args: Parameters<typeof databaseSource>
): ReturnType<typeof databaseSource> {
  const source = databaseSource(...args);
  onTestFinished(() => source.close());
  return source;
}
