// Cluster mode's reward stock: the units left of each reward that has a stock, counted
// once for the whole cluster in NATS KV (bucket LOYALTY_STOCK, one key per reward),
// every change a compare-and-set on the key's revision. A redemption's units are
// reserved here by the partition's owner before the command is appended to the log (the
// log carries the reservation, so a replay never counts again); the units come back when
// the ledger does not approve it, and when a reward hold is released or expires. An
// operator's stock (PUT /v1/admin/rewards, the import) is set here as given. Every
// instance's own `rewards` table keeps the catalogue; its `stock` is then only the
// operator's last word, not what is left.
import { ErrorCode, NatsError, type KV, type NatsConnection } from "nats";
import type { Store } from "../ledger/store.js";
import type { BackOfficeArgs, BackOfficeOp, BackOfficeResult, BackOfficeWriter } from "./backoffice.js";

export const STOCK_BUCKET = "LOYALTY_STOCK";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Reward ids may hold characters a KV key may not: the key is the id in hex. */
const keyOf = (rewardId: string): string => `r${Buffer.from(rewardId, "utf8").toString("hex")}`;

/** A write that met another instance's (wrong last sequence): read again and retry. */
function isConflict(err: unknown): boolean {
  return err instanceof NatsError && (err.api_error?.err_code === 10071 || /wrong last sequence|key exists/i.test(err.message));
}

export class ClusterStock {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, opts: { replicas: number }): Promise<ClusterStock> {
    const js = nc.jetstream({ timeout: 15_000 });
    await js.views.kv(STOCK_BUCKET, { replicas: opts.replicas, history: 1 });
    // Read from the stream's leader (not a replica's direct get): what a compare-and-set compares with.
    return new ClusterStock(await js.views.kv(STOCK_BUCKET, { bindOnly: true, allow_direct: false }));
  }

  /** The units left, or null when the cluster counts none for the reward yet. */
  async left(rewardId: string): Promise<number | null> {
    const e = await this.kv.get(keyOf(rewardId));
    return e && e.operation === "PUT" ? Number(decoder.decode(e.value)) : null;
  }

  /**
   * Takes `qty` units if that many are left: resolves with what it took (qty, or 0) and
   * what was left before. `initial`: the catalogue's stock, to start the count with when
   * the cluster has none yet.
   */
  async reserve(rewardId: string, qty: number, initial: number): Promise<{ reserved: number; left: number }> {
    const key = keyOf(rewardId);
    for (;;) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== "PUT") {
        try {
          await this.kv.create(key, encoder.encode(String(initial)));
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
        continue;
      }
      const left = Number(decoder.decode(e.value));
      if (left < qty) return { reserved: 0, left };
      try {
        await this.kv.update(key, encoder.encode(String(left - qty)), e.revision);
        return { reserved: qty, left };
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** Gives units back (a redemption not approved, a reward hold released or expired); none when the cluster counts none. */
  async give(rewardId: string, qty: number): Promise<void> {
    const key = keyOf(rewardId);
    for (;;) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== "PUT") return;
      try {
        await this.kv.update(key, encoder.encode(String(Number(decoder.decode(e.value)) + qty)), e.revision);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** The operator's stock: `null` (unlimited, or the reward removed) forgets the count. */
  async set(rewardId: string, stock: number | null): Promise<void> {
    if (stock === null) {
      await this.kv.delete(keyOf(rewardId)).catch((err: unknown) => {
        if (!(err instanceof NatsError && err.code === ErrorCode.JetStream404NoMessages)) throw err;
      });
      return;
    }
    await this.kv.put(keyOf(rewardId), encoder.encode(String(stock)));
  }
}

/**
 * The back office, with the operator's word on a reward's stock given to the cluster's
 * count: after a reward is saved or imported with a stock through this instance (and
 * applied here), its count is set to that stock (forgotten when unlimited, or when the
 * reward is removed). A change that leaves the stock out leaves the count alone.
 */
export function withClusterStock(writer: BackOfficeWriter, stock: ClusterStock, store: Store): BackOfficeWriter {
  return {
    async write<K extends BackOfficeOp>(op: K, args: BackOfficeArgs<K>, at: number): Promise<BackOfficeResult<K>> {
      const result = await writer.write(op, args, at);
      // Only where the change itself gave a stock: leaving it out keeps what is left (the local `stock` is not that).
      const given: [string, number | null][] =
        op === "importRewards"
          ? (args as unknown as BackOfficeArgs<"importRewards">)[0].flatMap((r) => (r.value.stock !== undefined ? [[r.value.id, r.value.stock] as [string, number | null]] : []))
          : op === "putReward"
            ? stockGiven(args as unknown as BackOfficeArgs<"putReward">)
            : op === "removeReward"
              ? [[(args as unknown as [string])[0], null]]
              : [];
      if (given.length > 0) store.env.resetReadTxn();
      // The catalogue as applied decides (a refused change applied nothing, and threw above).
      for (const [id, value] of given) await stock.set(id, store.rewards.get(id) ? value : null);
      return result;
    },
  };
}

function stockGiven([id, body]: BackOfficeArgs<"putReward">): [string, number | null][] {
  const s = (body as { stock?: unknown } | null)?.stock;
  return s === undefined ? [] : [[id, typeof s === "number" ? s : null]];
}
