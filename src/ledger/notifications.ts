// What the ledger tells SMS and e-mail connectors: each notification's deterministic id
// (its Nats-Msg-Id, so that a re-send is known as the same one), its payload with the
// customer's consents, and the outbox that keeps it until JetStream has stored it.
import { consentsOf, type ConsentSource } from "./consents.js";
import type { OutboxRecord, Store } from "./store.js";
import type { Notification, Tx } from "./tx.js";

/** One id per logical notification: the same cause always gives the same id. */
export const notificationId = {
  earned: (eventId: string) => `earned:${eventId}`,
  enrolled: (customerId: string) => `enrolled:${customerId}`,
  /** Per account, named by the earliest expiry among the lots noticed together. */
  expiring: (customerId: string, account: string, lotExpiresAt: number) => `expiring:${customerId}:${account}:${lotExpiresAt}`,
  voucherExpiring: (code: string) => `voucher.expiring:${code}`,
  /** `year`: the local year (config timeZone) of the birthday. */
  birthday: (customerId: string, year: number) => `birthday:${customerId}:${year}`,
  /** `seq`: the ledger entry sequence number of the posting that moved the tier. */
  tierChanged: (customerId: string, seq: number) => `tier.changed:${customerId}:${seq}`,
  /** A move found by the sweeper (turnover left the window; no entry came with it): `at`, the sweep's instant. */
  tierChangedAt: (customerId: string, at: number) => `tier.changed:${customerId}:at${at}`,
} as const;

/** Emits a notification about a customer: `{id, kind, customerId, consents, ...fields}`. */
export function notifyCustomer(
  tx: Tx,
  kind: string,
  id: string,
  customerId: string,
  customer: ConsentSource | null | undefined,
  fields: Record<string, unknown>,
): void {
  tx.notify({ id, kind, payload: { id, kind, customerId, consents: consentsOf(customer), ...fields } });
}

// ---- the outbox: one record per batch, until JetStream acknowledged all its notifications ----

/**
 * Appends a batch's notifications as one record, keyed by the next outbox sequence (meta
 * `outboxSeq`: batches of every partition append at the B-tree's end), and marks each
 * with the record's key and size for the publisher. Call inside the batch's transaction.
 */
export function outboxAppend(store: Store, ns: Notification[], t: number): void {
  if (ns.length === 0) return;
  const key = (store.meta.get("outboxSeq") ?? 0) + 1;
  store.meta.put("outboxSeq", key);
  const record: OutboxRecord = { t, p: ns.map((n) => n.payload) };
  store.notifyOutbox.put(key, record);
  for (const n of ns) n.outbox = { key, size: ns.length };
}

export interface OutboxBatch {
  key: number;
  /** The engine's clock when the batch ran. */
  t: number;
  ns: Notification[];
}

/**
 * The oldest outbox records written at or before `before` (the engine's clock), skipping
 * `skip`, holding about `max` notifications: records are taken while fewer than `max` are
 * taken, so the first one always (a record holds a whole batch's: up to thousands). Bounded
 * by notifications, not records: a restart after a long JetStream outage (or on a ledger
 * filled by a bulk load) finds millions of them, which must not all be decoded at once.
 */
export function outboxDue(store: Store, before: number, max: number, skip: ReadonlySet<number>): OutboxBatch[] {
  const due: OutboxBatch[] = [];
  let taken = 0;
  for (const { key, value } of store.notifyOutbox.getRange({})) {
    if (taken >= max) break;
    // Keys follow the commits, so the clock they ran at too (near enough: partitions share Date.now).
    if (value.t > before) break;
    if (skip.has(key)) continue;
    const ns = value.p.map((p) => ({ id: String(p.id), kind: String(p.kind), payload: p, outbox: { key, size: value.p.length } }));
    due.push({ key, t: value.t, ns });
    taken += ns.length;
  }
  return due;
}

/** Removes the records of batches JetStream has stored every notification of, in one write transaction. */
export function outboxRemove(store: Store, keys: readonly number[]): Promise<unknown> {
  return store.env.transaction(() => {
    for (const key of keys) store.notifyOutbox.remove(key);
  });
}

/** Records in the outbox: batches with a notification JetStream has not acknowledged. */
export function outboxSize(store: Store): number {
  return (store.notifyOutbox.getStats() as { entryCount: number }).entryCount;
}
