// A partition's log message, and a command as the log and a forward carry it: the wire
// format of cluster mode's command path (cluster/gate.ts). A log message is {c: [[verb,
// encoding, bytes, subjectStore, credentialStore, stock?], ...], t, r, b?}: everything
// its commands need to apply, the time they apply at (`t`), the seed of their randomness
// (`r`) and the back-office position the owner had applied (`b`), so that a replay
// anywhere gives the same effects (Command.logged).
import { Packr } from "msgpackr";
import { LOG_SLOTS } from "../ledger/ledger.js";
import type { Logger } from "../observe/logger.js";
import type { RawRequest } from "../partition/batch.js";
import { isCommandVerb } from "../verbs.js";
import type { LoggedCommand } from "./log.js";

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** A command as the log and a forward carry it (a redemption's stock reservation: in the log only). */
export type Wire = [verb: string, encoding: 0 | 1, bytes: Uint8Array, subjectStore: string | null, credentialStore: string | null, stock?: [number, number] | null];

export const toWire = (r: RawRequest): Wire => {
  const w: Wire = [r.verb, r.encoding === "msgpack" ? 1 : 0, r.bytes, r.subjectStore ?? null, r.credentialStore ?? null];
  if (r.stock) w.push(r.stock);
  return w;
};

export function fromWire(w: Wire): RawRequest {
  if (!Array.isArray(w) || !isCommandVerb(w[0]) || !(w[2] instanceof Uint8Array)) throw new Error("not a logged command");
  return { verb: w[0], encoding: w[1] === 1 ? "msgpack" : "json", bytes: w[2], subjectStore: w[3] ?? null, credentialStore: w[4] ?? null };
}

/** A logged command's stock reservation, when its log message carries a valid one. */
function stockOf(w: Wire): { stock: [number, number] } | Record<string, never> {
  const s = w[5];
  return Array.isArray(s) && s.length === 2 && Number.isSafeInteger(s[0]) && Number.isSafeInteger(s[1]) ? { stock: [s[0], s[1]] } : {};
}

/**
 * A log message: the commands, the time they apply at, the seed of their randomness, and
 * the back-office position the owner had applied (what loggedRequests reads).
 */
export function logMessage(requests: RawRequest[], at: number, seed: Uint8Array, backOffice = 0): Uint8Array {
  return packr.pack({ c: requests.map(toWire), t: at, r: seed, ...(backOffice > 0 ? { b: backOffice } : {}) });
}

/**
 * The commands of one log message, each with where it is in the log and the time it
 * applies at (Command.logged). A command that cannot be read is logged and skipped: it
 * could not have been applied by the owner that appended it either.
 */
export function loggedRequests(vp: number, m: LoggedCommand, log: Logger): RawRequest[] {
  const out: RawRequest[] = [];
  let msg: { c: Wire[]; t: number; r?: Uint8Array; b?: number };
  try {
    msg = packr.unpack(m.data) as { c: Wire[]; t: number; r?: Uint8Array; b?: number };
    if (!Array.isArray(msg.c) || typeof msg.t !== "number") throw new Error("not a log message");
  } catch (err) {
    log.error({ err, partition: vp, seq: m.seq }, "unreadable message in the command log; skipped");
    return out;
  }
  msg.c.forEach((w, k) => {
    try {
      const b = typeof msg.b === "number" ? { backOffice: msg.b } : {};
      out.push({ ...fromWire(w), logged: { vp, at: msg.t, pos: m.seq * LOG_SLOTS + k, ...(msg.r instanceof Uint8Array ? { seed: msg.r } : {}), ...b, ...stockOf(w) } });
    } catch (err) {
      log.error({ err, partition: vp, seq: m.seq, index: k }, "unreadable command in the command log; skipped");
    }
  });
  return out;
}
