// `GET /console`: the operator console's built files (`npm run build` writes them to
// dist/web/console); the participant portal's pages (`GET /me`, dist/web/portal) are served
// the same way. They are read once, at start, into a table keyed by URL path; a request
// is answered from that table only, so no part of a URL ever becomes a file-system path.
// The console itself talks to the engine through the public HTTP API, like any client.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { Logger } from "../../observe/logger.js";
import { sendError } from "./reply.js";

export const CONSOLE_PATH = "/console";
/** The participant portal's pages (web/portal), on the main listener while portal.enabled is on. */
export const PORTAL_PAGES_PATH = "/me";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);

/**
 * What the console's page may load and where it may connect: only this origin. Scripts are
 * the bundle's files (no inline script); styles may be inline (the few `style` attributes).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface ConsoleFile {
  type: string;
  bytes: Buffer;
  gzip: Buffer | null;
  /** Vite names assets by their content's hash: such a file never changes under its name. */
  immutable: boolean;
}

/** The nearest directory up from this module with a package.json (the repository, or the installed package). */
export function packageRoot(): string | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
  }
  return null;
}

/** Where `npm run build` puts a web app: <package>/dist/web/console (or portal). */
export function defaultConsoleDir(app: "console" | "portal" = "console"): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, "dist", "web", app);
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
    if (out.length > limits.consoleFilesMax) throw new Error(`${dir}: more than ${limits.consoleFilesMax} files`);
  }
}

/** The built files by URL path under /console/ (index.html also as /console and /console/); null when not built. */
export function loadConsoleFiles(dir: string | null, mount: string = CONSOLE_PATH): Map<string, ConsoleFile> | null {
  if (dir === null || !existsSync(join(dir, "index.html"))) return null;
  const paths: string[] = [];
  walk(dir, paths);
  const files = new Map<string, ConsoleFile>();
  let bytesTotal = 0;
  for (const path of paths) {
    const type = TYPES[extname(path)];
    if (type === undefined) continue; // a source map or anything else the build left: not served
    bytesTotal += statSync(path).size;
    if (bytesTotal > limits.consoleBytesMax) throw new Error(`${dir}: the console's files are over ${limits.consoleBytesMax} bytes`);
    const bytes = readFileSync(path);
    const rel = relative(dir, path).split(sep).join("/");
    const gzip = COMPRESSIBLE.has(extname(path)) && bytes.length > 512 ? gzipSync(bytes, { level: 9 }) : null;
    files.set(`${mount}/${rel}`, { type, bytes, gzip, immutable: rel.startsWith("assets/") });
  }
  const index = files.get(`${mount}/index.html`)!;
  files.set(mount, index);
  files.set(`${mount}/`, index);
  return files;
}

function acceptsGzip(req: FastifyRequest): boolean {
  const header = req.headers["accept-encoding"];
  return typeof header === "string" && /\bgzip\b/.test(header);
}

function send(req: FastifyRequest, res: FastifyReply, file: ConsoleFile): FastifyReply {
  res
    .type(file.type)
    .header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache")
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("vary", "accept-encoding");
  if (file.type.startsWith("text/html")) res.header("content-security-policy", CSP).header("x-frame-options", "DENY");
  if (file.gzip && acceptsGzip(req)) return res.header("content-encoding", "gzip").send(file.gzip);
  return res.send(file.bytes);
}

/**
 * GET /console, /console/, /console/<file> and /console/assets/<file>. Without a build the routes answer
 * BAD_REQUEST saying how to build it (the engine itself runs without the console).
 */
export function registerConsoleRoutes(app: FastifyInstance, log: Logger, dir: string | null = defaultConsoleDir(), mount: string = CONSOLE_PATH, what = "the operator console"): void {
  const files = loadConsoleFiles(dir, mount);
  if (files === null) log.info({ dir }, `${what} is not built (npm run build): ${mount} is not served`);
  const serve = async (req: FastifyRequest, res: FastifyReply) => {
    if (files === null) return sendError(res, new LoyaltyError("BAD_REQUEST", `${what} is not built: run npm run build`));
    // The path without its query; a table lookup, so "..", "%2e%2e" or "//" simply find nothing.
    const path = req.url.split("?")[0]!;
    const file = files.get(path);
    if (!file) return sendError(res, new LoyaltyError("BAD_REQUEST", `no route GET ${path}`));
    return send(req, res, file);
  };
  // One level of files and the assets folder: what Vite's build writes (documented in openapi.ts).
  for (const url of [mount, `${mount}/`, `${mount}/:file`, `${mount}/assets/:file`]) app.get(url, serve);
}
