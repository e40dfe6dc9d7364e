import { defineConfig } from "vitest/config";

// `npm run test:prometheus`: the live Prometheus test (test/prometheus), outside the default
// suite; a few minutes, one file, its scenarios in order.
export default defineConfig({
  test: {
    include: ["test/prometheus/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    sequence: { concurrent: false },
  },
});
