// The operator console's build: `npm run build` runs `vite build web/console`, which writes
// dist/web/console (index.html and content-hashed assets) for the engine to serve at /console.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/console/",
  // Preact's JSX runtime through esbuild: no framework plugin needed.
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: fileURLToPath(new URL("../../dist/web/console", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // One small bundle: no separate chunk for the few modules it has.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  // The Live page reads the same quantile code as the demo's screen (src/demo/status.ts).
  server: { fs: { allow: [fileURLToPath(new URL("../..", import.meta.url))] } },
});
