// A tier drops without an event: when turnover leaves the tier's window, the expiry
// sweeper's key for the customer (wallet.due in expiryDue) comes due and its sweep moves
// the tier down with a tier.changed notification. On a real LMDB with an injected clock;
// the sweep is the internal command the engine's sweeper submits.
import { allLots } from "../../src/ledger/lots.js";
import { describe, expect, it } from "vitest";
import type { Command, Notification } from "../../src/ledger/ledger.js";
import { BASE_PROGRAMME, T0, cmd, enrol, harnessPerTest, ret, sale, type Harness, type Reply } from "./harness.js";

const DAY = 86_400_000;
const CARD = { card: "C-1" };
const ID = "cu_000001";
const DAY0 = Math.floor(T0 / DAY) * DAY;
const harness = harnessPerTest();

const tiered = (windowDays: number, extra: Record<string, unknown> = {}) => ({
  ...BASE_PROGRAMME,
  ...extra,
  rules: [
    { kind: "spend", per: 100, points: 1 },
    {
      kind: "tier",
      windowDays,
      tiers: [
        { id: "basic", minSpend: 0, factor: 1 },
        { id: "silver", minSpend: 5000, factor: 1.5 },
        { id: "gold", minSpend: 10_000, factor: 2 },
      ],
    },
  ],
});
const buy = (eventId: string, amount: number, at: number) => cmd("accrue", sale(eventId, CARD, [{ lineId: "1", qty: 1, unitPrice: amount }], at));
const sweep: Command = { verb: "sweepExpiry", input: { customerId: ID }, hash: "" };

async function run(h: Harness, c: Command): Promise<{ reply: Reply; notes: Notification[] }> {
  const [outcome] = await h.ledger.applyBatch([c]);
  h.store.env.resetReadTxn();
  return { reply: outcome!.reply as Reply, notes: outcome!.notifications };
}

/** The customer's key in the sweeper's index, checked against the wallet. */
function dueOf(h: Harness): number | undefined {
  const due = h.store.wallets.get(ID)?.due;
  const keys = [...h.store.expiryDue.getKeys()].filter((k) => k[1] === ID);
  expect(keys).toEqual(due === undefined ? [] : [[due, ID]]);
  return due;
}

const tierOf = async (h: Harness) => (await h.one(cmd("balance", { customer: CARD }))).tier;
const moves = (notes: Notification[]) => notes.filter((n) => n.kind === "tier.changed").map((n) => [n.id, n.payload.from, n.payload.to, n.payload.at]);

describe("tier drop without an event", () => {
  it("keys the customer for the day the sale leaves the window, and the sweep then drops the tier once, notifying it", async () => {
    const h = await harness({}, [tiered(30)]);
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 12_000, T0));
    expect(await tierOf(h)).toEqual({ id: "gold", since: T0 });
    const leaves = DAY0 + 30 * DAY;
    expect(dueOf(h)).toBe(leaves);
    h.clock.now = leaves - 1;
    expect(moves((await run(h, sweep)).notes)).toEqual([]);
    expect(await tierOf(h)).toEqual({ id: "gold", since: T0 });
    h.clock.now = leaves;
    const dropped = await run(h, sweep);
    expect(dropped.reply).toMatchObject({ ok: true, customerId: ID, expired: 0 });
    expect(moves(dropped.notes)).toEqual([[`tier.changed:${ID}:at${leaves}`, "gold", "basic", leaves]]);
    expect(dropped.notes[0]!.payload).toMatchObject({ customerId: ID, consents: expect.any(Object) });
    expect(await tierOf(h)).toEqual({ id: "basic", since: leaves });
    // The lowest tier cannot drop: no key is left, and a sweep again changes nothing.
    expect(dueOf(h)).toBeUndefined();
    h.clock.now = leaves + DAY;
    expect(moves((await run(h, sweep)).notes)).toEqual([]);
  });

  it("steps down one bucket at a time: each sweep keys the next instant the turnover falls below the tier it gives", async () => {
    const h = await harness({}, [tiered(30)]);
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 6000, T0));
    h.clock.now = T0 + 10 * DAY;
    await h.one(buy("s-2", 6000, T0 + 10 * DAY));
    expect((await tierOf(h)).id).toBe("gold");
    // Without the first day's 6000, 6000 is left: silver, from the day it leaves.
    expect(dueOf(h)).toBe(DAY0 + 30 * DAY);
    h.clock.now = DAY0 + 30 * DAY + 5;
    expect(moves((await run(h, sweep)).notes)).toEqual([[`tier.changed:${ID}:at${h.clock.now}`, "gold", "silver", h.clock.now]]);
    expect(dueOf(h)).toBe(DAY0 + 40 * DAY);
    h.clock.now = DAY0 + 40 * DAY;
    expect(moves((await run(h, sweep)).notes)).toEqual([[`tier.changed:${ID}:at${h.clock.now}`, "silver", "basic", h.clock.now]]);
    expect(dueOf(h)).toBeUndefined();
  });

  it("brings the key earlier when a return takes turnover back, and leaves it when a sale only delays the drop", async () => {
    const h = await harness({}, [tiered(30)]);
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 12_000, T0));
    h.clock.now = T0 + 5 * DAY;
    await h.one(buy("s-2", 12_000, T0 + 5 * DAY));
    // The first day's turnover alone would go at day 30, but day 5's keeps gold: the key stays at day 30 (early, never late).
    expect(dueOf(h)).toBe(DAY0 + 30 * DAY);
    h.clock.now = DAY0 + 30 * DAY;
    expect(moves((await run(h, sweep)).notes)).toEqual([]);
    expect(dueOf(h)).toBe(DAY0 + 35 * DAY);
    h.clock.now = DAY0 + 31 * DAY;
    await h.one(cmd("accrue", ret("r-2", "s-2", undefined, h.clock.now)));
    expect(await tierOf(h)).toEqual({ id: "basic", since: h.clock.now });
    expect(dueOf(h)).toBe(DAY0 + 35 * DAY);
  });

  it("keys the earlier of the lots' next need and the tier's, and the sweep keeps the other", async () => {
    const h = await harness({}, [tiered(30, { expiry: { afterDays: 60 } })]);
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 12_000, T0));
    const leaves = DAY0 + 30 * DAY;
    expect(dueOf(h)).toBe(leaves);
    h.clock.now = leaves;
    const swept = await run(h, sweep);
    expect(moves(swept.notes).map((m) => m[2])).toEqual(["basic"]);
    // Now the lot's notice time (the harness's expiryNoticeMs before its expiry) is what is left.
    const lot = [...allLots(h.store)].map(({ key }) => key[2]);
    expect(lot).toHaveLength(1);
    expect(dueOf(h)).toBe(lot[0]! - h.ledger.options.expiryNoticeMs);
  });

  it("drops nothing without a ladder, and keys nothing for a customer below every tier", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    await h.one(buy("s-1", 12_000, T0));
    expect(dueOf(h)).toBeUndefined();
  });
});
