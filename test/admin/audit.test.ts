// The audit table on a real LMDB environment: records are only ever added, under
// [at, seq] keys that stay unique across restarts and a clock set back; reads page by cursor.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuditLog, auditQuery, readAudit, type AuditEntry } from "../../src/admin/audit.js";
import { LoyaltyError } from "../../src/errors.js";
import { closeStore, openStore, type Store } from "../../src/ledger/store.js";

const entry = (at: number, operator = "anna"): AuditEntry => ({
  at, operator, role: "money", method: "POST", route: "/v1/admin/adjustments", targets: { requestId: `r-${at}` }, outcome: "ok", status: 200, ip: "127.0.0.1",
});

describe("audit table", () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "loyaltyd-audit-"));
    store = openStore(dir);
  });
  afterEach(async () => {
    await closeStore(store);
    rmSync(dir, { recursive: true, force: true });
  });

  it("appends under fresh keys, and keeps counting after a restart", async () => {
    const log = new AuditLog(store);
    expect((await log.append(entry(1000))).seq).toBe(1);
    expect((await log.append(entry(1000))).seq).toBe(2);
    const again = new AuditLog(store);
    expect((await again.append(entry(2000))).seq).toBe(3);
    expect(readAudit(store, { limit: 10 }).records.map((r) => [r.at, r.seq])).toEqual([[1000, 1], [1000, 2], [2000, 3]]);
  });

  it("never overwrites a record, even when a clock set back meets a key already taken", async () => {
    // Written before a restart whose last key ([5000, 3]) has a lower seq than these.
    await store.audit.put([1000, 4], { ...entry(1000, "first"), seq: 4 });
    await store.audit.put([1000, 5], { ...entry(1000, "second"), seq: 5 });
    await store.audit.put([5000, 3], { ...entry(5000, "third"), seq: 3 });
    const log = new AuditLog(store);
    const added = await log.append(entry(1000, "late"));
    expect(added.seq).toBe(6);
    const all = readAudit(store, { limit: 10 }).records;
    expect(all.map((r) => [r.at, r.seq, r.operator])).toEqual([[1000, 4, "first"], [1000, 5, "second"], [1000, 6, "late"], [5000, 3, "third"]]);
  });

  it("reads a window of time, a page at a time", async () => {
    const log = new AuditLog(store);
    for (const at of [100, 200, 200, 300, 400]) await log.append(entry(at));
    const page1 = readAudit(store, { from: 200, to: 400, limit: 2 });
    expect(page1.records.map((r) => r.seq)).toEqual([2, 3]);
    expect(page1.next).toBe("200:3");
    const page2 = readAudit(store, { from: 200, to: 400, limit: 2, cursor: page1.next! });
    expect(page2.records.map((r) => r.seq)).toEqual([4]);
    expect(page2.next).toBeNull();
  });

  it("refuses bad query parameters, naming them", () => {
    const fieldOf = (q: Record<string, string>) => {
      try {
        auditQuery(q);
      } catch (err) {
        return (err as LoyaltyError).field;
      }
      return null;
    };
    expect(auditQuery({})).toEqual({ limit: 100 });
    expect(auditQuery({ from: "5", to: "9", limit: "3", cursor: "5:1" })).toEqual({ from: 5, to: 9, limit: 3, cursor: "5:1" });
    expect([fieldOf({ limit: "1001" }), fieldOf({ from: "-1" }), fieldOf({ to: "x" }), fieldOf({ cursor: "5" })]).toEqual(["limit", "from", "to", "cursor"]);
  });
});
