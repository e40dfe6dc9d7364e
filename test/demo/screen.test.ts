// The demo's screen: formatting, lines cut to the width, a status block of fixed height,
// and the escapes that rewrite it in place.
import { describe, expect, it } from "vitest";
import { LiveScreen, formatRate, formatSeconds, formatUptime, renderLine, statusLines, type StatusState } from "../../src/demo/screen.js";
import { figuresOf, type Sample } from "../../src/demo/status.js";

const info = { version: "9.9.9", simulatorRate: 200, simulatorCustomers: 2000, logFile: "data/loyaltyd.log" };
const text = (l: { text: string }[]) => l.map((s) => s.text).join("");

function sample(atMs: number, over: Partial<Sample> = {}): Sample {
  const h = { le: [0.001, 0.01, Infinity], cumulative: [0, 0, 0] };
  return { atMs, events: 0, rejected: {}, points: { earned: 0, takenBack: 0, redeemed: 0 }, accrual: h, authorize: h, lagMessages: 0, ackPending: 0, ...over };
}

function state(over: Partial<StatusState> = {}): StatusState {
  return { startedAtMs: 0, nowMs: 3_723_000, simulator: "running", figures: null, segments: [{ name: "a", members: null }], notes: [], ...over };
}

describe("formatting", () => {
  it.each([
    [null, "–"],
    [0.00042, "0.42 ms"],
    [0.0031, "3.1 ms"],
    [0.0124, "12 ms"],
    [1.34, "1.3 s"],
  ])("latency %s reads %s", (s, want) => expect(formatSeconds(s)).toBe(want));
  it.each([
    [0, "0"],
    [0.25, "0.3"],
    [9.94, "9.9"],
    [1234.4, "1,234"],
  ])("rate %s reads %s", (r, want) => expect(formatRate(r)).toBe(want));
  it("writes the uptime as h:mm:ss", () => expect(formatUptime(3_723_000)).toBe("1:02:03"));
});

describe("renderLine", () => {
  const line = [{ text: "abc", style: "bold" as const }, { text: "défg" }];
  it("cuts to the width by characters, styles included or not", () => {
    expect(renderLine(line, 5, false)).toBe("abcdé");
    expect(renderLine(line, 5, true)).toBe("\x1b[1mabc\x1b[0mdé");
    expect(renderLine(line, 2, true)).toBe("\x1b[1mab\x1b[0m");
    expect(renderLine(line, Infinity, false)).toBe("abcdéfg");
  });
});

describe("statusLines", () => {
  it("names the simulator's traffic: POS events and card customers, or distributors' reports", () => {
    expect(text(statusLines(state(), info)[0]!)).toContain("simulator: 200 POS events/s, 2,000 card customers, ");
    expect(text(statusLines(state(), { ...info, simulatorKind: "b2b", simulatorRate: 2, simulatorCustomers: 12 })[0]!)).toContain("simulator: 2.0 distributors' reports/s, 12 distributors, ");
  });

  it("has the same number of lines before the first figures, with figures, and with warnings", () => {
    const before = statusLines(state(), info);
    const f = figuresOf(
      sample(11_000, { events: 2000, rejected: { VALIDATION: 4 }, points: { earned: 1234, takenBack: 5, redeemed: 60 }, lagMessages: 3, authorize: { le: [0.001, 0.01, Infinity], cumulative: [8, 10, 10] } }),
      sample(1_000),
    );
    const notes = [1, 2, 3, 4].map((i) => ({ atMs: i * 1000, level: "warn" as const, msg: `w${i}` }));
    const after = statusLines(state({ figures: f, notes, segments: [{ name: "a", members: 17 }] }), info);
    expect(after.length).toBe(before.length);
    const all = after.map(text).join("\n");
    expect(all).toContain("up 1:02:03");
    expect(all).toMatch(/events\s+200\/s\s+2,000 answered since start/);
    expect(all).toMatch(/authorize\s+p50 0\.63 ms\s+p99 \d\.\d ms/);
    expect(all).toMatch(/accrual\s+no requests in the window/);
    expect(all).toMatch(/points\s+1,234 earned\s+5 taken back\s+60 redeemed/);
    expect(all).toMatch(/errors\s+0\.4\/s\s+4 since start\s+VALIDATION 4/);
    expect(all).toMatch(/stream lag\s+3 messages waiting/);
    expect(all).toContain("a: 17");
    expect(all).toContain("logs: data/loyaltyd.log");
    // The last three warnings, oldest first.
    expect(all).not.toContain("w1");
    expect(all).toMatch(/w2[\s\S]*w3[\s\S]*w4/);
  });
});

class FakeTerminal {
  out = "";
  columns = 30;
  write(s: string) {
    this.out += s;
    return true;
  }
  hasColors() {
    return false;
  }
}

describe("LiveScreen", () => {
  it("prints the header once and rewrites the block in place, cut to the width", () => {
    const t = new FakeTerminal();
    const screen = new LiveScreen(t, {});
    screen.print([[{ text: "header line that is longer than thirty columns" }]]);
    screen.draw([[{ text: "one" }], [{ text: "x".repeat(50) }]]);
    t.out = "";
    screen.draw([[{ text: "uno" }], [{ text: "dos" }]]);
    // Up over the two lines drawn, each line erased to its end, the rest below erased.
    expect(t.out).toBe("\x1b[?25l\x1b[2A\runo\x1b[K\ndos\x1b[K\n\x1b[J");
    t.out = "";
    screen.draw([[{ text: "y".repeat(50) }]]);
    expect(t.out).toContain("y".repeat(29) + "\x1b[K");
    expect(t.out).not.toContain("y".repeat(30));
    t.out = "";
    screen.close([[{ text: "bye" }]]);
    expect(t.out).toBe("bye\n\x1b[?25h");
  });

  it("keeps the status under new header lines", () => {
    const t = new FakeTerminal();
    const screen = new LiveScreen(t, {});
    screen.draw([[{ text: "status" }]]);
    t.out = "";
    screen.print([[{ text: "more" }]]);
    expect(t.out).toBe("\x1b[1A\r\x1b[Jmore\n\x1b[?25l\rstatus\x1b[K\n\x1b[J");
  });

  it("uses no colour with NO_COLOR set", () => {
    const t = Object.assign(new FakeTerminal(), { hasColors: () => true });
    new LiveScreen(t, { NO_COLOR: "1" }).draw([[{ text: "a", style: "red" }]]);
    expect(t.out).not.toContain("\x1b[31m");
    const c = Object.assign(new FakeTerminal(), { hasColors: () => true });
    new LiveScreen(c, {}).draw([[{ text: "a", style: "red" }]]);
    expect(c.out).toContain("\x1b[31ma\x1b[0m");
  });
});

describe("noteText", () => {
  it("adds the line's first plain fields to the message, not the ones every line has", async () => {
    const { noteText } = await import("../../src/observe/logger.js");
    expect(noteText({ level: 40, time: 1, pid: 2, name: "loyaltyd", msg: "nats connection", nats: "disconnect", data: "x", err: { message: "e" }, n: 3, more: true })).toBe(
      "nats connection nats=disconnect data=x n=3",
    );
    expect(noteText({ msg: "plain" })).toBe("plain");
  });
});
