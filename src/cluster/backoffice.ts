// Cluster mode's back office: the programmes, the product card, the rewards catalogue and
// the voucher offers are the same on every instance. A change made through any
// instance's admin API is appended to one replicated stream (LOYALTY_BACKOFFICE) and
// every instance applies the stream in order to its own ledger (its position in meta
// `backoffice@`), the one it came through included, before that one answers; so a
// partition served anywhere earns, prices and sells under the same back office.
//
// A partition's log message records the back-office position its owner had applied
// (`b`); a new owner replaying it waits until its own back office is that far (see
// ClusterGate). The stream is never purged: it is small (one message per change).
import { Packr } from "msgpackr";
import { NatsError, StorageType, type JetStreamClient, type NatsConnection } from "nats";
import { installProgramme, retireProgramme } from "../admin/programmes.js";
import { importProducts, putProduct, removeProduct } from "../admin/products.js";
import { importRewards, putReward, removeReward } from "../admin/rewards.js";
import { putVoucherOffer, removeVoucherOffer } from "../admin/vouchers.js";
import type { SheetRow } from "../admin/sheets/read.js";
import { LoyaltyError } from "../errors.js";
import type { Store } from "../ledger/store.js";
import type { Logger } from "../observe/logger.js";
import { StreamFollower } from "./follow.js";

export const BACKOFFICE_STREAM = "LOYALTY_BACKOFFICE";
export const BACKOFFICE_SUBJECT = "loyalty.backoffice";
export const BACKOFFICE_META = "backoffice@";

/** Every back-office change: its arguments, and how it applies to a ledger at the time it was made. */
const OPS = {
  installProgramme: (s: Store, [id, body]: [string, unknown], at: number) => installProgramme(s, id, body, at),
  retireProgramme: (s: Store, [id]: [string]) => retireProgramme(s, id),
  putProduct: (s: Store, [sku, body]: [string, unknown]) => putProduct(s, sku, body),
  removeProduct: (s: Store, [sku]: [string]) => removeProduct(s, sku),
  importProducts: (s: Store, [rows]: [Parameters<typeof importProducts>[1]]) => importProducts(s, rows),
  putReward: (s: Store, [id, body]: [string, unknown], at: number) => putReward(s, id, body, at),
  removeReward: (s: Store, [id]: [string]) => removeReward(s, id),
  importRewards: (s: Store, [rows]: [Parameters<typeof importRewards>[1]], at: number) => importRewards(s, rows, at),
  putVoucherOffer: (s: Store, [id, body]: [string, unknown], at: number) => putVoucherOffer(s, id, body, at),
  removeVoucherOffer: (s: Store, [id]: [string]) => removeVoucherOffer(s, id),
} satisfies Record<string, (s: Store, args: never, at: number) => Promise<unknown>>;

export type BackOfficeOp = keyof typeof OPS;
export type BackOfficeArgs<K extends BackOfficeOp> = Parameters<(typeof OPS)[K]>[1];
export type BackOfficeResult<K extends BackOfficeOp> = Awaited<ReturnType<(typeof OPS)[K]>>;
export type { SheetRow };

/** How a back-office change is made: on this ledger (single-node), or through the stream (cluster mode). */
export interface BackOfficeWriter {
  write<K extends BackOfficeOp>(op: K, args: BackOfficeArgs<K>, at: number): Promise<BackOfficeResult<K>>;
}

/** Single-node mode: straight on the ledger. */
export function localBackOffice(store: Store): BackOfficeWriter {
  return { write: (op, args, at) => applyOp(store, op, args, at) };
}

function applyOp<K extends BackOfficeOp>(store: Store, op: K, args: BackOfficeArgs<K>, at: number): Promise<BackOfficeResult<K>> {
  const f = OPS[op] as (s: Store, a: BackOfficeArgs<K>, at: number) => Promise<BackOfficeResult<K>>;
  return f(store, args, at);
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

/**
 * Applies one change of the stream to a ledger and records how far the ledger got. A
 * change refused (a validation) is refused the same way on every instance: nothing
 * changed anywhere, and the stream goes on.
 */
async function applyChange(store: Store, data: Uint8Array, seq: number, log: Logger): Promise<{ ok: true; op: BackOfficeOp; value: unknown } | { ok: false; error: unknown }> {
  let change: Change | null = null;
  let outcome: { ok: true; op: BackOfficeOp; value: unknown } | { ok: false; error: unknown };
  try {
    change = packr.unpack(data) as Change;
    if (!Object.hasOwn(OPS, change.op)) throw new Error(`unknown back-office change ${String(change.op)}`);
    outcome = { ok: true, op: change.op, value: await applyOp(store, change.op, change.args as never, change.at) };
  } catch (err) {
    if (!(err instanceof LoyaltyError)) log.error({ err, seq, op: change?.op }, "a back-office change could not be applied; skipped");
    outcome = { ok: false, error: err };
  }
  await store.meta.put(BACKOFFICE_META, seq);
  return outcome;
}

/**
 * The back office read on demand, for `loyaltyd rebuild`: applied up to the position a
 * log message names before its commands apply, then to the stream's end.
 */
export class BackOfficeReader {
  private applied: number;
  private constructor(
    private readonly js: JetStreamClient,
    private readonly store: Store,
    private readonly last: number,
    private readonly log: Logger,
  ) {
    this.applied = store.meta.get(BACKOFFICE_META) ?? 0;
  }

  static async open(nc: NatsConnection, store: Store, log: Logger): Promise<BackOfficeReader> {
    const jsm = await nc.jetstreamManager({ timeout: 15_000 });
    const last = await jsm.streams.info(BACKOFFICE_STREAM).then(
      (i) => i.state.last_seq,
      (err: unknown) => {
        if (err instanceof NatsError && /stream not found/i.test(err.message)) return 0;
        throw err;
      },
    );
    return new BackOfficeReader(nc.jetstream({ timeout: 15_000 }), store, last, log);
  }

  /** The last change applied. */
  get position(): number {
    return this.applied;
  }

  /** Applies the stream up to `seq` (at most its last message). */
  async upTo(seq: number): Promise<void> {
    const target = Math.min(seq, this.last);
    if (target <= this.applied) return;
    const consumer = await this.js.consumers.get(BACKOFFICE_STREAM, { opt_start_seq: this.applied + 1 });
    while (this.applied < target) {
      const batch = await consumer.fetch({ max_messages: Math.min(256, target - this.applied), expires: 5_000 });
      const pulled: { seq: number; data: Uint8Array }[] = [];
      for await (const m of batch) pulled.push({ seq: m.seq, data: m.data });
      if (pulled.length === 0) throw new Error(`the back office gave nothing after ${this.applied} (its last is ${this.last})`);
      for (const m of pulled) {
        if (m.seq <= this.applied) continue;
        await applyChange(this.store, m.data, m.seq, this.log);
        this.applied = m.seq;
      }
    }
  }

  toEnd(): Promise<void> {
    return this.upTo(this.last);
  }
}

interface Change {
  op: BackOfficeOp;
  args: unknown;
  at: number;
}

/** How long an instance waits for its back office to catch up (at start, for its own change, for a replay), ms. */
const CATCH_UP_MS = 30_000;

/** Outcomes kept for the instance that made a change (it waits for its own follower to apply it). */
const OUTCOMES_KEPT = 1024;

export class ReplicatedBackOffice implements BackOfficeWriter {
  private applied: number;
  private readonly follower: StreamFollower;
  private readonly outcomes = new Map<number, { ok: true; value: unknown } | { ok: false; error: unknown }>();
  private readonly waiters: { seq: number; resolve: () => void }[] = [];
  /** Changes apply one at a time, in stream order. */
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly onApplied: (op: BackOfficeOp) => void,
  ) {
    this.applied = store.meta.get(BACKOFFICE_META) ?? 0;
    this.follower = new StreamFollower(nc, js, {
      stream: BACKOFFICE_STREAM,
      filterSubject: BACKOFFICE_SUBJECT,
      nextSeq: () => this.applied + 1,
      onMessage: (_subject, data, seq) => this.received(data, seq),
      startMs: 15_000,
      expiresMs: 5_000,
      batchMax: 256,
      missedMax: 2,
      log,
    });
  }

  static async open(nc: NatsConnection, store: Store, opts: { replicas: number; log: Logger; onApplied?: (op: BackOfficeOp) => void }): Promise<ReplicatedBackOffice> {
    const jsm = await nc.jetstreamManager({ timeout: 15_000 });
    await jsm.streams.info(BACKOFFICE_STREAM).catch(async (err: unknown) => {
      if (!(err instanceof NatsError && /stream not found/i.test(err.message))) throw err;
      await jsm.streams.add({ name: BACKOFFICE_STREAM, subjects: [BACKOFFICE_SUBJECT], num_replicas: opts.replicas, storage: StorageType.File, deny_delete: true, deny_purge: true }).catch(async (e: unknown) => {
        // Another instance created it at the same moment.
        if (e instanceof NatsError && e.api_error?.err_code === 10058) return jsm.streams.info(BACKOFFICE_STREAM);
        throw e;
      });
    });
    const b = new ReplicatedBackOffice(nc, nc.jetstream({ timeout: 15_000 }), store, opts.log, opts.onApplied ?? (() => undefined));
    b.follower.start();
    // An instance serves nothing under a back office it has not caught up with.
    const last = (await jsm.streams.info(BACKOFFICE_STREAM)).state.last_seq;
    await b.caughtUp(last, CATCH_UP_MS).catch((err: unknown) => {
      b.close();
      throw err;
    });
    return b;
  }

  /** The last change applied here (log messages carry it: Command.logged's back office). */
  get position(): number {
    return this.applied;
  }

  /** Resolves once this instance has applied the stream up to `seq`; UNAVAILABLE after `timeoutMs`. */
  caughtUp(seq: number, timeoutMs = CATCH_UP_MS): Promise<void> {
    if (this.applied >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new LoyaltyError("UNAVAILABLE", `the back office did not reach change ${seq} in time (at ${this.applied}); retry later`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async write<K extends BackOfficeOp>(op: K, args: BackOfficeArgs<K>, at: number): Promise<BackOfficeResult<K>> {
    const ack = await this.js.publish(BACKOFFICE_SUBJECT, packr.pack({ op, args, at } satisfies Change)).catch((err: unknown) => {
      throw new LoyaltyError("UNAVAILABLE", `the back office cannot be changed now (NATS: ${(err as Error).message}); retry later`);
    });
    await this.caughtUp(ack.seq, CATCH_UP_MS);
    const outcome = this.outcomes.get(ack.seq);
    if (!outcome) throw new LoyaltyError("INTERNAL", `back-office change ${ack.seq} applied without an outcome`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value as BackOfficeResult<K>;
  }

  private received(data: Uint8Array, seq: number): void {
    this.chain = this.chain
      .then(() => this.apply(data, seq))
      .catch((err: unknown) => {
        // Not recorded (the ledger refused the write): read again from the first change not applied.
        this.log.error({ err, seq }, "a back-office change could not be recorded; following the stream anew");
        void this.follower.restart("a change could not be recorded");
      });
  }

  private async apply(data: Uint8Array, seq: number): Promise<void> {
    if (seq <= this.applied) return;
    if (seq !== this.applied + 1) {
      // Changes apply in order, none skipped: after a failure, what follows waits for the follower to start again.
      void this.follower.restart(`change ${seq} came after ${this.applied}`);
      return;
    }
    const outcome = await applyChange(this.store, data, seq, this.log);
    this.keep(seq, outcome);
    if (outcome.ok) this.onApplied(outcome.op);
    this.applied = seq;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.seq <= seq) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private keep(seq: number, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    this.outcomes.set(seq, outcome);
    if (this.outcomes.size > OUTCOMES_KEPT) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  close(): void {
    this.follower.close();
  }
}
