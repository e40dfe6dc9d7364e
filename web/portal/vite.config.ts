// The participant portal's build: `npm run build:web` runs `vite build web/portal`, which writes
// dist/web/portal (index.html and content-hashed assets) for the engine to serve at /me. The
// same toolchain and settings as the console (web/console/vite.config.ts); the building blocks
// both use are in web/shared.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/me/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: fileURLToPath(new URL("../../dist/web/portal", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
});
