// Ledgers of a cluster's partitions in the test's process: logged commands (as an owner
// applies them from a partition's log) on a ledger harness, and a partition's records.
import { putVoucherOffer } from "../../src/admin/vouchers.js";
import { partitionReader, TABLE_OWNERS, type TableName } from "../../src/cluster/partition-data.js";
import { LOG_SLOTS, type Command } from "../../src/ledger/ledger.js";
import type { Store } from "../../src/ledger/store.js";
import { openHarness, T0, type Harness } from "../ledger/harness.js";

export const PARTITIONS = 4;

export const logged = (vp: number, commands: Command[], from = 0): Command[] =>
  commands.map((c, k) => ({ ...c, logged: { vp, at: T0 + (from + k) * 60_000, pos: (from + k + 1) * LOG_SLOTS, seed: new Uint8Array(16).fill(vp) } }));

export async function ledger(): Promise<Harness> {
  const h = await openHarness({ eventLateMsMax: 400 * 86_400_000, enrolOnUnknownCard: true });
  h.clock.now = T0;
  await putVoucherOffer(h.store, "TEN", { name: "10 off", pointsCost: 10, kind: "amount", value: 1000, currency: "EUR", validDays: 30 }, T0);
  return h;
}

/** Every record of partition `vp`, table by table, as JSON. */
export function recordsOf(store: Store, vp: number): Record<string, string[]> {
  store.env.resetReadTxn();
  const of = partitionReader(store, PARTITIONS);
  const out: Record<string, string[]> = {};
  for (const name of Object.keys(TABLE_OWNERS) as TableName[]) {
    const db = store[name] as unknown as { getRange(): Iterable<{ key: unknown; value: unknown }> };
    out[name] = [...db.getRange()].filter(({ key, value }) => of(name, key as never, value) === vp).map(({ key, value }) => JSON.stringify([key, value]));
  }
  return out;
}

