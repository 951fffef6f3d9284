// `make demo` is one of the two commands of the README: run it (the script the target runs)
// and check that it shows what the README promises.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');

describe('make demo', () => {
  it('shows coverage, findings, a run through its states and the coverage metric, then cleans up', async () => {
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(repo, 'hack/demo.ts')],
      {
        cwd: repo,
        maxBuffer: 16 * 1024 * 1024,
        timeout: 600_000,
        env: { ...process.env, DEMO_KEEP: 'false' },
      },
    );
    const out = stripVTControlCharacters(stdout);
    // Coverage: the node, both images, the workloads and the scanned namespace.
    expect(out).toMatch(/node-demo-node-1\s+NODE\s+demo-node-1\s+ACTIVE\s+SUCCESSFUL/);
    expect(out).toMatch(
      /workload-shop\.deployment\.web\s+WORKLOAD\s+shop\/Deployment\/web\s+ACTIVE\s+SUCCESSFUL/,
    );
    expect(out).toMatch(
      /CONTAINER_IMAGE\s+\S+\/shop\/web@sha256:[0-9a-f]{64}\s+ACTIVE\s+SUCCESSFUL/,
    );
    expect(out).toMatch(
      /namespace-default\s+NAMESPACE\s+default\s+INACTIVE\s+NO_SCAN_CONFIGURATION_ASSOCIATED/,
    );
    expect(out).toMatch(/^TOTAL\s+\d+\s+\d+\s+\d+$/m);
    // Continuous findings of the rolled-back glibc and openssl, on the image and the node.
    expect(out).toMatch(/CVE-2023-4911 - libc6\s+\S+\/shop\/web@/);
    expect(out).toMatch(/CVE-2023-5363 - libssl3\s+demo-node-1/);
    // The run's whole state machine, in order.
    const states = [...out.matchAll(/^\S+Z {2}([A-Z_]+)$/gm)].map((m) => m[1]);
    expect(states).toEqual([
      'CREATED',
      'START_DATA_COLLECTION_PENDING',
      'START_DATA_COLLECTION_IN_PROGRESS',
      'COLLECTING_DATA',
      'STOP_DATA_COLLECTION_PENDING',
      'DATA_COLLECTED',
      'START_EVALUATING_RULES_PENDING',
      'EVALUATING_RULES',
      'COMPLETED',
    ]);
    expect(out).toMatch(/storefront-first-run-cve-2023-4911-glibc-\S+\s+HIGH/);
    expect(out).toMatch(
      /^kubeinspector_coverage_resources\{resource_type="NODE",status_code="ACTIVE",reason="SUCCESSFUL",scan_type="PACKAGE"\} 1$/m,
    );
    expect(out).not.toContain('demo failed');
  });
});
