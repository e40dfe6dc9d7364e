import { defineConfig } from "vitest/config";

// `npm run test:browser`: the operator console driven in Debian's chromium (test/browser),
// outside the default suite; one file, its scenarios in order against one engine.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    sequence: { concurrent: false },
  },
});
