// Notifications as the ledger emits them: deterministic ids, consents in every payload,
// the outbox written in the command's own transaction; the birthday index and its sweep.
import { describe, expect, it } from "vitest";
import { backfillBirthdays, birthdayDaysOn, birthdayKey, birthdaysDue, indexBirthday, localDate } from "../../src/ledger/birthdays.js";
import { consentsOf } from "../../src/ledger/consents.js";
import type { Command, Outcome } from "../../src/ledger/ledger.js";
import { notificationId, outboxDue, outboxRemove } from "../../src/ledger/notifications.js";
import type { Tx } from "../../src/ledger/tx.js";
import { T0, cmd, enrol, harnessPerTest, sale, snapshot, type Harness } from "./harness.js";

const harness = harnessPerTest();

async function outcomes(h: Harness, commands: Command[]): Promise<Outcome[]> {
  const o = await h.ledger.applyBatch(commands);
  h.store.env.resetReadTxn();
  return o;
}

const notesOf = (os: Outcome[]) => os.flatMap((o) => o.notifications);
const birthdayCmd = (customerId: string, day: string, year: number): Command => ({ verb: "sweepBirthday", input: { customerId, day, year }, hash: "" });

describe("consentsOf", () => {
  it("reads v1's booleans in the profile", () => {
    expect(consentsOf({ profile: { consents: { sms: true, email: false } } })).toEqual({ email: false, sms: true, post: false });
  });

  it("reads v1.1's {granted, at} per channel, on the customer or in its profile", () => {
    const v11 = { email: { granted: true, at: 1 }, sms: { granted: false, at: 2 }, post: { granted: true, at: 3 } };
    expect(consentsOf({ consents: v11 })).toEqual({ email: true, sms: false, post: true });
    expect(consentsOf({ profile: { consents: v11 } })).toEqual({ email: true, sms: false, post: true });
  });

  it("says no to what was never given, and to anything it cannot read", () => {
    const none = { email: false, sms: false, post: false };
    expect(consentsOf(null)).toEqual(none);
    expect(consentsOf({ profile: {} })).toEqual(none);
    expect(consentsOf({ consents: { email: "yes", sms: { granted: "true" }, post: 1 } })).toEqual(none);
    expect(consentsOf({ consents: JSON.parse('{"__proto__": {"email": true}}') })).toEqual(none);
  });
});

describe("birthday days", () => {
  it("takes YYYY-MM-DD or MM-DD, and refuses what names no calendar day", () => {
    expect(["1990-04-01", "04-01", "02-29", "1984-12-31", "02-30", "13-01", "00-10", "4-1", "", "1990-04-01x"].map(birthdayKey)).toEqual([
      "04-01", "04-01", "02-29", "12-31", null, null, null, null, null, null,
    ]);
  });

  it("celebrates 29 February on the 28th outside leap years", () => {
    expect(birthdayDaysOn({ year: 2027, month: 2, day: 28, hour: 0 })).toEqual(["02-28", "02-29"]);
    expect(birthdayDaysOn({ year: 2028, month: 2, day: 28, hour: 0 })).toEqual(["02-28"]);
    expect(birthdayDaysOn({ year: 2028, month: 2, day: 29, hour: 0 })).toEqual(["02-29"]);
  });

  it("reads the date in the deployment's time zone", () => {
    const at = Date.UTC(2026, 0, 1, 23, 30);
    expect(localDate("UTC", at)).toEqual({ year: 2026, month: 1, day: 1, hour: 23 });
    expect(localDate("Europe/Warsaw", at)).toEqual({ year: 2026, month: 1, day: 2, hour: 0 });
    expect(localDate("America/New_York", at)).toEqual({ year: 2026, month: 1, day: 1, hour: 18 });
  });
});

describe("notifications from the ledger", () => {
  it("gives an earned notification the id earned:<eventId> and the customer's consents, and keeps it in the outbox", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1", { profile: { name: "Ada", consents: { email: true } } }));
    const os = await outcomes(h, [cmd("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))]);
    const [n] = notesOf(os);
    expect(n).toEqual({
      id: "earned:s-1",
      kind: "earned",
      payload: { id: "earned:s-1", kind: "earned", customerId: "cu_000001", consents: { email: true, sms: false, post: false }, eventId: "s-1", earned: 10, at: T0 },
      outbox: { key: 2, size: 1 },
    });
    expect([...h.store.notifyOutbox.getRange()].map(({ key, value }) => [key, value])).toEqual([
      [1, { t: T0, p: [expect.objectContaining({ id: notificationId.enrolled("cu_000001"), kind: "enrolled", via: "enroll", card: "C-1" })] }],
      [2, { t: T0, p: [n!.payload] }],
    ]);
  });

  it("writes one outbox record per batch, holding the notifications of the commands that committed", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    await outboxRemove(h.store, [1]);
    const os = await outcomes(h, [
      cmd("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("accrue", sale("s-2", { card: "C-nope" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }])),
      cmd("accrue", sale("s-3", { phone: "+48601234567" }, [{ lineId: "1", qty: 1, unitPrice: 500 }])),
    ]);
    expect(notesOf(os).map((n) => [n.id, n.outbox])).toEqual([
      ["earned:s-1", { key: 2, size: 3 }],
      ["enrolled:cu_000002", { key: 2, size: 3 }],
      ["earned:s-3", { key: 2, size: 3 }],
    ]);
    expect(outboxDue(h.store, T0, 10, new Set()).map((b) => [b.key, b.ns.map((n) => n.id)])).toEqual([[2, ["earned:s-1", "enrolled:cu_000002", "earned:s-3"]]]);
    expect(outboxDue(h.store, T0 - 1, 10, new Set())).toEqual([]);
    expect(outboxDue(h.store, T0, 10, new Set([2]))).toEqual([]);
  });

  it("reads due records up to about `max` notifications, not `max` records: always the first, then while fewer are taken", async () => {
    const h = await harness();
    const payloads = (k: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `x:${k}:${i}`, kind: "earned", payload: { id: `x:${k}:${i}`, kind: "earned" } }));
    // Records of 3, 5000 and 2 notifications, as a bulk load's batches or a busy hour leave them.
    h.store.env.transactionSync(() => {
      for (const [k, n] of [[1, 3], [2, 5000], [3, 2]] as const) h.store.notifyOutbox.put(k, { t: T0, p: payloads(k, n).map((x) => x.payload) });
    });
    const keys = (max: number, skip: number[] = []) => outboxDue(h.store, T0, max, new Set(skip)).map((b) => [b.key, b.ns.length]);
    expect(keys(2)).toEqual([[1, 3]]);
    expect(keys(4)).toEqual([[1, 3], [2, 5000]]);
    expect(keys(2, [1])).toEqual([[2, 5000]]);
    expect(keys(10_000)).toEqual([[1, 3], [2, 5000], [3, 2]]);
  });

  it("writes no outbox record for a duplicate, a refused command, or with the outbox off", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1"));
    const s1 = cmd("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }]));
    await h.one(s1);
    await outboxRemove(h.store, [...h.store.notifyOutbox.getKeys()]);
    h.store.env.resetReadTxn();
    const before = snapshot(h.store);
    const os = await outcomes(h, [s1, cmd("accrue", sale("s-2", { card: "C-nope" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))]);
    expect(notesOf(os)).toEqual([]);
    expect(snapshot(h.store)).toBe(before);

    const off = await harness({ notifyOutbox: false });
    await off.one(enrol("e-1", "C-1"));
    const offNotes = notesOf(await outcomes(off, [cmd("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", qty: 1, unitPrice: 1000 }]))]));
    expect(offNotes.map((n) => n.id)).toEqual(["earned:s-1"]);
    expect([...off.store.notifyOutbox.getKeys()]).toEqual([]);
  });

  it("names an enrolment at an unknown phone enrolled:<customerId>", async () => {
    const h = await harness();
    const os = await outcomes(h, [cmd("accrue", sale("s-ph", { phone: "+48601234567" }, [{ lineId: "1", qty: 1, unitPrice: 100 }]))]);
    expect(notesOf(os).map((n) => n.id)).toEqual(["enrolled:cu_000001", "earned:s-ph"]);
  });
});

describe("birthdays", () => {
  it("indexes the birthday given at enrolment, and notifies once per local year", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1", { profile: { name: "Ada", birthday: "1990-04-01", consents: { sms: true } } }));
    await h.one(enrol("e-2", "C-2", { profile: { name: "Bo", birthday: "04-01" } }));
    await h.one(enrol("e-3", "C-3", { profile: { name: "Cy" } }));
    expect([...h.store.birthdays.getRange()].map(({ key, value }) => [key, value])).toEqual([
      [["04-01", "cu_000001"], 0],
      [["04-01", "cu_000002"], 0],
    ]);
    const os = await outcomes(h, [birthdayCmd("cu_000001", "04-01", 2026), birthdayCmd("cu_000002", "04-01", 2026)]);
    expect(notesOf(os).map((n) => n.payload)).toEqual([
      { id: "birthday:cu_000001:2026", kind: "birthday", customerId: "cu_000001", consents: { email: false, sms: true, post: false }, birthday: "1990-04-01", year: 2026, age: 36, at: T0 },
      { id: "birthday:cu_000002:2026", kind: "birthday", customerId: "cu_000002", consents: { email: false, sms: false, post: false }, birthday: "04-01", year: 2026, age: null, at: T0 },
    ]);
    expect(notesOf(await outcomes(h, [birthdayCmd("cu_000001", "04-01", 2026)]))).toEqual([]);
    expect(notesOf(await outcomes(h, [birthdayCmd("cu_000001", "04-01", 2027)])).map((n) => n.id)).toEqual(["birthday:cu_000001:2027"]);
  });

  it("moves the entry with a changed birthday, keeping the year notified, and drops an entry gone stale", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1", { profile: { name: "Ada", birthday: "1990-04-01" } }));
    await outcomes(h, [birthdayCmd("cu_000001", "04-01", 2026)]);
    const tx = { store: h.store } as Tx;
    await h.store.env.transaction(() => indexBirthday(tx, "cu_000001", "1990-04-01", "05-02"));
    h.store.env.resetReadTxn();
    expect([...h.store.birthdays.getRange()].map(({ key, value }) => [key, value])).toEqual([[["05-02", "cu_000001"], 2026]]);
    // The profile still says 04-01 (no updateCustomer here): the sweep finds the entry stale.
    expect(notesOf(await outcomes(h, [birthdayCmd("cu_000001", "05-02", 2027)]))).toEqual([]);
    expect([...h.store.birthdays.getKeys()]).toEqual([]);
  });

  it("indexes an older ledger's birthdays once, keeping entries already there", async () => {
    const h = await harness();
    await h.one(enrol("e-1", "C-1", { profile: { name: "Ada", birthday: "1990-04-01" } }));
    await h.one(enrol("e-2", "C-2", { profile: { name: "Bo", birthday: "06-30" } }));
    await outcomes(h, [birthdayCmd("cu_000001", "04-01", 2026)]);
    await h.store.env.transaction(() => h.store.birthdays.remove(["06-30", "cu_000002"]));
    expect(await backfillBirthdays(h.store, 1)).toBe(1);
    h.store.env.resetReadTxn();
    expect([...h.store.birthdays.getRange()].map(({ key, value }) => [key, value])).toEqual([
      [["04-01", "cu_000001"], 2026],
      [["06-30", "cu_000002"], 0],
    ]);
    expect(await backfillBirthdays(h.store, 1)).toBe(0);
  });
});

describe("birthdays in the customer's time zone", () => {
  // 2026-04-01: New Zealand is at +13 (daylight time until 5 April), Los Angeles at -7.
  const at = (iso: string) => Date.parse(iso);
  const due = (h: Harness, now: number) => birthdaysDue(h.store, now, "UTC", 9, 100).map((d) => [d.customerId, d.day, d.year]);
  const marks = (h: Harness) => [...h.store.birthdays.getRange()].map(({ key, value }) => [key[1], value]);

  async function three(h: Harness): Promise<void> {
    await h.one(enrol("e-1", "C-1", { profile: { name: "Utc", birthday: "04-01" } }));
    await h.one(enrol("e-2", "C-2", { profile: { name: "Kiwi", birthday: "1990-04-01", timeZone: "Pacific/Auckland" } }));
    await h.one(enrol("e-3", "C-3", { profile: { name: "Angeleno", birthday: "04-01", timeZone: "America/Los_Angeles" } }));
  }

  it("keeps the customer's zone in its index entry, and the deployment's year-only entry for the others", async () => {
    const h = await harness();
    await three(h);
    expect(marks(h)).toEqual([["cu_000001", 0], ["cu_000002", [0, "Pacific/Auckland"]], ["cu_000003", [0, "America/Los_Angeles"]]]);
  });

  it("is due on each customer's local date from the local birthday hour, and no more once notified that local year", async () => {
    const h = await harness();
    await three(h);
    // 20:00 UTC on 31 March: 09:00 on 1 April in Auckland; still 31 March in UTC and Los Angeles.
    expect(due(h, at("2026-03-31T20:00:00Z"))).toEqual([["cu_000002", "04-01", 2026]]);
    expect(due(h, at("2026-03-31T19:59:00Z"))).toEqual([]);
    await outcomes(h, [birthdayCmd("cu_000002", "04-01", 2026)]);
    // 09:00 UTC on 1 April: the UTC customer's hour; Auckland's day is nearly over and done; 02:00 in Los Angeles.
    expect(due(h, at("2026-04-01T09:00:00Z"))).toEqual([["cu_000001", "04-01", 2026]]);
    // 16:00 UTC: 09:00 in Los Angeles.
    expect(due(h, at("2026-04-01T16:00:00Z"))).toEqual([["cu_000001", "04-01", 2026], ["cu_000003", "04-01", 2026]]);
    // 06:59 UTC on 2 April: 23:59 on 1 April in Los Angeles, still its birthday; UTC's is over.
    expect(due(h, at("2026-04-02T06:59:00Z"))).toEqual([["cu_000003", "04-01", 2026]]);
    expect(due(h, at("2026-04-02T07:00:00Z"))).toEqual([]);
    const os = await outcomes(h, [birthdayCmd("cu_000003", "04-01", 2026)]);
    expect(notesOf(os).map((n) => n.id)).toEqual(["birthday:cu_000003:2026"]);
    expect(marks(h)).toContainEqual(["cu_000003", [2026, "America/Los_Angeles"]]);
  });

  it("moves the entry's zone with updateCustomer (null: back to the deployment's), keeping the year notified", async () => {
    const h = await harness();
    await three(h);
    await outcomes(h, [birthdayCmd("cu_000002", "04-01", 2026)]);
    const update = (requestId: string, profile: Record<string, unknown>) => cmd("updateCustomer", { requestId, customer: { card: "C-2" }, profile });
    expect((await h.one(update("u-1", { timeZone: "Asia/Tokyo" }))).profile).toMatchObject({ timeZone: "Asia/Tokyo" });
    expect(marks(h)).toContainEqual(["cu_000002", [2026, "Asia/Tokyo"]]);
    await h.one(update("u-2", { birthday: "05-02" }));
    expect([...h.store.birthdays.getRange()].map(({ key, value }) => [key, value])).toContainEqual([["05-02", "cu_000002"], [2026, "Asia/Tokyo"]]);
    await h.one(update("u-3", { timeZone: null }));
    expect(marks(h)).toContainEqual(["cu_000002", 2026]);
    expect((await h.one(cmd("customer", { customer: { card: "C-2" } }))).profile.timeZone).toBeUndefined();
  });

  it("shows the zone in the customer read, refuses a zone Intl does not know, and merges it with the survivor's entry", async () => {
    const h = await harness();
    await three(h);
    expect((await h.one(cmd("customer", { customer: { card: "C-3" } }))).profile).toMatchObject({ timeZone: "America/Los_Angeles", birthday: "04-01" });
    expect(() => cmd("updateCustomer", { requestId: "u-x", customer: { card: "C-3" }, profile: { timeZone: "Mars/Olympus" } })).toThrow(/IANA time zone/);
    expect(() => cmd("enroll", { requestId: "e-x", card: "C-x", profile: { timeZone: "" } })).toThrow();
    // The survivor has no zone of its own and no birthday: it takes both from the merged one.
    await h.one(enrol("e-4", "C-4", { profile: { name: "Plain" } }));
    expect(await h.one(cmd("mergeCustomers", { requestId: "m-1", from: { card: "C-3" }, into: { card: "C-4" }, reason: "same person", operator: "ops" }))).toMatchObject({ ok: true });
    expect(marks(h).filter(([id]) => id === "cu_000003" || id === "cu_000004")).toEqual([["cu_000004", [0, "America/Los_Angeles"]]]);
  });
});
