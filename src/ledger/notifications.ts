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

// ---- the outbox: notification id -> what to publish, until JetStream acknowledged it ----

export function outboxPut(store: Store, n: Notification, t: number): void {
  const record: OutboxRecord = { k: n.kind, p: n.payload, t };
  store.notifyOutbox.put(n.id, record);
}

/** Up to `max` notifications written at or before `before` (the engine's clock), as the publisher resends them. */
export function outboxDue(store: Store, before: number, max: number): { n: Notification; t: number }[] {
  const due: { n: Notification; t: number }[] = [];
  for (const { key, value } of store.notifyOutbox.getRange({ limit: max })) {
    if (value.t <= before) due.push({ n: { id: key, kind: value.k, payload: value.p }, t: value.t });
  }
  return due;
}

/** Removes notifications JetStream has stored, in one write transaction. */
export function outboxRemove(store: Store, ids: readonly string[]): Promise<unknown> {
  return store.env.transaction(() => {
    for (const id of ids) store.notifyOutbox.remove(id);
  });
}

/** Records in the outbox: notifications not yet acknowledged by JetStream. */
export function outboxSize(store: Store): number {
  return (store.notifyOutbox.getStats() as { entryCount: number }).entryCount;
}
