// Local time in a zone: the cached offsets must agree with Intl at every instant, DST included.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTimeZone, localHour, localWeekday, startOfNextYear, zoneOffsetMs } from "../../src/rules/time.js";

const zones = ["Europe/Warsaw", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "UTC"];
const isoWeekday: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

function intlParts(zone: string, at: number): Record<string, string> {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", weekday: "short", hour: "numeric", year: "numeric", month: "numeric", day: "numeric", minute: "numeric" });
  return Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
}

describe("time zones", () => {
  it("knows real zones and refuses made-up ones", () => {
    expect(isTimeZone("Europe/Warsaw")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Europe/Atlantis")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });

  it("agrees with Intl on weekday and hour at any instant (cached by hour)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }), (zone, at) => {
        const parts = intlParts(zone, at);
        expect(localWeekday(zone, at)).toBe(isoWeekday[parts.weekday!]);
        expect(localHour(zone, at)).toBe(Number(parts.hour));
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with Intl minute by minute across the 2026 DST switches in Warsaw and New York", () => {
    const switches = [
      ["Europe/Warsaw", Date.UTC(2026, 2, 29, 1)],
      ["Europe/Warsaw", Date.UTC(2026, 9, 25, 1)],
      ["America/New_York", Date.UTC(2026, 2, 8, 7)],
      ["America/New_York", Date.UTC(2026, 10, 1, 6)],
      ["Australia/Lord_Howe", Date.UTC(2026, 3, 4, 15)],
    ] as const;
    for (const [zone, at] of switches) {
      for (let t = at - 3 * 3_600_000; t <= at + 3 * 3_600_000; t += 60_000) {
        expect([zone, t, localHour(zone, t)]).toEqual([zone, t, Number(intlParts(zone, t).hour)]);
      }
    }
  });

  it("gives Warsaw +1 h in winter and +2 h in summer", () => {
    expect(zoneOffsetMs("Europe/Warsaw", Date.UTC(2026, 0, 15))).toBe(3_600_000);
    expect(zoneOffsetMs("Europe/Warsaw", Date.UTC(2026, 6, 15))).toBe(7_200_000);
    expect(zoneOffsetMs("Asia/Kathmandu", Date.UTC(2026, 6, 15))).toBe(5.75 * 3_600_000);
  });

  it("finds the first instant of the next local year", () => {
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }), (zone, at) => {
        const next = startOfNextYear(zone, at);
        const parts = intlParts(zone, next);
        expect([parts.month, parts.day, parts.hour, parts.minute].map(Number)).toEqual([1, 1, 0, 0]);
        expect(Number(parts.year)).toBe(Number(intlParts(zone, at).year) + 1);
        expect(intlParts(zone, next - 60_000).month).toBe("12");
      }),
      { numRuns: 500 },
    );
  });
});
