// The demo's terminal screen: a header printed once (what runs, where the logs go, the
// commands to try), then a block of status lines rewritten in place every second with
// plain ANSI escapes. statusLines is pure; LiveScreen owns the terminal.
import type { LogNote } from "../observe/logger.js";
import type { Figures, Latency } from "./status.js";
import type { TryRequest } from "./try.js";

export type Style = "bold" | "dim" | "red" | "yellow" | "green" | "cyan";
export type Segment = { text: string; style?: Style };
export type Line = Segment[];

const SGR: Record<Style, string> = { bold: "1", dim: "2", red: "31", yellow: "33", green: "32", cyan: "36" };

/** Visible text of a line cut to `width` columns, styled with SGR escapes when `colour`. */
export function renderLine(line: Line, width: number, colour: boolean): string {
  let out = "";
  let left = Math.max(0, width);
  for (const seg of line) {
    if (left === 0) break;
    const text = [...seg.text].slice(0, left).join("");
    left -= [...text].length;
    out += colour && seg.style ? `\x1b[${SGR[seg.style]}m${text}\x1b[0m` : text;
  }
  return out;
}

export interface DemoInfo {
  version: string;
  simulatorRate: number;
  simulatorCustomers: number;
  logFile: string;
  /** `b2b`: the simulator submits distributors' reports (rate: reports/s, customers: distributors). Default POS. */
  simulatorKind?: "pos" | "b2b";
}

export interface SegmentCount {
  name: string;
  members: number | null;
}

export interface StatusState {
  startedAtMs: number;
  nowMs: number;
  simulator: "starting" | "enrolling" | "running" | "stopping" | "stopped" | "off";
  figures: Figures | null;
  segments: SegmentCount[];
  notes: LogNote[];
}

const int = (n: number): string => Math.round(n).toLocaleString("en-US");

export function formatRate(perSec: number): string {
  if (perSec === 0) return "0";
  return perSec < 10 ? perSec.toFixed(1) : int(perSec);
}

/** Seconds as a person reads a latency: 0.42 ms, 3.1 ms, 12 ms, 1.3 s. */
export function formatSeconds(s: number | null): string {
  if (s === null) return "–";
  const ms = s * 1000;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
const label = (text: string): Segment => ({ text: `  ${text.padEnd(12)}`, style: "dim" });
const value = (text: string, style: Style = "bold"): Segment => ({ text, style });
const plain = (text: string): Segment => ({ text });

function latencyLine(name: string, l: Latency | undefined, what: string): Line {
  if (!l || l.count === 0) return [label(name), plain("no requests in the window   "), { text: what, style: "dim" }];
  return [label(name), plain("p50 "), value(formatSeconds(l.p50).padEnd(8)), plain("  p99 "), value(formatSeconds(l.p99).padEnd(8)), plain("  "), { text: what, style: "dim" }];
}

const SIMULATOR_STATE: Record<StatusState["simulator"], string> = {
  starting: "starting",
  enrolling: "enrolling its customers…",
  running: "running",
  stopping: "stopping…",
  stopped: "stopped",
  off: "off (config simulator)",
};

function simulatorText(info: DemoInfo): string {
  return info.simulatorKind === "b2b"
    ? `${formatRate(info.simulatorRate)} distributors' reports/s, ${int(info.simulatorCustomers)} distributors`
    : `${int(info.simulatorRate)} POS events/s, ${int(info.simulatorCustomers)} card customers`;
}

/** The status block, a fixed number of lines whatever the figures (so it can be rewritten in place). */
export function statusLines(s: StatusState, info: DemoInfo): Line[] {
  const f = s.figures;
  const errorsStyle: Style = f && f.errorsPerSec > 0 ? "red" : "green";
  const codes = f?.errorCodes.slice(0, 3).map(([c, n]) => `${c} ${int(n)}`).join(", ") ?? "";
  const notes = s.notes.slice(-3);
  return [
    [
      value("loyaltyd demo", "cyan"),
      plain(`  up ${formatUptime(s.nowMs - s.startedAtMs)}  ·  simulator: ${simulatorText(info)}, `),
      value(SIMULATOR_STATE[s.simulator], s.simulator === "running" ? "green" : "yellow"),
    ],
    [],
    [label("events"), value(`${f ? formatRate(f.eventsPerSec) : "–"}/s`.padEnd(10)), plain(`${int(f?.eventsTotal ?? 0)} answered since start`)],
    latencyLine("accrual", f?.accrual, "stream event published → result durable"),
    latencyLine("authorize", f?.authorize, "request → reply, rpc and http"),
    [
      label("points"),
      value(int(f?.points.earned ?? 0)),
      plain(" earned   "),
      value(int(f?.points.takenBack ?? 0)),
      plain(" taken back   "),
      value(int(f?.points.redeemed ?? 0)),
      plain(" redeemed"),
    ],
    [
      label("errors"),
      value(`${f ? formatRate(f.errorsPerSec) : "–"}/s`.padEnd(10), errorsStyle),
      plain(`${int(f?.errorsTotal ?? 0)} since start`),
      ...(codes ? [{ text: `   ${codes}`, style: "dim" as const }] : []),
    ],
    [label("stream lag"), value(int(f?.lagMessages ?? 0)), plain(" messages waiting   "), value(int(f?.ackPending ?? 0)), plain(" delivered, awaiting ack")],
    [
      label("segments"),
      ...s.segments.flatMap((g, i): Segment[] => [...(i ? [plain("   ")] : []), plain(`${g.name}: `), value(g.members === null ? "…" : int(g.members))]),
    ],
    [],
    [{ text: `  rates and latencies over the last ${f ? Math.round(f.windowSec) : "–"} s  ·  logs: ${info.logFile}  ·  Ctrl-C stops`, style: "dim" }],
    ...[0, 1, 2].map((i): Line => {
      const n = notes[i];
      if (!n) return [];
      return [{ text: `  ${n.level === "warn" ? "!" : "✗"} ${clock(n.atMs)} ${n.msg}`, style: n.level === "warn" ? "yellow" : "red" }];
    }),
  ];
}

/** The operator console's address, and the token to sign in with when the demo made one for this run. */
export interface ConsoleSignIn {
  url: string;
  token: string | null;
}

/** The participant portal's address and the sample participant to sign in as (null: portal.enabled is off). */
export interface PortalSignIn {
  url: string;
  /** A sample participant's card, when the demo has one. */
  card: string | null;
}

/** What is printed once above the status: what runs, the console, the portal, and the commands to try. */
export function headerLines(info: DemoInfo, tries: TryRequest[], metricsUrl: string, console: ConsoleSignIn, portal: PortalSignIn | null = null): Line[] {
  return [
    [value(`loyaltyd ${info.version}`, "cyan"), plain(" demo: the engine, an embedded nats-server with JetStream and a POS simulator, in this process.")],
    [plain("Operator console: "), value(console.url, "cyan"), plain(console.token ? `   token (this run only): ${console.token}` : "   sign in with your adminToken or operator token")],
    ...(portal ? [[plain("Participant portal: "), value(portal.url, "cyan"), plain(portal.card ? `   sign in with card ${portal.card}; its one-time code is printed here` : "   sign in with a customer's card, phone or e-mail; codes are printed here")] satisfies Line] : []),
    [{ text: `Metrics: ${metricsUrl}   Logs (JSON lines): ${info.logFile}`, style: "dim" }],
    [],
    [plain("Try it from another terminal:")],
    ...tries.flatMap((t): Line[] => [[], [{ text: `  # ${t.title}`, style: "dim" }], [plain(`  ${t.curl}`)]]),
    [],
  ];
}

/** A one-time code as the demo's stand-in for the SMS / e-mail connector shows it. */
export function otpLine(n: { channel?: unknown; to?: unknown; code?: unknown; expiresAt?: unknown }, atMs: number): Line {
  const until = typeof n.expiresAt === "number" ? `, valid until ${clock(n.expiresAt)} UTC` : "";
  return [{ text: `  ${clock(atMs)} one-time code ${String(n.code)} (${String(n.channel)} to ${String(n.to)}${until})`, style: "yellow" }];
}

export interface Terminal {
  write(s: string): unknown;
  columns?: number;
  hasColors?: () => boolean;
  on?(event: "resize", fn: () => void): unknown;
  off?(event: "resize", fn: () => void): unknown;
}

/**
 * Writes the header once and rewrites the status block in place: cursor up over the
 * previous block, each line ended by erase-to-end-of-line, the rest erased below. Lines
 * are cut to the width so that none wraps (a wrapped line would throw the count off).
 */
export class LiveScreen {
  private header: Line[] = [];
  private drawn = 0;
  private last: Line[] = [];
  private readonly colour: boolean;
  private readonly onResize = () => this.redrawAll();

  constructor(private readonly out: Terminal, env: NodeJS.ProcessEnv = process.env) {
    this.colour = !env.NO_COLOR && (out.hasColors?.() ?? false);
    out.on?.("resize", this.onResize);
  }

  private width(): number {
    return Math.max(20, (this.out.columns ?? 80) - 1);
  }

  /** Prints lines above the status block, once (they scroll like any output; long ones wrap). */
  print(lines: Line[]): void {
    this.header.push(...lines);
    this.out.write(this.clearBlock() + lines.map((l) => renderLine(l, Infinity, this.colour) + "\n").join(""));
    this.drawn = 0;
    if (this.last.length) this.draw(this.last);
  }

  draw(lines: Line[]): void {
    this.last = lines;
    const w = this.width();
    const body = lines.map((l) => renderLine(l, w, this.colour) + "\x1b[K\n").join("");
    this.out.write("\x1b[?25l" + this.up() + body + "\x1b[J");
    this.drawn = lines.length;
  }

  /** Leaves the last status on screen, the cursor visible below it. */
  close(after: Line[] = []): void {
    this.out.off?.("resize", this.onResize);
    this.out.write(after.map((l) => renderLine(l, Infinity, this.colour) + "\n").join("") + "\x1b[?25h");
  }

  private up(): string {
    return this.drawn > 0 ? `\x1b[${this.drawn}A\r` : "\r";
  }

  private clearBlock(): string {
    return this.drawn > 0 ? this.up() + "\x1b[J" : "";
  }

  /** After a resize the wrapped lines above are unknowable: clear the screen and draw it all again. */
  private redrawAll(): void {
    this.out.write("\x1b[2J\x1b[H" + this.header.map((l) => renderLine(l, Infinity, this.colour) + "\n").join(""));
    this.drawn = 0;
    if (this.last.length) this.draw(this.last);
  }
}
