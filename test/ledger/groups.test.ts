// Dated group membership (pure): what the changes come to on a date, and how a change is
// filed among them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SINCE_ALWAYS, datedGroups, groupsIn, groupsOn } from "../../src/ledger/groups.js";

describe("dated groups", () => {
  it("reads a customer without dated changes as its groups on any date", () => {
    expect(groupsOn({ groups: ["north"] }, "1999-01-01")).toEqual(["north"]);
  });

  it("keeps the groups before the first change as always held, and applies each change from its day", () => {
    const c = { groups: ["north"] };
    const a = datedGroups(c, { add: ["gold"], remove: ["north"], from: "2026-03-01" }, "2026-03-15");
    expect(a.groups).toEqual(["gold"]);
    expect(groupsIn(a.groupChanges, "2026-02-28")).toEqual(["north"]);
    expect(groupsIn(a.groupChanges, "2026-03-01")).toEqual(["gold"]);
    expect(a.groupChanges[0]).toEqual({ from: SINCE_ALWAYS, group: "north", in: true });
  });

  it("files a backdated change before later ones, which still win from their own day", () => {
    const c = { groups: ["north"] };
    const a = datedGroups(c, { remove: ["north"], from: "2026-03-10" }, "2026-03-15");
    const b = datedGroups({ groups: a.groups, groupChanges: a.groupChanges }, { add: ["south"], from: "2026-03-05" }, "2026-03-15");
    expect(groupsIn(b.groupChanges, "2026-03-04")).toEqual(["north"]);
    expect(groupsIn(b.groupChanges, "2026-03-05")).toEqual(["north", "south"]);
    expect(groupsIn(b.groupChanges, "2026-03-10")).toEqual(["south"]);
    expect(b.groups).toEqual(["south"]);
  });

  it("dates a change without a day today, and refuses a day after today", () => {
    const a = datedGroups({ groups: [] }, { add: ["x"] }, "2026-03-15");
    expect(a.groupChanges).toEqual([{ from: "2026-03-15", group: "x", in: true }]);
    expect(() => datedGroups({ groups: [] }, { add: ["x"], from: "2026-03-16" }, "2026-03-15")).toThrow(/after today/);
  });

  it("agrees with replaying the changes day by day in order (property)", () => {
    const change = fc.record({ day: fc.integer({ min: 1, max: 28 }), group: fc.constantFrom("a", "b", "c"), add: fc.boolean() });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 30 }), fc.integer({ min: 1, max: 28 }), (changes, probe) => {
        const day = (d: number) => `2026-02-${String(d).padStart(2, "0")}`;
        let c: { groups: string[]; groupChanges?: ReturnType<typeof datedGroups>["groupChanges"] } = { groups: [] };
        for (const ch of changes) c = datedGroups(c, ch.add ? { add: [ch.group], from: day(ch.day) } : { remove: [ch.group], from: day(ch.day) }, "2026-02-28");
        // The model: for each group, its last change (by day, then by arrival) on or before the probe.
        const sorted = changes.map((ch, i) => ({ ...ch, i })).sort((x, y) => x.day - y.day || x.i - y.i);
        const model = new Set<string>();
        for (const ch of sorted) if (ch.day <= probe) (ch.add ? model.add(ch.group) : model.delete(ch.group));
        expect(new Set(groupsOn(c, day(probe)))).toEqual(model);
      }),
    );
  });
});
