// The minimal ledger the raw cases write: a balance read-modify-write plus one entry at an
// append-only key per event, committed durably per batch. The floor under the engine's ledger.
import { open, type Database, type RootDatabase } from "lmdb";

export interface Entry {
  customer: string;
  amount: number;
  eventId: string;
  at: number;
}

export interface LedgerModel {
  root: RootDatabase;
  /** customer -> balance, points. */
  balances: Database<number, string>;
  /** sequence -> entry. */
  entries: Database<Entry, number>;
  meta: Database<number, string>;
  /** Next entry key: a global sequence, so every append lands at the B-tree's end. */
  nextSeq: number;
  close(): Promise<void>;
}

export function openModel(dir: string): LedgerModel {
  // lmdb-js defaults are the durable ones (sync on commit; overlappingSync on Linux, so we await `flushed`).
  const root = open(dir, { maxDbs: 8 });
  const model: LedgerModel = {
    root,
    balances: root.openDB<number, string>("balances", {}),
    entries: root.openDB<Entry, number>("entries", {}),
    meta: root.openDB<number, string>("meta", {}),
    nextSeq: 1,
    close: () => root.close(),
  };
  return model;
}

/** One event's state change; call inside a write transaction. */
export function applyEntry(m: LedgerModel, e: Entry): void {
  const balance = m.balances.get(e.customer) ?? 0;
  m.balances.put(e.customer, balance + e.amount);
  m.entries.put(m.nextSeq++, e);
}

/**
 * One durable transaction for a batch: entries, balances and, when given, the stream
 * sequence of the batch's last message (what a restart would resume from). Resolves once
 * flushed to disk, the moment the engine may reply or ack.
 */
export async function commitBatch(m: LedgerModel, batch: readonly Entry[], streamSeq?: number): Promise<void> {
  await m.root.transaction(() => {
    for (const e of batch) applyEntry(m, e);
    if (streamSeq !== undefined) m.meta.put("streamSeq", streamSeq);
  });
  await m.root.flushed;
}
