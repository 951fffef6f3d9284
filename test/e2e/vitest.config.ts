// End-to-end tests: a real worker node (kubelet, containerd, runc, CNI,
// kube-proxy, kube-scheduler) joined to the project's control plane runs real
// pods. Run by `make e2e` (needs root); not part of `npx vitest run`'s projects.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'e2e',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // One node is shared by every file of the run.
    fileParallelism: false,
  },
});
