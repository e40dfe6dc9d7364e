// The demo's lines for the participant portal: its address with the sample card (or without
// one), and a one-time code as the demo's stand-in connector prints it.
import { describe, expect, it } from "vitest";
import { headerLines, otpLine, type Line } from "../../src/demo/screen.js";

const text = (l: Line): string => l.map((s) => s.text).join("");
const INFO = { version: "1.2.3", simulatorRate: 10, simulatorCustomers: 100, logFile: "data/loyaltyd.log" };
const CONSOLE = { url: "http://127.0.0.1:8080/console", token: null };

describe("the demo's portal lines", () => {
  it("prints the portal's address after the console's, with the sample card when there is one", () => {
    const lines = headerLines(INFO, [], "http://127.0.0.1:8080/metrics", CONSOLE, { url: "http://127.0.0.1:8080/me", card: "C-1" }).map(text);
    const at = lines.findIndex((l) => l.startsWith("Participant portal: "));
    expect(lines[at - 1]).toMatch(/^Operator console: /);
    expect(lines[at]).toBe("Participant portal: http://127.0.0.1:8080/me   sign in with card C-1; its one-time code is printed here");
    const noCard = headerLines(INFO, [], "m", CONSOLE, { url: "http://h/me", card: null }).map(text);
    expect(noCard).toContain("Participant portal: http://h/me   sign in with a customer's card, phone or e-mail; codes are printed here");
  });

  it("prints no portal line when the portal is off", () => {
    expect(headerLines(INFO, [], "m", CONSOLE, null).map(text).some((l) => l.includes("Participant portal"))).toBe(false);
  });

  it("shows a code with its channel, address and expiry (UTC)", () => {
    const at = Date.UTC(2026, 10, 30, 19, 15, 7);
    const line = otpLine({ channel: "email", to: "ada@example.com", code: "058545", expiresAt: at + 300_000 }, at);
    expect(text(line)).toBe("  19:15:07 one-time code 058545 (email to ada@example.com, valid until 19:20:07 UTC)");
  });
});
