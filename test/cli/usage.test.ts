// The command line: every command and option described by --help, --version from
// package.json, usage errors exit 2 with the help; and the built binary behaves so.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS, commandHelp, mainHelp, packageVersion, parseCommandLine, wrap, type CommandName } from "../../src/cli/usage.js";

const ROOT = join(import.meta.dirname, "../..");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const NAMES = Object.keys(COMMANDS) as CommandName[];
const OPTION_NAMES = ["--config", "--log", "--to", "--from", "--help", "--version"];

describe("help", () => {
  it("lists every command with its summary, and --help and --version", () => {
    const h = mainHelp();
    const lines = h.split("\n");
    for (const c of NAMES) expect(lines.some((l) => l.startsWith(`  ${c} `) && l.endsWith(COMMANDS[c].summary)), c).toBe(true);
    expect(h).toContain("--help");
    expect(h).toContain("--version");
  });

  it("describes each command's every option, and only those", () => {
    for (const c of NAMES) {
      const h = commandHelp(c);
      expect(h.startsWith(`usage: loyaltyd ${c}`)).toBe(true);
      for (const o of OPTION_NAMES) {
        const offered = o === "--help" || COMMANDS[c].options.includes(o.slice(2) as never);
        expect(h.includes(`${o}`), `${c} ${o}`).toBe(offered);
      }
    }
  });

  it("wraps help text at word boundaries", () => {
    expect(wrap("aa bb cc dd", 5)).toEqual(["aa bb", "cc dd"]);
    expect(wrap("averyverylongword x", 5)).toEqual(["averyverylongword", "x"]);
    expect(wrap("", 5)).toEqual([]);
  });
});

describe("parseCommandLine", () => {
  const parse = (...args: string[]) => parseCommandLine(args, "1.2.3");
  it.each([
    [["--version"], 0, "1.2.3"],
    [["-V"], 0, "1.2.3"],
    [["--help"], 0, "usage: loyaltyd <command>"],
    [["help"], 0, "usage: loyaltyd <command>"],
    [["help", "demo"], 0, "usage: loyaltyd demo"],
    [["demo", "--help"], 0, "usage: loyaltyd demo"],
    [["backup", "-h"], 0, "usage: loyaltyd backup --to DIR"],
    [[], 2, "usage: loyaltyd <command>"],
    [["frobnicate"], 2, "unknown command frobnicate"],
    [["help", "frobnicate"], 2, "unknown command frobnicate"],
    [["serve", "--bogus"], 2, "Unknown option '--bogus'"],
    [["serve", "--to", "x"], 2, "loyaltyd serve has no option --to"],
    [["serve", "extra"], 2, "takes no argument extra"],
    [["backup"], 2, "loyaltyd backup needs --to DIR"],
    [["restore", "--to", "x"], 2, "loyaltyd restore has no option --to"],
    [["demo", "--log", "pretty"], 2, "--log is screen or json, not pretty"],
    [["serve", "--log", "json"], 2, "loyaltyd serve has no option --log"],
    [["cluster"], 2, "loyaltyd cluster needs status"],
    [["cluster", "stats"], 2, "loyaltyd cluster needs status"],
    [["cluster", "status", "now"], 2, "takes no argument now"],
    [["serve", "--json"], 2, "loyaltyd serve has no option --json"],
  ])("%j prints (exit %i) %s", (args, exitCode, text) => {
    const p = parse(...args);
    expect(p.kind).toBe("print");
    if (p.kind !== "print") return;
    expect(p.exitCode).toBe(exitCode);
    expect(p.toStderr).toBe(exitCode !== 0);
    expect(p.text).toContain(text);
  });

  it.each([
    [["serve"], "serve", {}],
    [["serve", "-c", "x.yaml"], "serve", { config: "x.yaml" }],
    [["demo", "--log", "json", "--config", "c.json"], "demo", { config: "c.json", log: "json" }],
    [["demo", "--log=screen"], "demo", { log: "screen" }],
    [["backup", "--to", "/b"], "backup", { to: "/b" }],
    [["restore", "--from", "/b", "-c", "f"], "restore", { from: "/b", config: "f" }],
    [["new-token"], "new-token", {}],
    [["cluster", "status"], "cluster", {}],
    [["cluster", "status", "--json", "-c", "f"], "cluster", { json: true, config: "f" }],
  ])("%j runs %s with %j", (args, command, values) => {
    const p = parse(...args);
    expect(p).toEqual({ kind: "run", command, values: { config: undefined, log: undefined, to: undefined, from: undefined, ...values } });
  });
});

describe("the built binary", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist/src/cli.js"), ...args], { encoding: "utf8", timeout: 20_000 });

  it("prints the package's version", () => {
    expect(packageVersion()).toBe(VERSION);
    const r = cli("--version");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it("prints each command's help on stdout and exits 0", () => {
    for (const c of NAMES) {
      const r = cli(c, "--help");
      expect(r.status, c).toBe(0);
      expect(r.stdout).toBe(`${commandHelp(c)}\n`);
    }
  });

  it("exits 2 with the help on stderr for an unknown option", () => {
    const r = cli("demo", "--nope");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Unknown option '--nope'");
  });
});
