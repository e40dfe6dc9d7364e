// A customer's stored-value (prepaid) history as CSV, for the client's records (seed 004:
// "generate exports for the client"): every entry on the account, top-ups (conversions of
// points, compensation top-ups with their reason) and spending alike, with the balance
// after each. Read on the admin's thread in one read transaction, bounded like a statement.
import { Readable } from "node:stream";
import { stringify } from "csv-stringify";
import { z } from "zod";
import { id } from "../codec/schema.js";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { historyOf } from "../ledger/accounts.js";
import { findCustomer } from "../ledger/customers.js";
import type { Store } from "../ledger/store.js";
import type { Programme } from "../rules/programme.js";
import { parseAdminBody } from "./parse.js";
import { listProgrammes } from "./programmes.js";

export const PREPAID_CSV_COLUMNS = ["customerId", "seq", "at", "date", "kind", "amount", "currency", "balance", "operator", "reason", "cause"] as const;

export interface PrepaidRow {
  customerId: string;
  seq: number;
  /** Epoch ms. */
  at: number;
  /** The same instant, ISO 8601 UTC. */
  date: string;
  kind: string;
  /** Minor units of `currency` (points, if the account is a points account). */
  amount: number;
  currency: string;
  /** The account's balance after this entry, in ledger order. */
  balance: number;
  operator: string;
  reason: string;
  cause: string;
}

export interface PrepaidQuery {
  account: string;
  from?: number;
  to?: number;
}

/** The account's currency, from the programme that keeps it ("" for a points account). */
function currencyOf(store: Store, account: string): string {
  const p = listProgrammes(store).find((x) => (x.programme as Programme).account === account)?.programme as Programme | undefined;
  return p && p.unit === "money" ? p.currency : "";
}

/**
 * The account's entries in `[from, to]` (epoch ms, both optional), merged-in history
 * included. The balance column sums every entry before as well, so it matches the ledger.
 */
export function prepaidHistory(store: Store, customerId: string, q: PrepaidQuery): { customerId: string; rows: PrepaidRow[] } {
  store.env.resetReadTxn();
  const c = findCustomer({ store }, { customerId });
  if (!c) throw new LoyaltyError("UNKNOWN_CUSTOMER", `no customer ${customerId}`, "customerId");
  const currency = currencyOf(store, q.account);
  const rows: PrepaidRow[] = [];
  let balance = 0;
  let scanned = 0;
  for (const e of historyOf({ store }, c)) {
    // An export is whole or refused: a cut-off history would read as a complete one.
    if (++scanned > limits.statementScanMax) throw new LoyaltyError("LIMIT_EXCEEDED", `the customer has more than ${limits.statementScanMax} entries to read`, "customerId");
    if (e.account !== q.account) continue;
    balance += e.amount;
    if ((q.from !== undefined && e.at < q.from) || (q.to !== undefined && e.at > q.to) || e.amount === 0) continue;
    rows.push({
      customerId: e.customerId, seq: e.seq, at: e.at, date: new Date(e.at).toISOString(), kind: e.kind, amount: e.amount,
      currency, balance, operator: e.operator ?? "", reason: e.reason ?? "", cause: e.cause,
    });
  }
  return { customerId: c.id, rows };
}

const queryNumber = z.string().regex(/^\d{1,16}$/, "must be epoch ms").transform(Number);
const prepaidQuerySchema = z
  .object({ account: id.default("prepaid"), from: queryNumber.optional(), to: queryNumber.optional(), bom: z.enum(["0", "1", "true", "false"]).optional() })
  .strict();

/** `?account=&from=&to=&bom=` of the export route. */
export function parsePrepaidQuery(query: unknown): PrepaidQuery & { bom: boolean } {
  const q = parseAdminBody(prepaidQuerySchema, query ?? {}, "query");
  return { account: q.account, ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}), bom: q.bom === "1" || q.bom === "true" };
}

export function prepaidCsv(rows: PrepaidRow[], bom = false): Readable {
  const csv = stringify({ header: true, columns: [...PREPAID_CSV_COLUMNS], bom });
  Readable.from(rows).pipe(csv);
  return csv;
}
