/**
 * The Gateway API's CustomResourceDefinitions (Gateway, HTTPRoute), as its project publishes them: taken from
 * the Go module sigs.k8s.io/gateway-api at a pinned version through the Go module proxy of the
 * environment (the module carries its CRDs under config/crd), into the module cache outside the
 * work tree.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The Gateway API release whose CRDs the tests install. */
export const GATEWAY_API_VERSION = 'v1.6.3';

/** The path of the standard channel's HTTPRoute CRD. */
export function httpRouteCrd(): Promise<string> {
  return standardCrd('httproutes');
}

/** The path of the standard channel's Gateway CRD. */
export function gatewayCrd(): Promise<string> {
  return standardCrd('gateways');
}

/** The path of one CRD of the standard channel, by its plural. */
async function standardCrd(plural: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    'go',
    ['mod', 'download', '-json', `sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`],
    { env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, timeout: 300_000 },
  ).catch((err: unknown) => {
    const e = err as { stdout?: string; stderr?: string; message: string };
    if (e.stdout !== undefined && e.stdout !== '') return { stdout: e.stdout };
    throw new Error(`go mod download sigs.k8s.io/gateway-api failed: ${e.stderr ?? e.message}`);
  });
  const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
  if (info.Dir === undefined)
    throw new Error(`sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}: ${info.Error ?? 'no Dir'}`);
  const crd = join(
    info.Dir,
    'config',
    'crd',
    'standard',
    `gateway.networking.k8s.io_${plural}.yaml`,
  );
  if (!existsSync(crd)) throw new Error(`${crd} is missing from the module`);
  return crd;
}
