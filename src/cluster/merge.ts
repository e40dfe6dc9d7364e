// A merge of two customers of different partitions (cluster mode), driven by the
// instance the request came through: the steps of ledger/merge-steps.ts, each a command
// of one partition's log, then the identity directory. The operator's request and reply
// are the same as for any merge (docs/protocol.md); sending it again finishes a merge cut
// short by a crash, and answers a finished one with its reply (duplicate: true).
import { contentHash, decodeBytes, encodeReply } from "../codec/codec.js";
import type { VerbInput } from "../codec/schema.js";
import { failure, toWireError } from "../errors.js";
import type { ClusterParcel } from "../ledger/merge-steps.js";
import type { Notification } from "../ledger/ledger.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import type { Handled, RawRequest } from "../partition/batch.js";
import { scopedPartition } from "../partition/router.js";
import type { CommandVerb } from "../verbs.js";
import type { Directory } from "./identities.js";
import type { IdentityKind } from "./identity.js";

type Reply = Record<string, unknown>;

/** A step's own request id: the merge's and the step's name, joined by a character no client id has (a control character). */
const stepId = (merge: string, name: string): string => `${merge}\u001f${name}`;

/** Whether a step's refusal is final (it changed nothing), rather than "not applied now, maybe later" (it may be in the log). */
function refused(reply: Reply): boolean {
  const code = (reply.error as { code?: string } | undefined)?.code;
  return code !== "UNAVAILABLE" && code !== "OVERLOADED" && code !== "INTERNAL";
}

/** Submits an engine command to a virtual partition (served here or forwarded to its owner). */
export type SubmitTo = (vp: number, verb: CommandVerb, input: Reply) => Promise<Handled>;

/** The merges of an instance in cluster mode: its steps go to the partitions through the gate (served here or forwarded). */
export function crossPartitionMerges(gate: { submit(vp: number, req: RawRequest, waitBounded: boolean): Promise<Handled> }, directory: Directory, log: Logger): CrossPartitionMerge {
  return new CrossPartitionMerge((vp, verb, input) => gate.submit(vp, { verb, bytes: encodeReply(input, "msgpack"), encoding: "msgpack" }, true), directory, log);
}

export class CrossPartitionMerge {
  constructor(
    private readonly submit: SubmitTo,
    private readonly directory: Directory,
    private readonly log: Logger,
  ) {}

  /**
   * The merge of customer `from` into `into` (ids, each naming its partition). Resolves
   * with the reply and the notifications of its steps; a refusal is a reply too.
   */
  async run(input: VerbInput<"mergeCustomers">, from: string, into: string): Promise<{ reply: Reply; notifications: Notification[] }> {
    const vpFrom = scopedPartition(from)!;
    const vpInto = scopedPartition(into)!;
    const notifications: Notification[] = [];
    const merge = input.requestId;
    const recorded = { merge, hash: contentHash("mergeCustomers", input) };
    const step = async (vp: number, verb: CommandVerb, fields: Reply): Promise<Reply> => {
      const h = await this.submit(vp, verb, { merge, ...fields });
      notifications.push(...h.notifications);
      return decodeBytes(h.bytes, "msgpack", limits.internalPayloadBytesMax) as Reply;
    };
    const done = (reply: Reply) => ({ reply: reply.ok === false ? { ...reply, requestId: merge } : reply, notifications });
    const { operator, reason } = input;
    try {
      const reserved = await step(vpInto, "mergeReserve", { customerId: into, from });
      if (reserved.ok === false) {
        if (!refused(reserved)) await this.release(step, vpInto, into);
        return done(reserved);
      }
      const out = await step(vpFrom, "mergeOut", { ...recorded, requestId: stepId(merge, "out"), customerId: from, into, intoPartition: vpInto, fromPartition: vpFrom, intoMerged: reserved.merged, operator, reason });
      if (out.ok === false) {
        // Refused: nothing left `from`, the reservation ends. Not answered (it may be in the log): `into` stays reserved until the merge is sent again.
        if (refused(out)) await this.release(step, vpInto, into);
        return done(out);
      }
      const parcel = out.parcel as ClusterParcel;
      const merged = await step(vpInto, "mergeIn", { ...recorded, requestId: stepId(merge, "in"), customerId: into, from, intoPartition: vpInto, fromPartition: vpFrom, operator, reason, parcel });
      if (merged.ok === false) {
        // The parcel is in from's partition's log and mergeOut's record; `into` stays reserved for it: sending the merge again applies it.
        this.log.error({ requestId: merge, from, into, error: merged.error }, "a merge across partitions took the customer out but could not give it to the survivor yet; send it again");
        return done(merged);
      }
      // Sent again, the reservation was made again: it ends here.
      await this.release(step, vpInto, into);
      await this.redirect(parcel, into, merged.released as string[]);
      return done(merged);
    } catch (err) {
      // Not answered (a forward timed out, the partition moving): what was done stays done; sending the merge again finishes it.
      return done(failure(toWireError(err)));
    }
  }

  private async release(step: (vp: number, verb: CommandVerb, fields: Reply) => Promise<Reply>, vp: number, into: string): Promise<void> {
    const r = await step(vp, "mergeRelease", { customerId: into }).catch((err: unknown) => failure(toWireError(err)));
    if (r.ok === false) this.log.warn({ into, error: r.error }, "could not end a merge's reservation of its survivor; sending the merge again ends it");
  }

  /**
   * The identity directory after the merge: every merged id names the survivor, and the
   * identifiers `from` had go to the survivor (or are freed when the survivor kept its own).
   */
  private async redirect(parcel: ClusterParcel, into: string, released: string[]): Promise<void> {
    const from = parcel.customer.id;
    const moves: [IdentityKind, string, string][] = [];
    for (const id of parcel.moving) moves.push(["customer", id, id === from ? "" : from]);
    for (const [card] of parcel.cards) moves.push(["card", card, from]);
    for (const { voucher } of parcel.vouchers) moves.push(["voucher", voucher.code, from]);
    const { phone } = parcel.customer.profile;
    const { loyaltyId } = parcel.customer;
    for (const [kind, value] of [["phone", phone], ["loyaltyId", loyaltyId]] as const) {
      if (value === undefined) continue;
      if (released.includes(kind)) await this.write(() => this.directory.release(kind, value, from), kind, value, into);
      else moves.push([kind, value, from]);
    }
    for (const [kind, value, holder] of moves) {
      // Free (a merged id without an alias yet): claimed for the survivor; held by `from` (or an alias naming it): moved.
      const now = this.directory.lookup(kind, value);
      if (now === into) continue;
      if (now !== null && holder !== "" && now !== holder) {
        this.log.warn({ kind, value, into, owner: now }, "a merge across partitions found an identifier of the merged-away customer held by another; left as it is");
        continue;
      }
      await this.write(() => (now === null ? this.directory.claim(kind, value, into) : this.directory.move(kind, value, now, into)), kind, value, into);
    }
  }

  private async write(op: () => Promise<{ ok: boolean; owner?: string | null }>, kind: IdentityKind, value: string, into: string): Promise<void> {
    const r = await op().catch((err: Error) => ({ ok: false, owner: err.message }));
    if (!r.ok) this.log.warn({ kind, value, into, owner: r.owner }, "a merge across partitions could not update the identity directory; commands naming it may be refused until it is repaired");
  }
}
