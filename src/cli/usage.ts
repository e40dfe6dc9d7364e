// Every command and option of the loyaltyd command line, declared once: node:util
// parseArgs reads them, and `--help` / `<command> --help` print them.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

export type CommandName = "serve" | "demo" | "setup" | "new-token" | "hash-token" | "backup" | "restore" | "cluster" | "rebuild";
type OptionName = "config" | "log" | "to" | "from" | "json" | "browser" | "verify" | "help" | "version";

interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's placeholder in the help (string options). */
  arg?: string;
  help: string;
}

const OPTIONS: Record<OptionName, OptionSpec> = {
  config: { type: "string", short: "c", arg: "FILE", help: "a JSON or YAML configuration file (keys: README.md, Configuration); the environment (LOYALTYD_*) overrides it" },
  log: {
    type: "string",
    arg: "screen|json",
    help: "screen: a live status on the terminal, the JSON logs appended to <dataDir>/loyaltyd.log (the default when stdout is a terminal); json: JSON log lines on stdout (the default otherwise)",
  },
  to: { type: "string", arg: "DIR", help: "where to write the backup: a new or empty directory" },
  from: { type: "string", arg: "DIR", help: "the backup directory to restore from" },
  json: { type: "boolean", help: "print what GET /v1/admin/cluster returns, as JSON" },
  verify: { type: "boolean", help: "compare every customer's balance in the rebuilt ledger with what the live cluster answers" },
  browser: { type: "boolean", help: "also Debian's chromium, which the console's browser tests drive (npm run test:browser)" },
  help: { type: "boolean", short: "h", help: "print this help" },
  version: { type: "boolean", short: "V", help: "print the version of loyaltyd" },
};

interface CommandSpec {
  summary: string;
  /** Options besides --help; the required ones are named in `required`. */
  options: OptionName[];
  required?: OptionName[];
  /** The one word that must follow the command (`cluster status`), if any. */
  subcommand?: string;
  /** What the command does, in a few lines. */
  details: string;
}

export const COMMANDS: Record<CommandName, CommandSpec> = {
  serve: {
    summary: "run the engine",
    options: ["config"],
    details:
      "Runs the engine until SIGINT or SIGTERM: NATS rpc responders, the JetStream consumer of LOYALTY_EVENTS,\n" +
      "the HTTP listener (/v1/<verb>, /v1/admin/*, /metrics, /healthz, /readyz). With no nats.url configured it\n" +
      "starts its own nats-server child with JetStream (users and generated passwords only). Logs are JSON lines on stdout.",
  },
  demo: {
    summary: "the engine on its embedded default plus the built-in POS simulator",
    options: ["config", "log"],
    details:
      "Like serve, with the POS simulator on (config simulator, simulatorRate, simulatorCustomers): it enrols card\n" +
      "customers, publishes sales, returns and voids to the stream, and asks for balances, quotes and redemptions.\n" +
      "On a terminal it shows a live status (events/s, accrual and authorize p50/p99, points, errors, stream lag)\n" +
      "and three commands to try over HTTP; Ctrl-C stops it.",
  },
  setup: {
    summary: "install Debian's nats-server and prometheus when they are missing (with --browser, chromium too)",
    options: ["browser"],
    details: "As root it runs apt-get; otherwise it prints the command to run. Exit 1 when it could not install it.",
  },
  "new-token": {
    summary: "print a new random API key or operator token and its SHA-256, as JSON",
    options: [],
    details: "Prints {\"token\", \"sha256\"}: give the token to its holder, put the digest in the keys or operators file.",
  },
  "hash-token": {
    summary: "print the SHA-256 (hex) of the token read from stdin",
    options: [],
    details: "Reads the token from stdin (not an argument: it would stay in the shell's history and in ps) and prints\nits digest for a keys or operators file.",
  },
  backup: {
    summary: "copy the ledger into a directory, with a manifest; the engine may be running",
    options: ["to", "config"],
    required: ["to"],
    details: "Copies dataDir's LMDB ledger into DIR (new or empty) as one consistent snapshot and writes a manifest.\nExit 65 when the backup cannot be taken or trusted, 78 when the data dir is in use in a way that forbids it.",
  },
  restore: {
    summary: "with the engine stopped: verify a backup and put it in place of the ledger",
    options: ["from", "config"],
    required: ["from"],
    details: "Verifies the backup in DIR against its manifest and puts it in place of dataDir's ledger; the next start\nreplays LOYALTY_EVENTS after what the backup covers. Exit 65 for a backup that fails its checks, 78 while an engine runs.",
  },
  cluster: {
    summary: "cluster mode: the instances, who owns which virtual partition, lease ages, lag",
    subcommand: "status",
    options: ["config", "json"],
    details:
      "Reads the cluster's NATS KV buckets (nats.url) and prints the instances and their heartbeats, each\n" +
      "virtual partition's owner and lease age, and the events stream's lag; --json prints what\n" +
      "GET /v1/admin/cluster returns.",
  },
  rebuild: {
    summary: "cluster mode: make a ledger on an empty dataDir from the partitions' command logs alone",
    options: ["config", "verify"],
    details:
      "Applies every virtual partition's command log (LOYALTY_CMD_<p> on nats.url) in order on an empty dataDir,\n" +
      "as a new owner replays it, and prints what it applied as JSON; --verify then compares every customer's\n" +
      "balance with the live cluster's answer (run it while the cluster is quiet). Exit 65 on a mismatch,\n" +
      "69 when NATS cannot be read, 78 when cluster mode is off or dataDir already holds a ledger.",
  },
};

const ENV_NOTE =
  "Every config key can also be set by an environment variable: LOYALTYD_ + the key upper-cased with\n" +
  "dots as underscores (LOYALTYD_HTTP_PORT, LOYALTYD_NATS_URL, ...).";

function optionUsage(name: OptionName): string {
  const o = OPTIONS[name];
  return `--${name}${o.arg ? ` ${o.arg}` : ""}`;
}

/** Help text is wrapped to this many columns. */
const HELP_WIDTH = 100;

/** Words of `text` in lines of at most `width` characters (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

function optionLines(names: OptionName[]): string {
  const rows = names.map((n) => {
    const o = OPTIONS[n];
    return [`${o.short ? `-${o.short}, ` : "    "}${optionUsage(n)}`, o.help] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  const indent = " ".repeat(width + 4);
  return rows
    .map(([left, help]) => {
      const [first = "", ...more] = wrap(help, Math.max(40, HELP_WIDTH - indent.length));
      return [`  ${left.padEnd(width)}  ${first}`, ...more.map((l) => indent + l)].join("\n");
    })
    .join("\n");
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const commands = (Object.keys(COMMANDS) as CommandName[]).map((c) => `  ${c.padEnd(width)}  ${COMMANDS[c].summary}`).join("\n");
  return `usage: loyaltyd <command> [options]
       loyaltyd <command> --help     what a command does and its options

commands:
${commands}

options:
${optionLines(["help", "version"])}

${ENV_NOTE}`;
}

export function commandHelp(name: CommandName): string {
  const c = COMMANDS[name];
  const args = c.options.map((o) => (c.required?.includes(o) ? optionUsage(o) : `[${optionUsage(o)}]`)).join(" ");
  return `usage: loyaltyd ${name}${c.subcommand ? ` ${c.subcommand}` : ""}${args ? ` ${args}` : ""}

${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.
${c.details}

options:
${optionLines([...c.options, "help"])}${c.options.includes("config") ? `\n\n${ENV_NOTE}` : ""}`;
}

/** What the command line asks for: a command to run, or something to print and the exit code. */
export type Parsed =
  | { kind: "run"; command: CommandName; values: { config?: string; log?: string; to?: string; from?: string; json?: boolean; browser?: boolean; verify?: boolean } }
  | { kind: "print"; text: string; exitCode: number; toStderr: boolean };

const usageError = (text: string): Parsed => ({ kind: "print", text, exitCode: 2, toStderr: true });
const isCommand = (s: string | undefined): s is CommandName => s !== undefined && Object.hasOwn(COMMANDS, s);

export function parseCommandLine(args: string[], version: string): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    return usageError(`${(err as Error).message}\n\n${mainHelp()}`);
  }
  const { positionals, values } = parsed;
  const [first, second, ...rest] = positionals;
  if (values.version) return { kind: "print", text: version, exitCode: 0, toStderr: false };
  // `loyaltyd help [command]` reads like `--help`.
  if (first === "help") {
    if (second === undefined) return { kind: "print", text: mainHelp(), exitCode: 0, toStderr: false };
    return isCommand(second) ? { kind: "print", text: commandHelp(second), exitCode: 0, toStderr: false } : usageError(`unknown command ${second}\n\n${mainHelp()}`);
  }
  if (first === undefined) return values.help ? { kind: "print", text: mainHelp(), exitCode: 0, toStderr: false } : usageError(mainHelp());
  if (!isCommand(first)) return usageError(`unknown command ${first}\n\n${mainHelp()}`);
  if (values.help) return { kind: "print", text: commandHelp(first), exitCode: 0, toStderr: false };
  const spec = COMMANDS[first];
  if (spec.subcommand !== undefined && second !== spec.subcommand) {
    return usageError(`loyaltyd ${first} needs ${spec.subcommand}\n\n${commandHelp(first)}`);
  }
  const extra = spec.subcommand !== undefined ? rest : [second, ...rest].filter((a) => a !== undefined);
  if (extra.length > 0) return usageError(`loyaltyd ${first} takes no argument ${extra.join(" ")}\n\n${commandHelp(first)}`);
  for (const name of Object.keys(values) as OptionName[]) {
    if (!spec.options.includes(name)) return usageError(`loyaltyd ${first} has no option --${name}\n\n${commandHelp(first)}`);
  }
  for (const name of spec.required ?? []) {
    if (values[name] === undefined) return usageError(`loyaltyd ${first} needs ${optionUsage(name)}\n\n${commandHelp(first)}`);
  }
  if (values.log !== undefined && values.log !== "screen" && values.log !== "json") {
    return usageError(`--log is screen or json, not ${values.log}\n\n${commandHelp(first)}`);
  }
  const str = (v: string | boolean | undefined): string | undefined => (typeof v === "string" ? v : undefined);
  return { kind: "run", command: first, values: { config: str(values.config), log: str(values.log), to: str(values.to), from: str(values.from), json: values.json === true || undefined, browser: values.browser === true || undefined, verify: values.verify === true || undefined } };
}

/** The version in loyaltyd's package.json: the nearest one above this file (src/cli/ or dist/src/cli/). */
export function packageVersion(): string {
  for (let up = "../"; up.length <= 4 * 3; up += "../") {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "loyaltyd" && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return "unknown";
}
