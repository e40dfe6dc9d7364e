// Where a record lives, for a command that names no customer and comes through an
// instance that does not serve the record's partition: a return or void names only its
// original sale (whose idempotency record names its partition, `v`), a report's decision
// only the report (whose customer's id names the partition). Every instance answers on
// one subject for the partitions it serves and stays silent otherwise: the first answer
// is the partition; none within the wait means no instance knows the record, and the
// partition the router picked refuses it (UNKNOWN_EVENT, UNKNOWN_REPORT). Sales and
// reports write nothing to the cluster for this: only a command through another instance
// pays one round trip.
import type { NatsConnection, Subscription } from "nats";
import type { Store } from "../ledger/store.js";
import type { Logger } from "../observe/logger.js";
import { partitionOf } from "../partition/hash.js";
import { scopedPartition } from "../partition/router.js";

export const LOCATE_SUBJECT = "loyalty.cluster.locate";
export type Located = "sale" | "report";
/** How long a command waits for the record's owner to answer before it is routed without it. */
const LOCATE_WAIT_MS = 500;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Locator {
  private readonly sub: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: Store,
    private readonly partitions: number,
    serves: (vp: number) => boolean,
    log: Logger,
  ) {
    this.sub = nc.subscribe(LOCATE_SUBJECT, {
      callback: (_err, msg) => {
        try {
          const [kind, id] = decoder.decode(msg.data).split("\u0000");
          const vp = id === undefined ? null : this.partitionHere(kind, id);
          // Only while this instance serves the partition (a former owner's copy may be stale).
          if (vp !== null && serves(vp)) msg.respond(encoder.encode(String(vp)));
        } catch (err) {
          log.warn({ err: (err as Error).message }, "could not answer where a record lives");
        }
      },
    });
  }

  /** The virtual partition that holds the record, or null when no instance answers in time. */
  async locate(kind: Located, id: string): Promise<number | null> {
    try {
      const reply = await this.nc.request(LOCATE_SUBJECT, encoder.encode(`${kind}\u0000${id}`), { timeout: LOCATE_WAIT_MS });
      const vp = Number(decoder.decode(reply.data));
      return Number.isInteger(vp) && vp >= 0 && vp < this.partitions ? vp : null;
    } catch {
      return null;
    }
  }

  close(): void {
    this.sub.unsubscribe();
  }

  /** The partition of a record in this instance's ledger, or null when it holds none. */
  private partitionHere(kind: string | undefined, id: string): number | null {
    this.store.env.resetReadTxn();
    if (kind === "sale") {
      const r = this.store.events.get(id);
      return r?.s !== undefined && typeof r.v === "number" ? r.v : null;
    }
    if (kind !== "report") return null;
    const customerId = this.store.reports.get(id)?.customerId;
    if (customerId === undefined) return null;
    const survivor = this.store.aliases.get(customerId) ?? customerId;
    return scopedPartition(survivor) ?? partitionOf(survivor, this.partitions);
  }
}
