// The participant portal's pages are served by the console's server code at another mount:
// each app answers its own build only, and /me/... never reaches the console's files.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_PATH, PORTAL_PAGES_PATH, registerConsoleRoutes } from "../../src/ingest/http/console.js";
import { createLogger } from "../../src/observe/logger.js";

function build(dir: string, name: string): void {
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), `<!doctype html><title>${name}</title>`);
  writeFileSync(join(dir, "assets", `${name}-1.js`), `console.log("${name}")`);
}

describe("GET /me beside GET /console", () => {
  let root: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "loyaltyd-pages-"));
    build(join(root, "console"), "console");
    build(join(root, "portal"), "portal");
    app = Fastify();
    registerConsoleRoutes(app, createLogger("silent"), join(root, "console"));
    registerConsoleRoutes(app, createLogger("silent"), join(root, "portal"), PORTAL_PAGES_PATH, "the participant portal");
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("answers each app's own page and assets at its own mount", async () => {
    for (const [mount, name] of [[CONSOLE_PATH, "console"], [PORTAL_PAGES_PATH, "portal"]] as const) {
      for (const url of [mount, `${mount}/`, `${mount}/index.html`]) {
        const res = await app.inject({ url });
        expect(res.statusCode, url).toBe(200);
        expect(res.body).toContain(`<title>${name}</title>`);
        expect(res.headers["content-security-policy"]).toContain("connect-src 'self'");
      }
      const js = await app.inject({ url: `${mount}/assets/${name}-1.js` });
      expect(js.statusCode).toBe(200);
      expect(js.headers["cache-control"]).toContain("immutable");
    }
  });

  it("finds nothing of one app under the other's mount", async () => {
    for (const url of ["/me/assets/console-1.js", "/console/assets/portal-1.js", "/me/assets/..%2Fconsole-1.js", "/me/console/index.html"]) {
      const res = await app.inject({ url });
      // 400 from the table lookup, or 404 where no route matches (this bare server has no envelope for it).
      expect([400, 404], url).toContain(res.statusCode);
      expect(res.body).not.toMatch(/<title>|console\.log/);
    }
  });

  it("without a build, says so under the portal's own name", async () => {
    const bare = Fastify();
    registerConsoleRoutes(bare, createLogger("silent"), join(root, "missing"), PORTAL_PAGES_PATH, "the participant portal");
    const res = await bare.inject({ url: "/me" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe("the participant portal is not built: run npm run build");
    await bare.close();
  });
});
