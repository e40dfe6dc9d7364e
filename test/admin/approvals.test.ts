// Pending approvals: a second operator, never the requester, approves; a resent request
// finds its approval; approvals expire.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Approvals, approvalsIn } from "../../src/admin/approvals.js";
import { closeStore, openStore } from "../../src/ledger/store.js";
import { LoyaltyError } from "../../src/errors.js";

const body = { requestId: "adj-1", customer: { card: "C-1" }, account: "points", amount: 5000, reason: "goodwill", operator: "anna" };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof LoyaltyError) return err.code;
    throw err;
  }
  return "none";
}

describe("approvals", () => {
  it("lets another operator approve, once, and never the requester", () => {
    const a = new Approvals(() => 1000);
    const opened = a.open("adjust", body, "anna", 5000);
    expect(opened).toMatchObject({ approvalId: expect.stringMatching(/^ap_/), requestedBy: "anna", expiresAt: 1000 + 24 * 3600_000 });
    expect(codeOf(() => a.close(opened.approvalId, "anna", "approve"))).toBe("FORBIDDEN");
    expect(a.close(opened.approvalId, "bob", "approve").body).toEqual(body);
    expect(codeOf(() => a.close(opened.approvalId, "bob", "approve"))).toBe("UNKNOWN_APPROVAL");
  });

  it("answers a resent request with its pending approval, and other content with a conflict", () => {
    const a = new Approvals(() => 0);
    const first = a.open("adjust", body, "anna", 5000);
    expect(a.open("adjust", { ...body }, "anna", 5000).approvalId).toBe(first.approvalId);
    expect(codeOf(() => a.open("adjust", { ...body, amount: 6000 }, "anna", 6000))).toBe("IDEMPOTENCY_CONFLICT");
    // A bulk job is named by its jobId, in its own namespace.
    expect(a.open("bulkAdjust", { jobId: "adj-1", items: [] }, "anna", 1).approvalId).not.toBe(first.approvalId);
    expect(a.list()).toHaveLength(2);
  });

  it("lets the requester withdraw by rejecting", () => {
    const a = new Approvals(() => 0);
    const opened = a.open("adjust", body, "anna", 5000);
    expect(a.close(opened.approvalId, "anna", "reject").approvalId).toBe(opened.approvalId);
    expect(a.list()).toEqual([]);
  });

  it("drops an approval past its time, and bounds how many wait", () => {
    let t = 0;
    const a = new Approvals(() => t, 1000, 2);
    const opened = a.open("adjust", body, "anna", 5000);
    a.open("adjust", { ...body, requestId: "adj-2" }, "anna", 5000);
    expect(codeOf(() => a.open("adjust", { ...body, requestId: "adj-3" }, "anna", 5000))).toBe("OVERLOADED");
    t = 1000;
    expect(codeOf(() => a.close(opened.approvalId, "bob", "approve"))).toBe("UNKNOWN_APPROVAL");
    expect(a.list()).toEqual([]);
  });

  it("keeps pending approvals in the ledger across a restart, and applies each at most once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loyaltyd-approvals-"));
    try {
      let store = openStore(join(dir, "ledger"));
      const first = new Approvals(() => 0, 1000, 10, approvalsIn(store));
      const kept = first.open("adjust", body, "anna", 5000);
      const closed = first.open("adjust", { ...body, requestId: "adj-2" }, "anna", 5000);
      first.close(closed.approvalId, "bob", "approve");
      await closeStore(store);
      // A new process: the pending one is there, the approved one is not.
      store = openStore(join(dir, "ledger"));
      const second = new Approvals(() => 0, 1000, 10, approvalsIn(store));
      expect(second.list().map((a) => a.approvalId)).toEqual([kept.approvalId]);
      expect(second.open("adjust", { ...body }, "anna", 5000).approvalId).toBe(kept.approvalId);
      expect(codeOf(() => second.close(closed.approvalId, "bob", "approve"))).toBe("UNKNOWN_APPROVAL");
      expect(second.close(kept.approvalId, "bob", "approve").body).toEqual(body);
      expect([...store.approvals.getKeys()]).toEqual([]);
      await closeStore(store);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
