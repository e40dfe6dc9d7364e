import { defineConfig } from "vitest/config";

// `npm test` runs two projects, one after the other (package.json):
// - "parallel": every file that keeps to itself (its own temp dirs, its own nats-server on a free
//   port), two at a time;
// - "serial": the files that judge time itself (the 3-node cluster's leases, takeovers and chaos,
//   the watchdog, crash loops, admission's queue-wait bound), one at a time, so that no other file
//   competes with them for the machine's cores.
// The soak test, the live Prometheus test, the console's browser test and the image test run on their
// own: npm run soak (vitest.soak.config.ts), npm run test:prometheus (vitest.prometheus.config.ts),
// npm run test:browser (vitest.browser.config.ts), npm run test:image (vitest.image.config.ts).
const apart = ["test/soak/**", "test/prometheus/**", "test/browser/**", "test/image/**", "**/node_modules/**"];
const serial = ["test/cluster/**/*.test.ts", "test/e2e/watchdog.test.ts", "test/e2e/crash-loop.test.ts", "test/e2e/crash.test.ts", "test/e2e/admission.test.ts"];
const shared = { testTimeout: 60_000, hookTimeout: 60_000, pool: "forks" as const };

export default defineConfig({
  test: {
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { test: { ...shared, name: "parallel", include: ["test/**/*.test.ts"], exclude: [...apart, ...serial] } },
      { test: { ...shared, name: "serial", include: serial, exclude: apart } },
    ],
  },
});
