// The ledger's options as the configuration sets them: the engine's and `loyaltyd rebuild`'s.
import type { LedgerOptions } from "../ledger/tx.js";
import type { Config } from "./config.js";

export function ledgerOptionsOf(config: Config): LedgerOptions {
  return {
    selection: config.programmeSelection,
    timeZone: config.timeZone,
    enrolOnUnknownPhone: config.enrolOnUnknownPhone,
    enrolOnUnknownCard: config.enrolOnUnknownCard,
    whenSpent: config.returns.whenSpent,
    holdTtlMsDefault: config.holdTtlMsDefault,
    expiryNoticeMs: config.expiry.noticeDays * 86_400_000,
    eventLateMsMax: config.events.lateMsMax,
    eventFutureMsMax: config.events.futureMsMax,
    notifyOutbox: config.notify.outbox,
    reports: config.reports,
  };
}
