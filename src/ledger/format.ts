// The ledger's format version: what this code reads and writes, how a ledger of an earlier
// format is migrated at open, and the refusal (with what to do) of one it cannot read.
import { moveLotsIntoWallets } from "./lots.js";
import type { Store } from "./store.js";

/**
 * The layout this code reads and writes. 1: the first release (a dozen tables per
 * accrual); 2: wallets, entries keyed by customer, event records; 3: a sale's, return's
 * or void's postings in one entries record (EntryGroup), a sale's record with arrays in
 * line order instead of maps keyed by lineId (PackedSale); 4: a sale's first reply kept as
 * figures rebuilt with the sale (SaleFigures, ledger/sale-reply.ts), not whole; 5: expiry
 * lots in the wallet (ledger/lots.ts), not in the `lots` table; 6: a wallet's open holds
 * and lot events as rows, not maps keyed by hold id and lot (store.ts storedWallet); 7: a
 * wallet's daily turnover as one binary value (ledger/turnover.ts), not [day, amount]
 * pairs. Each format reads every other record of the ones before it as it is, so a
 * format-2 to 6 ledger is migrated by moving its lots into the wallets (none are left
 * from format 5 on) and stamping it (migrateFormat).
 */
export const FORMAT_VERSION = 7;

export class StoreFormatError extends Error {}

/**
 * A new store is stamped with this code's format; a store written by another format is
 * refused with what to do, before anything reads it wrongly or writes into it.
 */
export function checkFormat(store: Store, path: string): void {
  const version = migrateFormat(store, store.meta.get("formatVersion"));
  if (version === FORMAT_VERSION) return;
  const written = version ?? (store.meta.get("seq") !== undefined || store.meta.get("programmesVersion") !== undefined ? 1 : null);
  if (written === null) {
    store.meta.putSync("formatVersion", FORMAT_VERSION);
    return;
  }
  throw new StoreFormatError(
    `the ledger at ${path} is in format ${written}; this loyaltyd reads format ${FORMAT_VERSION}. ` +
      (written < FORMAT_VERSION
        ? "Keep it with the loyaltyd release that wrote it, or move it aside and start this release on an empty dataDir " +
          "(it is rebuilt from the JetStream stream LOYALTY_EVENTS for stream events; request-reply commands are not in the stream)."
        : "It was written by a newer loyaltyd: run that release."),
  );
}

/** Whether this code opens a ledger of that format by migrating it (a backup of it restores too). */
export function migratesFrom(version: number): boolean {
  return version !== undefined && version >= 2 && version <= 6;
}

/**
 * Brings a ledger of an earlier format this code can migrate up to FORMAT_VERSION, and
 * says which format it is in now. 2 to 6 -> 7: the `lots` table moves into the wallets
 * (in chunks, each lot leaving the table in the transaction that puts it in its wallet, so
 * an interrupted start resumes the move); format-2 entries (one record per posting) and
 * whole first replies (formats 2 and 3), wallets with maps of holds (formats 2 to 5) and
 * wallets with turnover pairs (formats 2 to 6) stay as they are and are read alongside
 * the newer records, each wallet written in the new form at its next change. The stamp
 * comes last, so that an older release refuses the ledger from then on (it would find no
 * lots, answer a duplicate of a newer sale without its reply, or misread a wallet's holds
 * or turnover).
 */
function migrateFormat(store: Store, version: number | undefined): number | undefined {
  if (version !== undefined && migratesFrom(version)) {
    moveLotsIntoWallets(store);
    store.meta.putSync("formatVersion", FORMAT_VERSION);
    return FORMAT_VERSION;
  }
  return version;
}
