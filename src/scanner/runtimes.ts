/** Language runtimes named by the image config's environment, as official images set them. */
import type { Runtime } from './types.ts';

const VARIABLES: ReadonlyArray<[string, Runtime['name']]> = [
  ['NODE_VERSION', 'node'],
  ['PYTHON_VERSION', 'python'],
  ['JAVA_VERSION', 'java'],
  ['GOLANG_VERSION', 'go'],
  ['GO_VERSION', 'go'],
  ['RUBY_VERSION', 'ruby'],
  ['PHP_VERSION', 'php'],
  ['DOTNET_VERSION', 'dotnet'],
  ['ASPNET_VERSION', 'dotnet'],
];

export function runtimesFromEnv(env: readonly string[] | null | undefined): Runtime[] {
  const out: Runtime[] = [];
  const seen = new Set<string>();
  for (const item of env ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1).trim();
    const hit = VARIABLES.find(([k]) => k === key);
    if (hit === undefined || value === '' || seen.has(hit[1])) continue;
    seen.add(hit[1]);
    out.push({ name: hit[1], version: value, source: `env:${key}` });
  }
  return out;
}
