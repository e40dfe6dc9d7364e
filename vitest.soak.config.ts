import { defineConfig } from "vitest/config";

// `npm run soak`: the soak test alone (test/soak), outside the default suite.
export default defineConfig({
  test: {
    include: ["test/soak/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
