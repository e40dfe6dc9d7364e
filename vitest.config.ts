import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The soak test, the live Prometheus test and the console's browser test run on their own:
    // npm run soak (vitest.soak.config.ts), npm run test:prometheus (vitest.prometheus.config.ts),
    // npm run test:browser (vitest.browser.config.ts).
    exclude: ["test/soak/**", "test/prometheus/**", "test/browser/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
