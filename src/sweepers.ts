// The sweepers: time-driven work the engine's main thread finds in the ledger's indexes
// (holds, points and vouchers past their time, today's birthdays) and hands, as internal
// commands, to each customer's partition like any other bulk work.
import { limits } from "./limits.js";
import { birthdaysDue } from "./ledger/birthdays.js";
import type { Notification } from "./ledger/ledger.js";
import type { Store } from "./ledger/store.js";
import type { Logger } from "./observe/logger.js";
import type { Handled } from "./partition/batch.js";

export type InternalVerb = "expireHold" | "sweepExpiry" | "sweepVoucher" | "sweepBirthday";

export interface SweepDeps {
  store: Store;
  submit: (customerId: string, verb: InternalVerb, input: Record<string, unknown>) => Promise<Handled>;
  publishNotifications: (n: Notification[]) => void;
  log: Logger;
  now: () => number;
  expiryNoticeMs: number;
}

/** A sweeper's command for a partition another instance serves: nothing done here. */
export const NOT_SWEPT_HERE: Handled = { bytes: new Uint8Array(0), outcome: "skipped", label: "sweep", notifications: [], refusal: null, points: 0 };

/**
 * Holds past their time: each expired by its customer's partition, at most
 * holdSweepBatchMax per pass. Resolves whether another pass is due at once: this one was
 * full, and once its commands were applied the oldest hold it found has left the index
 * (commands refused while the engine closes, or skipped for a partition another instance
 * serves, leave it there: then the next pass waits for the timer). Passes a holdSweepMs
 * apart expired at most holdSweepBatchMax holds a second, fewer than a busy till fleet
 * opens; the rest stayed held, and in their wallets, until their turn.
 */
export async function sweepHolds({ store, submit, now }: SweepDeps): Promise<boolean> {
  const t = now();
  store.env.resetReadTxn();
  const due = (limit: number) => store.holdsByExpiry.getRange({ end: [t, "\uffff"], limit });
  const submitted: Promise<unknown>[] = [];
  let oldest: string | null = null;
  for (const { key, value: customerId } of due(limits.holdSweepBatchMax)) {
    oldest ??= key[1];
    submitted.push(submit(customerId, "expireHold", { holdId: key[1] }).catch(() => undefined));
  }
  if (submitted.length < limits.holdSweepBatchMax) return false;
  await Promise.all(submitted);
  store.env.resetReadTxn();
  for (const { key } of due(1)) return key[1] !== oldest;
  return false;
}

/**
 * The hold sweeper's timer tick: one run at a time, and within a run, passes one after
 * the other while each says more are due (sweepHolds), until the engine closes.
 */
export function holdSweeper(deps: SweepDeps, closing: () => boolean): () => void {
  let running = false;
  return () => {
    if (running) return;
    running = true;
    void (async () => {
      while (!closing() && (await sweepHolds(deps)));
    })()
      .catch((err) => deps.log.warn({ err }, "hold sweep failed; retried at the next pass"))
      .finally(() => (running = false));
  };
}

/**
 * Runs a sweep's commands a chunk at a time (limits.sweepChunkMax), each chunk once the one
 * before is answered, rather than all at once: they share the bulk lane with the stream's
 * events, and a points-expiry pass of ~2,000 customers put ~300 ms of work ahead of every
 * event behind it (the demo's stream p99 rose to 180-390 ms at each sweep in December, when
 * year-end lots enter their notice window; bench/RESULTS.md 2026-12-02). Chunked, an event
 * waits behind one chunk at most. `run` settles without throwing (it logs its own failure);
 * the sweep stops between chunks once `stop` says so (the engine closing).
 */
export async function inChunks<T>(items: readonly T[], run: (item: T) => Promise<unknown>, stop: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < items.length && !stop(); i += limits.sweepChunkMax) {
    await Promise.all(items.slice(i, i + limits.sweepChunkMax).map(run));
  }
}

/**
 * One sweep command for a customer's partition: its notifications published once applied;
 * a failure logged as `failed` says (the item stays due, so the next pass tries it again).
 * Never rejects.
 */
function sweepOne({ submit, publishNotifications, log }: SweepDeps, customerId: string, verb: InternalVerb, input: Record<string, unknown>, failed: string): Promise<void> {
  return submit(customerId, verb, input)
    .then((o) => publishNotifications(o.notifications))
    .catch((err) => log.warn({ err, customerId, ...input }, failed));
}

/** Points expiry: customers whose lots are past their time or entering the notice window, in chunks. */
export async function sweepPointsExpiry(deps: SweepDeps, stop?: () => boolean): Promise<void> {
  const { store, now } = deps;
  const t = now();
  store.env.resetReadTxn();
  const due: string[] = [];
  for (const key of store.expiryDue.getKeys({ end: [t, "\uffff"], limit: limits.expirySweepCustomersMax })) due.push(key[1]);
  await inChunks(due, (customerId) => sweepOne(deps, customerId, "sweepExpiry", { customerId }, "expiry sweep failed; retried at the next sweep"), stop);
}

/**
 * Vouchers past their time (to mark expired) or entering the notice window (to notify
 * once), in chunks. Both indexes hold only vouchers with something still to do.
 */
export async function sweepVouchers(deps: SweepDeps, stop?: () => boolean): Promise<void> {
  const { store, now, expiryNoticeMs } = deps;
  const t = now();
  store.env.resetReadTxn();
  const due = new Map<string, string>();
  const collect = (range: Iterable<{ key: [number, string]; value: string }>) => {
    for (const { key, value: customerId } of range) {
      if (due.size >= limits.voucherSweepBatchMax) return;
      due.set(key[1], customerId);
    }
  };
  collect(store.vouchersByExpiry.getRange({ end: [t, "\uffff"] }));
  collect(store.voucherNotices.getRange({ end: [t + expiryNoticeMs, "\uffff"] }));
  await inChunks([...due], ([code, customerId]) => sweepOne(deps, customerId, "sweepVoucher", { code }, "voucher sweep failed; retried at the next sweep"), stop);
}

/**
 * Today's birthdays, each on the customer's local date (its profile.timeZone, else config
 * timeZone), from the local hour notify.birthdayHour on (ledger/birthdays.ts birthdaysDue):
 * each customer not yet notified this local year goes to its partition. Every pass reads
 * the days again, so customers enrolled later in the day, and a restart later the same
 * day, are caught up; one pass at a time, in chunks (inChunks).
 */
export function birthdaySweeper(deps: SweepDeps, timeZone: string, fromHour: number, stop?: () => boolean): () => void {
  const { store, now } = deps;
  let running = false;
  return () => {
    if (running) return;
    store.env.resetReadTxn();
    const due = birthdaysDue(store, now(), timeZone, fromHour, limits.birthdaySweepBatchMax);
    if (due.length === 0) return;
    running = true;
    void inChunks(due, ({ customerId, day, year }) => sweepOne(deps, customerId, "sweepBirthday", { customerId, day, year }, "birthday sweep failed; retried at the next pass"), stop).finally(
      () => (running = false),
    );
  };
}
