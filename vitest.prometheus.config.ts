import { defineConfig } from "vitest/config";

// `npm run test:prometheus`: the live Prometheus test (test/prometheus), outside the default
// suite. Each file runs its scenarios in order on an engine and a Prometheus of its own.
// First the normal-load file alone (it judges latency objectives: nothing else may load
// the host meanwhile), then every scenario file side by side, one process each.
const shared = { testTimeout: 180_000, hookTimeout: 120_000, pool: "forks" as const };
export default defineConfig({
  test: {
    maxWorkers: 5,
    minWorkers: 1,
    fileParallelism: true,
    projects: [
      { test: { ...shared, name: "normal-load", include: ["test/prometheus/quiet.test.ts"], sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: "scenarios", include: ["test/prometheus/**/*.test.ts"], exclude: ["test/prometheus/quiet.test.ts"], sequence: { groupOrder: 1 } } },
    ],
  },
});
