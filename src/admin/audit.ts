// The audit trail of admin actions: an append-only LMDB table keyed by [at, seq]. A
// record is only ever added (MDB_NOOVERWRITE), never changed or removed by the engine.
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { AuditRecord, Store } from "../ledger/store.js";

export type AuditEntry = Omit<AuditRecord, "seq">;

/** Appends records in the order they are given, each under a fresh key. */
export class AuditLog {
  private seq: number;

  constructor(private readonly store: Store) {
    // The last key's seq: new records keep counting from it (a key is [at, seq]).
    store.env.resetReadTxn();
    this.seq = 0;
    for (const key of store.audit.getKeys({ reverse: true, limit: 1 })) this.seq = key[1];
  }

  /** Resolves once the record is committed; a key already taken (a clock set back) takes the next seq. */
  async append(entry: AuditEntry): Promise<AuditRecord> {
    for (;;) {
      const record: AuditRecord = { ...entry, seq: ++this.seq };
      const key: [number, number] = [record.at, record.seq];
      if (await this.store.audit.ifNoExists(key, () => void this.store.audit.put(key, record))) return record;
    }
  }
}

export interface AuditQuery {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  limit: number;
  /** Where the previous page stopped: "<at>:<seq>" of its last record. */
  cursor?: string;
}

function epochParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new LoyaltyError("VALIDATION", `${name}: must be epoch milliseconds`, name);
  return n;
}

/** `?from=&to=&limit=&cursor=` -> a query; bad values are VALIDATION naming the parameter. */
export function auditQuery(q: { from?: string; to?: string; limit?: string; cursor?: string }): AuditQuery {
  const limit = q.limit === undefined ? 100 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.auditListMax) {
    throw new LoyaltyError("VALIDATION", `limit: must be 1-${limits.auditListMax}`, "limit");
  }
  if (q.cursor !== undefined && !/^\d{1,16}:\d{1,16}$/.test(q.cursor)) throw new LoyaltyError("VALIDATION", "cursor: must be <at>:<seq> as returned in next", "cursor");
  const query: AuditQuery = { limit };
  const from = epochParam(q.from, "from");
  const to = epochParam(q.to, "to");
  if (from !== undefined) query.from = from;
  if (to !== undefined) query.to = to;
  if (q.cursor !== undefined) query.cursor = q.cursor;
  return query;
}

/** Records in [from, to), oldest first, after the cursor; `next` is set when more remain. */
export function readAudit(store: Store, q: AuditQuery): { records: AuditRecord[]; next: string | null } {
  store.env.resetReadTxn();
  let start: [number, number] = [q.from ?? 0, 0];
  if (q.cursor) {
    const [at, seq] = q.cursor.split(":").map(Number) as [number, number];
    // Just after the cursor's key: the same instant, the next seq.
    if (at > start[0] || (at === start[0] && seq >= start[1])) start = [at, seq + 1];
  }
  const range = store.audit.getRange({ start, ...(q.to !== undefined ? { end: [q.to, 0] } : {}), limit: q.limit + 1 });
  const records: AuditRecord[] = [];
  for (const { value } of range) records.push(value);
  const more = records.length > q.limit;
  if (more) records.pop();
  const last = records[records.length - 1];
  return { records, next: more && last ? `${last.at}:${last.seq}` : null };
}
