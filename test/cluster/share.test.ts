// The pure planning of cluster mode: fair shares, what one instance does in a round, and
// (on a model of the lease bucket) that rounds converge to an even split from anywhere.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { affinity, fairShares, handOver, planRound, type LeaseView } from "../../src/cluster/share.js";

const free = (partition: number, seenFreeBefore = true): LeaseView => ({ partition, state: "free", seenFreeBefore });
const heldBy = (partition: number, owner: string, mine = false): LeaseView => ({ partition, state: "held", owner, mine });
const released = (partition: number, heir: string | null): LeaseView => ({ partition, state: "released", heir });

describe("fairShares", () => {
  it.each([
    { members: ["a"], partitions: 5, shares: { a: 5 } },
    { members: ["b", "a"], partitions: 5, shares: { a: 3, b: 2 } },
    { members: ["c", "a", "b"], partitions: 64, shares: { a: 22, b: 21, c: 21 } },
    { members: ["a", "a", "b"], partitions: 4, shares: { a: 2, b: 2 } },
    { members: ["a", "b", "c"], partitions: 2, shares: { a: 1, b: 1, c: 0 } },
    { members: [], partitions: 8, shares: {} },
  ])("splits $partitions among $members", ({ members, partitions, shares }) => {
    expect(Object.fromEntries(fairShares(members, partitions))).toEqual(shares);
  });

  it("sums to the partitions, and no two shares differ by more than one", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 1024 }), (members, partitions) => {
        const s = [...fairShares(members, partitions).values()];
        expect(s.reduce((a, b) => a + b, 0)).toBe(partitions);
        expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe("planRound", () => {
  it("alone, creates every lease it has seen free twice, and only those", () => {
    const plan = planRound("a", ["a"], 4, [free(0), free(1, false), free(2), heldBy(3, "x")], new Set());
    expect(plan.release).toEqual([]);
    expect(plan.take.map((t) => [t.partition, t.how]).sort()).toEqual([[0, "create"], [2, "create"]]);
  });

  it("creates no more than its share, its favourite partitions first", () => {
    const leases = Array.from({ length: 8 }, (_, p) => free(p));
    const plan = planRound("a", ["a", "b"], 8, leases, new Set());
    expect(plan.take).toHaveLength(4);
    const ranked = [...Array(8).keys()].sort((x, y) => affinity("a", y) - affinity("a", x));
    expect(plan.take.map((t) => t.partition)).toEqual(ranked.slice(0, 4));
  });

  it("gives up what is above its share, least favourite first, to the members furthest below theirs", () => {
    const leases = [0, 1, 2, 3, 4, 5].map((p) => heldBy(p, "a", true)).concat([heldBy(6, "c")]);
    const plan = planRound("a", ["a", "b", "c"], 7, leases, new Set([0, 1, 2, 3, 4, 5]));
    expect(plan.take).toEqual([]);
    // Shares a 3, b 2, c 2: b lacks 2, c lacks 1.
    expect(plan.release).toHaveLength(3);
    expect(plan.release.map((r) => r.heir).sort()).toEqual(["b", "b", "c"]);
    const leastLiked = [0, 1, 2, 3, 4, 5].sort((x, y) => affinity("a", x) - affinity("a", y)).slice(0, 3);
    expect(plan.release.map((r) => r.partition)).toEqual(leastLiked);
  });

  it("takes what is addressed to it even above its share, and hands the excess on", () => {
    const leases = [heldBy(0, "a", true), heldBy(1, "a", true), released(2, "a"), heldBy(3, "b")];
    const plan = planRound("a", ["a", "b"], 4, leases, new Set([0, 1]));
    expect(plan.take).toEqual([{ partition: 2, how: "update" }]);
    expect(plan.release).toHaveLength(1);
    expect(plan.release[0]!.heir).toBe("b");
  });

  it("adopts a lease its own incarnation wrote without its seeing the acknowledgement", () => {
    const plan = planRound("a", ["a"], 2, [heldBy(0, "a", true), free(1, false)], new Set());
    expect(plan.take).toEqual([{ partition: 0, how: "update" }]);
  });

  it("leaves a lease released to another, or to nobody, and one held by another instance, alone", () => {
    const plan = planRound("a", ["a"], 3, [released(0, "b"), released(1, null), heldBy(2, "a", false)], new Set());
    expect(plan).toEqual({ release: [], take: [] });
  });

  it("only ever plans creates of free leases and updates of leases addressed to it", () => {
    const lease = (p: number) =>
      fc.oneof(
        fc.boolean().map((b) => free(p, b)),
        fc.tuple(fc.constantFrom("a", "b", "c"), fc.boolean()).map(([o, mine]) => heldBy(p, o, o === "a" && mine)),
        fc.constantFrom("a", "b", null).map((h) => released(p, h)),
      );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }).chain((n) => fc.tuple(fc.constant(n), fc.tuple(...Array.from({ length: n }, (_, p) => lease(p))))), ([n, leases]) => {
        const held = new Set(leases.filter((l) => l.state === "held" && l.mine && l.partition % 2 === 0).map((l) => l.partition));
        const plan = planRound("a", ["a", "b", "c"], n, leases, held);
        for (const t of plan.take) {
          const l = leases[t.partition]!;
          expect(held.has(t.partition)).toBe(false);
          if (t.how === "create") expect(l.state === "free" && l.seenFreeBefore).toBe(true);
          else expect((l.state === "released" && l.heir === "a") || (l.state === "held" && l.mine)).toBe(true);
        }
        for (const r of plan.release) expect(held.has(r.partition)).toBe(true);
      }),
    );
  });
});

describe("handOver", () => {
  it("names no heir when every other member has its share", () => {
    const shares = fairShares(["b"], 2);
    expect(handOver("a", shares, [heldBy(0, "b"), heldBy(1, "b")], [2])).toEqual([{ partition: 2, heir: null }]);
  });
});

/**
 * A model of the bucket: rounds in which every member, in a random order, plans on the
 * current table and applies its plan with the bucket's rules (a create needs a free
 * lease, an update a lease addressed to it). From any start, a few rounds reach the
 * fair split with every partition held.
 */
describe("rounds on a model of the lease bucket", () => {
  type Cell = { state: "free" } | { state: "held"; owner: string } | { state: "released"; heir: string | null };
  it("converge to the fair split from any assignment", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f"), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 40, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 30, maxLength: 30 }),
        (members, partitions, start, order) => {
          // Start: each partition free, or held by a member or by a departed instance "z".
          const table: Cell[] = Array.from({ length: partitions }, (_, p) => {
            const k = start[p]!;
            if (k === 7) return { state: "free" };
            return { state: "held", owner: k < members.length ? members[k]! : "z" };
          });
          const seenFree = new Map(members.map((m) => [m, new Set<number>()]));
          for (let round = 0; round < 30; round++) {
            // An expired lease of the departed instance becomes free after the first round.
            if (round === 1) table.forEach((c, p) => c.state === "held" && c.owner === "z" && (table[p] = { state: "free" }));
            const turn = [...members].sort((x, y) => ((order[round]! * x.charCodeAt(0)) % 7) - ((order[round]! * y.charCodeAt(0)) % 7));
            for (const m of turn) {
              const views: LeaseView[] = table.map((c, p) =>
                c.state === "free" ? free(p, seenFree.get(m)!.has(p)) : c.state === "held" ? heldBy(p, c.owner, false) : released(p, c.heir),
              );
              seenFree.set(m, new Set(views.filter((v) => v.state === "free").map((v) => v.partition)));
              const held = new Set(table.flatMap((c, p) => (c.state === "held" && c.owner === m ? [p] : [])));
              const plan = planRound(m, members, partitions, views, held);
              for (const r of plan.release) table[r.partition] = { state: "released", heir: r.heir };
              for (const t of plan.take) {
                const c = table[t.partition]!;
                const ok = t.how === "create" ? c.state === "free" : c.state === "released" && c.heir === m;
                if (ok) table[t.partition] = { state: "held", owner: m };
              }
            }
            // A lease released to nobody expires.
            table.forEach((c, p) => c.state === "released" && c.heir === null && (table[p] = { state: "free" }));
          }
          const shares = fairShares(members, partitions);
          for (const m of members) expect(table.filter((c) => c.state === "held" && c.owner === m).length).toBe(shares.get(m));
        },
      ),
      { numRuns: 300 },
    );
  });
});
