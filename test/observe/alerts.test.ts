// The shipped Prometheus configuration, checked by Debian's promtool: the config and rules
// are valid, the rules' unit tests (config/prometheus/alerts.test.yml) pass, every alert
// is unit-tested firing and has its runbook section in docs/operations.md.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { findExecutable } from "../../src/setup.js";
import { ROOT } from "../e2e/harness.js";

const DIR = join(ROOT, "config/prometheus");

function promtool(...args: string[]): { status: number | null; out: string } {
  const bin = findExecutable("promtool");
  if (!bin) throw new Error("promtool is missing: run `node dist/src/cli.js setup` (npm test does)");
  const r = spawnSync(bin, args, { cwd: DIR, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; annotations?: Record<string, string> }> }>;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const rules = parseYaml(readFileSync(join(DIR, "alerts.yml"), "utf8")) as RuleFile;
const alertNames = [...new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : []))))];

describe("config/prometheus", () => {
  it("holds a valid Prometheus configuration and valid rules", () => {
    const config = promtool("check", "config", "prometheus.yml");
    expect(config.out).toContain("SUCCESS");
    expect(config.status).toBe(0);
    const checked = promtool("check", "rules", "alerts.yml");
    expect(checked.status, checked.out).toBe(0);
  });

  it("passes the rules' unit tests", () => {
    const r = promtool("test", "rules", "alerts.test.yml");
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain("SUCCESS");
  });

  it("unit-tests every alert both firing and silent", () => {
    const tests = parseYaml(readFileSync(join(DIR, "alerts.test.yml"), "utf8")) as RuleTests;
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of alertNames) {
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length > 0), `${name} firing`).toBe(true);
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} silent`).toBe(true);
    }
    expect(alertNames.length).toBeGreaterThanOrEqual(14);
  });

  it("links every alert to its runbook section in docs/operations.md", () => {
    const ops = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
    for (const g of rules.groups) {
      for (const r of g.rules) {
        if (!r.alert) continue;
        expect(r.annotations?.runbook).toBe(`docs/operations.md#${r.alert.toLowerCase()}`);
        expect(ops, r.alert).toMatch(new RegExp(`^#### ${r.alert}$`, "m"));
      }
    }
  });
});
