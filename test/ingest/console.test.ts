// The console's files as the engine serves them: from a table built at start, with their
// content types and cache headers, gzip when asked, and nothing outside the build.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConsoleFiles, registerConsoleRoutes } from "../../src/ingest/http/console.js";
import { limits } from "../../src/limits.js";
import { createLogger } from "../../src/observe/logger.js";

const INDEX = `<!doctype html><html><body><script type="module" src="/console/assets/index-abc123.js"></script>${" ".repeat(600)}</body></html>`;
const SCRIPT = `console.log(${JSON.stringify("x".repeat(2000))});`;

function build(dir: string): void {
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), INDEX);
  writeFileSync(join(dir, "assets", "index-abc123.js"), SCRIPT);
  writeFileSync(join(dir, "assets", "index-abc123.css"), "body{color:#111}");
  writeFileSync(join(dir, "assets", "index-abc123.js.map"), "{}");
}

describe("GET /console", () => {
  let root: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "loyaltyd-console-"));
    build(join(root, "console"));
    // A file beside the build that a traversal would reach.
    writeFileSync(join(root, "secret.txt"), "the-secret-content");
    app = Fastify();
    registerConsoleRoutes(app, createLogger("silent"), join(root, "console"));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("answers the page at /console, /console/ and /console/index.html, not cached, with a same-origin policy", async () => {
    for (const url of ["/console", "/console/", "/console/index.html", "/console?x=1"]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.body).toBe(INDEX);
    }
  });

  it("answers hashed assets with their type, cached for a year, gzipped when the client takes it", async () => {
    const js = await app.inject({ url: "/console/assets/index-abc123.js" });
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.body).toBe(SCRIPT);
    const gz = await app.inject({ url: "/console/assets/index-abc123.js", headers: { "accept-encoding": "gzip, br" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.rawPayload.length).toBeLessThan(SCRIPT.length);
    expect(gunzipSync(gz.rawPayload).toString()).toBe(SCRIPT);
    const css = await app.inject({ url: "/console/assets/index-abc123.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    // Too small to be worth compressing.
    expect((await app.inject({ url: "/console/assets/index-abc123.css", headers: { "accept-encoding": "gzip" } })).headers["content-encoding"]).toBeUndefined();
  });

  it("serves nothing the build did not put there: no traversal, no source maps, no directories", async () => {
    for (const url of [
      "/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/assets/..%2f..%2fsecret.txt", "/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/console//secret.txt", "/console/assets/index-abc123.js.map", "/console/assets", "/console/assets/", "/console/nope.js", "/console/assets/index-abc123.js%00.html",
    ]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).not.toBe(200);
      expect(res.body, url).not.toContain("the-secret-content");
    }
  });

  it("says how to build the console when it is not built", async () => {
    const bare = Fastify();
    registerConsoleRoutes(bare, createLogger("silent"), join(root, "missing"));
    const res = await bare.inject({ url: "/console" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringContaining("npm run build") } });
    await bare.close();
  });

  it("refuses a build with more files than limits.consoleFilesMax", () => {
    const dir = join(root, "too-many");
    build(dir);
    for (let i = 0; i < limits.consoleFilesMax; i++) writeFileSync(join(dir, "assets", `f${i}.js`), "");
    expect(() => loadConsoleFiles(dir)).toThrow(/more than/);
  });
});
