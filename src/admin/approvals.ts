// Four-eyes approval of large money adjustments (config admin.approvalAbove): the first
// operator's request waits here until another operator with the money role approves or
// rejects it. Pending approvals are kept in the ledger (table `approvals`), so a restart
// keeps them; an approval is removed before it is applied, so it is applied at most once
// (a crash in between drops it, nothing applied: the requester sends it again).
import { randomBytes } from "node:crypto";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { Store } from "../ledger/store.js";

export type ApprovalKind = "adjust" | "bulkAdjust";

export interface Approval {
  approvalId: string;
  kind: ApprovalKind;
  /** The validated body, with the requester as its operator: what the approval applies. */
  body: Record<string, unknown>;
  requestedBy: string;
  requestedAt: number;
  expiresAt: number;
  /** The largest absolute amount among the body's adjustments. */
  amountMax: number;
}

/** Where pending approvals are kept across restarts. */
export interface ApprovalStore {
  all(): Iterable<Approval>;
  put(a: Approval): void;
  remove(approvalId: string): void;
}

export class Approvals {
  private readonly pending = new Map<string, Approval>();
  /** "<kind>/<requestId or jobId>" -> approvalId: a resent request finds its pending approval. */
  private readonly byRequest = new Map<string, string>();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number = limits.approvalTtlMs,
    private readonly pendingMax: number = limits.approvalsPendingMax,
    private readonly durable: ApprovalStore | null = null,
  ) {
    for (const a of durable?.all() ?? []) this.remember(a);
  }

  private remember(a: Approval): void {
    this.pending.set(a.approvalId, a);
    this.byRequest.set(`${a.kind}/${requestKeyOf(a)}`, a.approvalId);
  }

  private forget(a: Approval): void {
    this.durable?.remove(a.approvalId);
    this.pending.delete(a.approvalId);
    this.byRequest.delete(`${a.kind}/${requestKeyOf(a)}`);
  }

  /** Opens an approval, or returns the one this request already has (same content; other content is a conflict). */
  open(kind: ApprovalKind, body: Record<string, unknown>, requestedBy: string, amountMax: number): Approval {
    this.expire();
    const requestKey = requestKeyOf({ kind, body });
    const key = `${kind}/${requestKey}`;
    const existing = this.byRequest.get(key);
    if (existing !== undefined) {
      const a = this.pending.get(existing)!;
      if (JSON.stringify(a.body) !== JSON.stringify(body)) {
        throw new LoyaltyError("IDEMPOTENCY_CONFLICT", `${requestKey} already waits for approval ${a.approvalId} with other content`);
      }
      return a;
    }
    if (this.pending.size >= this.pendingMax) throw new LoyaltyError("OVERLOADED", `${this.pendingMax} approvals are pending; approve or reject some first`);
    const t = this.now();
    const approval: Approval = { approvalId: `ap_${randomBytes(12).toString("base64url")}`, kind, body, requestedBy, requestedAt: t, expiresAt: t + this.ttlMs, amountMax };
    this.durable?.put(approval);
    this.remember(approval);
    return approval;
  }

  /** Closes an approval for `operator` to apply or drop; the requester may not close their own by approving it. */
  close(approvalId: string, operator: string, decision: "approve" | "reject"): Approval {
    this.expire();
    const a = this.pending.get(approvalId);
    if (!a) throw new LoyaltyError("UNKNOWN_APPROVAL", `no pending approval ${approvalId}`, "approvalId");
    if (decision === "approve" && a.requestedBy === operator) {
      throw new LoyaltyError("FORBIDDEN", `${operator} requested ${approvalId}: another operator must approve it`);
    }
    this.forget(a);
    return a;
  }

  list(): Approval[] {
    this.expire();
    return [...this.pending.values()];
  }

  private expire(): void {
    const t = this.now();
    for (const a of this.pending.values()) {
      if (a.expiresAt > t) continue;
      this.forget(a);
    }
  }
}

/** The id that names an approval's request: an adjustment's requestId, a bulk job's jobId. */
export function requestKeyOf(a: Pick<Approval, "kind" | "body">): string {
  return String(a.kind === "adjust" ? a.body.requestId : a.body.jobId);
}

/** Pending approvals in the ledger's `approvals` table; synchronous writes (admin actions are rare). */
export function approvalsIn(store: Store): ApprovalStore {
  return {
    all: () => store.approvals.getRange().map(({ value }) => value),
    put: (a) => void store.approvals.putSync(a.approvalId, a),
    remove: (approvalId) => void store.approvals.removeSync(approvalId),
  };
}
