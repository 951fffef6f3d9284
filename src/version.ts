import { readFileSync } from 'node:fs';

interface PackageJson {
  name: string;
  version: string;
}

function readPackageJson(): PackageJson {
  // src/version.ts and dist/version.js both sit one level below the package root.
  const url = new URL('../package.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as PackageJson;
}

const pkg = readPackageJson();

/** The version of kube-inspector, from package.json. */
export const version: string = pkg.version;

/** Version details printed by `kube-inspector version`. */
export function versionInfo(): Record<string, string> {
  return {
    name: pkg.name,
    version: pkg.version,
    node: process.versions.node,
    platform: `${process.platform}/${process.arch}`,
  };
}
