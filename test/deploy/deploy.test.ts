// What is shipped to deploy is what is tested (no Docker here): deploy/compose.yaml's
// mounts exist and its ports, hosts and LOYALTYD_* variables agree with the config keys
// and the other files; the Dockerfile's stages copy what exists and run what the image
// needs; config/nats/server.conf runs a real nats-server with JetStream that a real
// engine works against, and the image's HEALTHCHECK command tells a live engine from none.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, posix, resolve } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LEAF_KEYS, envNamesFor, loadConfig } from "../../src/config/config.js";
import { findNatsServer, freePort } from "../../src/ingest/nats-server.js";
import { ROOT, childEngineEnv, sale, line, spawnEngine, tempDir } from "../e2e/harness.js";

const DEPLOY = join(ROOT, "deploy");
type Service = { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>; volumes?: string[]; ports?: string[]; healthcheck?: { test: string[] } };
const compose = parseYaml(readFileSync(join(DEPLOY, "compose.yaml"), "utf8")) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const svc = (name: string): Service => compose.services[name]!;

/** Container port of a "host:port:container" or "port" mapping. */
const containerPort = (mapping: string): number => Number(mapping.split(":").at(-1));

/** Bind mounts (a source that is a path), resolved against deploy/ as compose does. */
function bindMounts(s: Service): { source: string; target: string }[] {
  return (s.volumes ?? []).flatMap((v) => {
    const [source, target] = v.split(":") as [string, string];
    return source.startsWith(".") || source.startsWith("/") ? [{ source: resolve(DEPLOY, source), target }] : [];
  });
}

const PROMETHEUS_DIR = join(ROOT, "config/prometheus");
const PROMETHEUS_YML = join(PROMETHEUS_DIR, "prometheus.yml");
const ENV_NAMES = new Set(LEAF_KEYS.flatMap((k) => envNamesFor(k)));

/** nats-server's `key: value` settings at the top level of a config file. */
function natsSetting(conf: string, key: string): string {
  const m = conf.match(new RegExp(`^${key}:\\s*(\\S+)`, "m"));
  if (!m) throw new Error(`no ${key} in server.conf`);
  return m[1]!;
}
const NATS_CONF = readFileSync(join(ROOT, "config/nats/server.conf"), "utf8");

describe("deploy/compose.yaml", () => {
  it("runs NATS, loyaltyd, Prometheus and Grafana, and every file it mounts exists", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["grafana", "loyaltyd", "nats", "prometheus"]);
    const missing = Object.values(compose.services)
      .flatMap(bindMounts)
      .filter((m) => !existsSync(m.source))
      .map((m) => m.source);
    // config/prometheus comes with the Prometheus work (branch b12-prom); once there, nothing may be missing.
    expect(missing).toEqual(existsSync(PROMETHEUS_DIR) ? [] : [PROMETHEUS_DIR]);
    for (const s of Object.values(compose.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(":")[0]!;
        if (!source.startsWith(".") && !source.startsWith("/")) expect(compose.volumes, source).toHaveProperty(source);
      }
    }
  });

  it("builds loyaltyd from the Dockerfile at the repository's top", () => {
    const b = svc("loyaltyd").build!;
    expect(existsSync(join(resolve(DEPLOY, b.context), b.dockerfile))).toBe(true);
    expect(resolve(DEPLOY, b.context)).toBe(ROOT);
  });

  it("gives loyaltyd only LOYALTYD_* variables that are config keys, with values the config accepts, pointing at the nats service", () => {
    const env = svc("loyaltyd").environment!;
    for (const name of Object.keys(env)) expect(ENV_NAMES.has(name), name).toBe(true);
    const config = loadConfig({ env });
    const url = new URL(config.nats.url!);
    expect(url.hostname).toBe("nats");
    expect(Number(url.port)).toBe(Number(natsSetting(NATS_CONF, "listen").split(":")[1]));
    expect(config.http.host).toBe("0.0.0.0");
    expect(svc("loyaltyd").ports!.map(containerPort)).toEqual([config.http.port]);
    expect(bindMounts(svc("loyaltyd"))).toEqual([]);
    expect(svc("loyaltyd").volumes).toContain(`loyaltyd-data:${config.dataDir}`);
  });

  it("runs NATS with config/nats/server.conf, its health check on the file's monitoring port", () => {
    const nats = svc("nats");
    const conf = bindMounts(nats).find((m) => m.source === join(ROOT, "config/nats/server.conf"))!;
    expect(nats.command!.slice(0, 2)).toEqual(["-c", conf.target]);
    const monitor = Number(natsSetting(NATS_CONF, "http").split(":")[1]);
    expect(nats.healthcheck!.test.join(" ")).toContain(`http://127.0.0.1:${monitor}/healthz`);
    // JetStream on, its store (given on the command line) on the data volume.
    expect(NATS_CONF).toMatch(/^jetstream: enabled$/m);
    const storeDir = nats.command![nats.command!.indexOf("-sd") + 1]!;
    expect(nats.volumes!.some((v) => v.startsWith("nats-data:") && storeDir.startsWith(v.split(":")[1]!))).toBe(true);
  });

  it("mounts config/prometheus as Prometheus's configuration directory", () => {
    const p = svc("prometheus");
    const dir = bindMounts(p).find((m) => m.source === PROMETHEUS_DIR)!;
    expect(p.command).toContain(`--config.file=${posix.join(dir.target, "prometheus.yml")}`);
  });

  it.runIf(existsSync(PROMETHEUS_YML))("has Prometheus scrape loyaltyd at its service name and port, with rule files that exist", () => {
    const prom = parseYaml(readFileSync(PROMETHEUS_YML, "utf8")) as { rule_files?: string[]; scrape_configs: { static_configs?: { targets: string[] }[] }[] };
    const targets = prom.scrape_configs.flatMap((c) => c.static_configs ?? []).flatMap((c) => c.targets);
    const port = loadConfig({ env: svc("loyaltyd").environment! }).http.port;
    expect(targets).toContain(`loyaltyd:${port}`);
    for (const f of prom.rule_files ?? []) expect(existsSync(join(PROMETHEUS_DIR, f)), f).toBe(true);
  });

  it("provisions Grafana with the compose Prometheus and docs/grafana-dashboard.json", () => {
    const g = svc("grafana");
    const mounts = bindMounts(g);
    const provisioning = mounts.find((m) => m.target === "/etc/grafana/provisioning")!;
    expect(provisioning.source).toBe(join(DEPLOY, "grafana/provisioning"));
    const ds = parseYaml(readFileSync(join(provisioning.source, "datasources/prometheus.yaml"), "utf8")) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    const promPort = containerPort(svc("prometheus").ports![0]!);
    expect(ds.datasources).toEqual([expect.objectContaining({ type: "prometheus", url: `http://prometheus:${promPort}`, isDefault: true })]);
    const dashboard = mounts.find((m) => m.source === join(ROOT, "docs/grafana-dashboard.json"))!;
    const providers = parseYaml(readFileSync(join(provisioning.source, "dashboards/loyaltyd.yaml"), "utf8")) as { providers: { type: string; options: { path: string } }[] };
    expect(providers.providers.map((p) => p.options.path)).toEqual([posix.dirname(dashboard.target)]);
    expect(g.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboard.target);
    // The dashboard chooses its data source among Prometheus ones: the provisioned one fits.
    const json = JSON.parse(readFileSync(dashboard.source, "utf8")) as { templating?: { list: { type: string; query: string }[] } };
    const dsVariable = json.templating?.list.find((v) => v.type === "datasource");
    if (dsVariable) expect(dsVariable.query).toBe("prometheus");
  });
});

/** The Dockerfile's instructions, continuation lines joined, comments dropped, by stage. */
function dockerStages(): { name: string; from: string; lines: string[] }[] {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const stages: { name: string; from: string; lines: string[] }[] = [];
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (!l || l.startsWith("#")) continue;
    const from = l.match(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? "", lines: [] });
    else stages.at(-1)!.lines.push(l);
  }
  return stages;
}

describe("Dockerfile", () => {
  const stages = dockerStages();
  const [build, runtime] = stages as [(typeof stages)[0], (typeof stages)[0]];

  it("builds in one stage with the toolchain and runs in another without it", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "runtime"]);
    expect(build.lines.some((l) => /npm ci/.test(l))).toBe(true);
    expect(build.lines.some((l) => /npm prune --omit=dev/.test(l))).toBe(true);
    // Same base, so that the native modules built or fetched in the build stage load in the runtime one.
    expect(runtime.from).toBe(build.from);
    for (const l of runtime.lines) expect(l).not.toMatch(/npm (ci|install)|tsc|g\+\+|\bmake\b|python3/);
    // package.json's prepare script is what builds in the build stage.
    expect((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.prepare).toBe("npm run build");
  });

  it("copies from the build context only what exists and what .dockerignore lets in", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const s of stages) {
      for (const l of s.lines.filter((x) => /^COPY\s/.test(x) && !/--from=/.test(x))) {
        const sources = l.split(/\s+/).slice(1, -1);
        for (const src of sources) {
          expect(existsSync(join(ROOT, src)), src).toBe(true);
          expect(ignored.includes(src.split("/")[0]!), `${src} is in .dockerignore`).toBe(false);
        }
      }
    }
    // The runtime takes from the build stage what it built: dist/src (tsc's outDir is dist), dist/web (the operator console, Vite's
    // outDir), production node_modules, package.json (for --version).
    const fromBuild = runtime.lines.filter((l) => /^COPY --from=build/.test(l)).map((l) => l.split(/\s+/)[2]);
    expect(fromBuild.sort()).toEqual(["/build/dist/src", "/build/dist/web", "/build/node_modules", "/build/package.json"]);
  });

  it("runs as a non-root user with its data on a volume, its port exposed, and a health check on /healthz", () => {
    const env = Object.fromEntries(runtime.lines.filter((l) => /^ENV\s/.test(l)).flatMap((l) => [...l.slice(4).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    for (const name of Object.keys(env).filter((n) => n.startsWith("LOYALTYD_"))) expect(ENV_NAMES.has(name), name).toBe(true);
    const config = loadConfig({ env: Object.fromEntries(Object.entries(env).filter(([n]) => n.startsWith("LOYALTYD_"))) });
    expect(runtime.lines).toContain("USER node");
    expect(runtime.lines).toContain(`VOLUME ["${config.dataDir}"]`);
    expect(runtime.lines).toContain(`EXPOSE ${config.http.port}`);
    expect(config.programmesDir).toBe("/app/config/programmes");
    expect(runtime.lines.some((l) => /^COPY config \.\/config$/.test(l))).toBe(true);
    expect(runtime.lines.find((l) => l.startsWith("HEALTHCHECK"))).toContain("/healthz");
    expect(runtime.lines).toContain('ENTRYPOINT ["node", "dist/src/cli.js"]');
  });

  it("needs at run time only the production dependencies (what the runtime stage keeps)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const builtins = new Set(builtinModules);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith(".js")) files.push(p);
      }
    };
    walk(join(ROOT, "dist/src"));
    expect(files.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(/(?:from\s+|import\s*\(\s*)["']([^"'.][^"']*)["']/g)) {
        const spec = m[1]!;
        if (spec.startsWith("node:") || builtins.has(spec)) continue;
        used.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
      }
    }
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });
});

/** The HEALTHCHECK's command, run here as Docker would run it in the container. */
function healthcheck(port: number): number | null {
  const line = dockerStages()[1]!.lines.find((l) => l.startsWith("HEALTHCHECK"))!;
  const argv = JSON.parse(line.slice(line.indexOf("CMD") + 3).trim()) as string[];
  expect(argv[0]).toBe("node");
  return spawnSync(process.execPath, argv.slice(1), { env: { ...process.env, LOYALTYD_HTTP_PORT: String(port) }, timeout: 10_000 }).status;
}

describe.skipIf(findNatsServer() === null)("config/nats/server.conf on a real nats-server, and an engine against it", () => {
  let dir: string;
  let server: ChildProcess;
  let monitorPort: number;
  let natsUrl: string;
  let engine: ChildProcess | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    dir = tempDir("loyaltyd-deploy-");
    // A port freePort() found free may be taken by a test running beside this one before
    // the server binds it: then the server exits, and is started again on other ports.
    let stderr = "";
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      monitorPort = await freePort();
      natsUrl = `nats://127.0.0.1:${port}`;
      // The file as shipped; only the addresses and the store directory are this machine's. No -js: the file turns JetStream on.
      server = spawn(findNatsServer()!, ["-c", join(ROOT, "config/nats/server.conf"), "-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort), "-sd", join(dir, `js-${attempt}`)], { stdio: ["ignore", "ignore", "pipe"] });
      stderr = "";
      server.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const deadline = Date.now() + 20_000;
      let healthy = false;
      while (!healthy && server.exitCode === null && Date.now() < deadline) {
        healthy = await fetch(`http://127.0.0.1:${monitorPort}/healthz`).then((r) => r.ok, () => false);
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      if (healthy) break;
      if (server.exitCode === null) server.kill("SIGKILL");
      if (attempt === 3) throw new Error(`nats-server with config/nats/server.conf did not become healthy: ${stderr}`);
    }
  }, 90_000);

  afterAll(async () => {
    await nc?.close();
    if (engine && engine.exitCode === null) {
      engine.kill("SIGKILL");
      await new Promise((r) => engine!.once("exit", r));
    }
    server.kill("SIGTERM");
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once("exit", r)));
  });

  it("has JetStream on from the file alone", async () => {
    nc = await connect({ servers: natsUrl });
    const info = await (await nc.jetstreamManager()).getAccountInfo();
    expect(info.api.total).toBeGreaterThanOrEqual(0);
    const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as { jetstream?: { config?: { store_dir?: string } }; max_payload: number };
    expect(varz.jetstream?.config?.store_dir).toContain(join(dir, "js"));
    expect(varz.max_payload).toBe(1024 * 1024);
  });

  it("serves an engine: a sale published to the stream gets its result; the image's health check passes, and fails once it is gone", async () => {
    const started = await spawnEngine(childEngineEnv(dir, natsUrl));
    engine = started.child;
    const results = nc!.subscribe("loyalty.results.s01", { max: 1, timeout: 15_000 });
    await nc!.jetstream().publish("loyalty.events.s01", JSON.stringify(sale("dep-1", { phone: "+48600100200" }, [line("1", 2, 1500)])), { msgID: "dep-1" });
    for await (const m of results) expect(JSON.parse(new TextDecoder().decode(m.data))).toMatchObject({ ok: true, eventId: "dep-1", earned: 30 });
    expect(healthcheck(started.httpPort)).toBe(0);
    engine.kill("SIGTERM");
    await new Promise((r) => engine!.once("exit", r));
    expect(healthcheck(started.httpPort)).toBe(1);
  }, 60_000);
});
