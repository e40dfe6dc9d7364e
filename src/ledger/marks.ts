// What the ledger records about the durable stream, in its meta table: how far the
// stream is applied (the consumer's ack floor, which only moves after an effect is
// durable), where the next start must resume after a restore, and which event was
// being applied alone when the process died (the crash-loop count of a suspect event).
import { isStorageRefusal, type Store } from "./store.js";

/** Meta key: every LOYALTY_EVENTS sequence up to this one is applied in this ledger. */
export const ACK_FLOOR = "streamAckFloor";
/** Meta key: the sequence the consumer must deliver from at the next start (written by `loyaltyd restore`). */
export const RESET_TO = "consumerResetTo";
const SUSPECT_PREFIX = "streamSuspect:";

export interface StreamMarks {
  /** Every LOYALTY_EVENTS sequence up to this one is applied in this ledger (0: none known). */
  ackFloor(): number;
  /** Records a newer ack floor; never moves it back. */
  advanceAckFloor(seq: number): Promise<void>;
  /** Set by `loyaltyd restore`: the sequence the consumer must deliver from at the next start. */
  resetTo(): number | null;
  clearResetTo(): void;
  /** How many times the process died while this event was being applied alone. */
  crashes(seq: number): number;
  /** Before applying a suspect event alone: counts the attempt durably, so a crash is remembered. */
  beginSuspect(seq: number): void;
  /** The suspect event was applied (or refused): it did not crash the process. */
  endSuspect(seq: number): void;
}

export function streamMarks(store: Store): StreamMarks {
  const read = (key: string): number | undefined => {
    store.env.resetReadTxn();
    return store.meta.get(key);
  };
  return {
    ackFloor: () => read(ACK_FLOOR) ?? 0,
    async advanceAckFloor(seq) {
      if (seq <= (read(ACK_FLOOR) ?? 0)) return;
      await store.meta.put(ACK_FLOOR, seq).catch((err: unknown) => {
        // A full disk: recorded again at the next reading.
        if (!isStorageRefusal(err)) throw err;
      });
    },
    resetTo: () => read(RESET_TO) ?? null,
    clearResetTo: () => void store.meta.removeSync(RESET_TO),
    crashes: (seq) => read(SUSPECT_PREFIX + seq) ?? 0,
    beginSuspect(seq) {
      store.meta.putSync(SUSPECT_PREFIX + seq, (read(SUSPECT_PREFIX + seq) ?? 0) + 1);
    },
    endSuspect(seq) {
      store.meta.removeSync(SUSPECT_PREFIX + seq);
    },
  };
}
