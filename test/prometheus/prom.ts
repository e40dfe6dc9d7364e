// A real Prometheus (Debian's package) for the tests: run with the shipped
// config/prometheus files, only the target, the intervals and the rules' time scale
// changed; queried through its HTTP API.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { freePort } from "../../src/ingest/nats-server.js";
import { findExecutable } from "../../src/setup.js";
import { ROOT } from "../e2e/harness.js";

const SHIPPED = join(ROOT, "config/prometheus");
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** A Prometheus duration (`5m`, `1h30m`) in seconds. */
export function durationSeconds(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return total;
}

/** Seconds as a Prometheus duration, in whole milliseconds. */
function formatDuration(seconds: number): string {
  return `${Math.max(1, Math.round(seconds * 1000))}ms`;
}

/**
 * Every duration of a rule divided by `factor`: the range selectors and subqueries of its
 * expression and its `for`. Thresholds and predict_linear's horizon stay as they are.
 */
export function scaleRuleDurations(expr: string, factor: number): string {
  return expr.replace(/\[((?:\d+(?:ms|s|m|h|d))+)(:((?:\d+(?:ms|s|m|h|d))*))?\]/g, (_m, range: string, colon: string | undefined, step: string | undefined) => {
    const scaled = formatDuration(durationSeconds(range) / factor);
    if (colon === undefined) return `[${scaled}]`;
    return `[${scaled}:${step ? formatDuration(durationSeconds(step) / factor) : ""}]`;
  });
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
}
export interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

/** The shipped rules, parsed. */
export function shippedRules(): RuleFile {
  return parseYaml(readFileSync(join(SHIPPED, "alerts.yml"), "utf8")) as RuleFile;
}

export function alertNames(): string[] {
  return [...new Set(shippedRules().groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : []))))];
}

export interface PromOptions {
  dir: string;
  target: string;
  scrapeIntervalS: number;
  /** Each rule's durations are divided by it: 60 makes an hour's window a minute. */
  timeScale: number;
}

export interface Prometheus {
  url: string;
  child: ChildProcess;
  query(expr: string): Promise<PromResult[]>;
  queryRange(expr: string, startS: number, endS: number, stepS: number): Promise<PromResult[]>;
  /** Alerts now firing (not pending), each with its labels. */
  firing(): Promise<Array<Record<string, string>>>;
  /** The rules as this Prometheus runs them (durations scaled). */
  rules: RuleFile;
  /** Every loaded rule with its evaluation health ("ok", "err", "unknown") and last error. */
  ruleHealth(): Promise<Array<{ name: string; health: string; lastError?: string }>>;
  stop(): Promise<void>;
}

export interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** Writes the shipped config with the test's target, intervals and time scale, and starts Prometheus on it. */
export async function startPrometheus(opts: PromOptions): Promise<Prometheus> {
  const bin = findExecutable("prometheus");
  if (!bin) throw new Error("prometheus is missing: run `node dist/src/cli.js setup`");
  const confDir = join(opts.dir, "prometheus");
  mkdirSync(confDir, { recursive: true });
  const config = parseYaml(readFileSync(join(SHIPPED, "prometheus.yml"), "utf8")) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const interval = formatDuration(opts.scrapeIntervalS);
  config.global = { scrape_interval: interval, scrape_timeout: formatDuration(opts.scrapeIntervalS * 0.8), evaluation_interval: interval };
  const job = config.scrape_configs.find((j) => j.job_name === "loyaltyd");
  if (!job) throw new Error("the shipped prometheus.yml has no loyaltyd job");
  job.static_configs = [{ targets: [opts.target] }];
  writeFileSync(join(confDir, "prometheus.yml"), stringifyYaml(config));
  const rules = shippedRules();
  for (const g of rules.groups) {
    for (const r of g.rules) {
      r.expr = scaleRuleDurations(r.expr, opts.timeScale);
      if (r.for) r.for = formatDuration(durationSeconds(r.for) / opts.timeScale);
    }
  }
  for (const file of config.rule_files) writeFileSync(join(confDir, file), stringifyYaml(rules));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    bin,
    [
      `--config.file=${join(confDir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(confDir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1d",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`prometheus did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    child,
    query: async (expr) => (await api<{ result: PromResult[] }>("query", { query: expr })).result,
    queryRange: async (expr, startS, endS, stepS) =>
      (await api<{ result: PromResult[] }>("query_range", { query: expr, start: String(startS), end: String(endS), step: String(stepS) })).result,
    firing: async () =>
      (await api<{ alerts: Array<{ state: string; labels: Record<string, string> }> }>("alerts", {})).alerts.filter((a) => a.state === "firing").map((a) => a.labels),
    rules,
    ruleHealth: async () =>
      (await api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>("rules", {})).groups.flatMap((g) =>
        g.rules.map(({ name, health, lastError }) => ({ name, health, ...(lastError ? { lastError } : {}) })),
      ),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
