import { defineConfig } from "vitest/config";

// `npm run test:image`: the Dockerfile built and run with podman (test/image), outside the
// default suite and CI: building the image takes minutes.
export default defineConfig({
  test: {
    include: ["test/image/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 1_900_000,
    pool: "forks",
  },
});
