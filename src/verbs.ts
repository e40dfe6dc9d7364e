// Every verb, declared once: how its input is validated (the codec's schema of the same
// name), what makes it idempotent, how it finds its partition, where it is exposed and
// which ledger function applies it. Ingest, router, worker and ledger all read this table.
import type { PosEvent, SaleEvent, Verb, VerbInput } from "./codec/schema.js";
import { balance } from "./ledger/accounts.js";
import { sweepBirthday } from "./ledger/birthdays.js";
import { adjust, convert, convertEarned } from "./ledger/conversions.js";
import { card, enroll } from "./ledger/customers.js";
import { sweepExpiry } from "./ledger/expiry.js";
import { customer, updateCustomer } from "./ledger/profiles.js";
import { authorize, capture, expireHold, release } from "./ledger/holds.js";
import { eraseCustomer, mergeCustomers } from "./ledger/merge.js";
import { mergeInStep, mergeOutStep, mergeRelease, mergeReserve, type InInput, type OutInput, type ReleaseInput, type ReserveInput } from "./ledger/merge-steps.js";
import { redeemReward } from "./ledger/rewards.js";
import { approveReport, rejectReport, statementWithReports, submitReport } from "./ledger/reports.js";
import { accrue, quote, type Accrued } from "./ledger/sales.js";
import { targets } from "./ledger/targets.js";
import type { Reply, Tx } from "./ledger/tx.js";
import { buyVoucher, redeemVoucher, sweepVoucher, vouchers } from "./ledger/vouchers.js";

/**
 * Where the idempotency record lives: "event" (keyed by eventId, with the sale's record),
 * "request" (keyed by requestId), or null (reads and the sweepers' own commands).
 */
export type Idempotency = "event" | "request" | null;

/**
 * How the router finds the partition: "customer" (input.customer), "event" (a sale's
 * customer, or a return's original sale), "hold" (input.holdId's customer), "voucher"
 * (input.code's customer), "report" (input.reportId's customer), "enroll" (the new card, else loyalty id, else the request), "card" (input.customer
 * or input.card's owner), "merge" (input.into's, holding input.from's routing key there
 * until it commits), "internal" (the engine submits it to a known partition).
 */
export type Route = "customer" | "event" | "hold" | "voucher" | "report" | "enroll" | "card" | "merge" | "internal";

/** "terminal": NATS loyalty.rpc.<verb> and HTTP POST /v1/<verb>; "admin": the admin API only; "internal": the engine's sweepers. */
export type Exposure = "terminal" | "admin" | "internal";

interface Spec<I, R> {
  idempotency: Idempotency;
  route: Route;
  exposure: Exposure;
  apply(tx: Tx, input: I): R;
}

export const VERB_TABLE = {
  accrue: { idempotency: "event", route: "event", exposure: "terminal", apply: accrue } as Spec<PosEvent, Accrued>,
  quote: { idempotency: null, route: "customer", exposure: "terminal", apply: quote } as Spec<SaleEvent, Reply>,
  balance: { idempotency: null, route: "customer", exposure: "terminal", apply: balance } as Spec<VerbInput<"balance">, Reply>,
  enroll: { idempotency: "request", route: "enroll", exposure: "terminal", apply: enroll } as Spec<VerbInput<"enroll">, Reply>,
  customer: { idempotency: null, route: "customer", exposure: "terminal", apply: customer } as Spec<VerbInput<"customer">, Reply>,
  updateCustomer: { idempotency: "request", route: "customer", exposure: "terminal", apply: updateCustomer } as Spec<VerbInput<"updateCustomer">, Reply>,
  statement: { idempotency: null, route: "customer", exposure: "terminal", apply: statementWithReports } as Spec<VerbInput<"statement">, Reply>,
  authorize: { idempotency: "request", route: "customer", exposure: "terminal", apply: authorize } as Spec<VerbInput<"authorize">, Reply>,
  capture: { idempotency: "request", route: "hold", exposure: "terminal", apply: capture } as Spec<VerbInput<"capture">, Reply>,
  release: { idempotency: "request", route: "hold", exposure: "terminal", apply: release } as Spec<VerbInput<"release">, Reply>,
  convert: { idempotency: "request", route: "customer", exposure: "terminal", apply: convert } as Spec<VerbInput<"convert">, Reply>,
  redeemReward: { idempotency: "request", route: "customer", exposure: "terminal", apply: redeemReward } as Spec<VerbInput<"redeemReward">, Reply>,
  buyVoucher: { idempotency: "request", route: "customer", exposure: "terminal", apply: buyVoucher } as Spec<VerbInput<"buyVoucher">, Reply>,
  redeemVoucher: { idempotency: "request", route: "voucher", exposure: "terminal", apply: redeemVoucher } as Spec<VerbInput<"redeemVoucher">, Reply>,
  vouchers: { idempotency: null, route: "customer", exposure: "terminal", apply: vouchers } as Spec<VerbInput<"vouchers">, Reply>,
  adjust: { idempotency: "request", route: "customer", exposure: "admin", apply: adjust } as Spec<VerbInput<"adjust">, Reply>,
  card: { idempotency: "request", route: "card", exposure: "admin", apply: card } as Spec<VerbInput<"card">, Reply>,
  convertEarned: { idempotency: "request", route: "customer", exposure: "admin", apply: convertEarned } as Spec<VerbInput<"convertEarned">, Reply>,
  mergeCustomers: { idempotency: "request", route: "merge", exposure: "admin", apply: mergeCustomers } as Spec<VerbInput<"mergeCustomers">, Reply>,
  // No requestId (contract v1.1): erasing an erased customer answers duplicate: true.
  eraseCustomer: { idempotency: null, route: "customer", exposure: "admin", apply: eraseCustomer } as Spec<VerbInput<"eraseCustomer">, Reply>,
  // Distributors (docs/b2b.md): a report is submitted by a participant's user or an administrator
  // (POST /v1/admin/reports), approved or rejected by an operator. No requestId on the
  // decisions (contract v1.1): deciding a decided report again answers duplicate: true.
  submitReport: { idempotency: "request", route: "customer", exposure: "terminal", apply: submitReport } as Spec<VerbInput<"submitReport">, Reply>,
  targets: { idempotency: null, route: "customer", exposure: "terminal", apply: targets } as Spec<VerbInput<"targets">, Reply>,
  approveReport: { idempotency: null, route: "report", exposure: "admin", apply: approveReport } as Spec<VerbInput<"approveReport">, Reply>,
  rejectReport: { idempotency: null, route: "report", exposure: "admin", apply: rejectReport } as Spec<VerbInput<"rejectReport">, Reply>,
  expireHold: { idempotency: null, route: "internal", exposure: "internal", apply: expireHold } as Spec<{ holdId: string }, Reply>,
  sweepExpiry: { idempotency: null, route: "internal", exposure: "internal", apply: sweepExpiry } as Spec<{ customerId: string }, Reply>,
  sweepVoucher: { idempotency: null, route: "internal", exposure: "internal", apply: sweepVoucher } as Spec<{ code: string }, Reply>,
  sweepBirthday: { idempotency: null, route: "internal", exposure: "internal", apply: sweepBirthday } as Spec<{ customerId: string; day: string; year: number }, Reply>,
  // A merge across a cluster's partitions, step by step (ledger/merge-steps.ts, driven by cluster/merge.ts).
  mergeReserve: { idempotency: null, route: "internal", exposure: "internal", apply: mergeReserve } as Spec<ReserveInput, Reply>,
  mergeOut: { idempotency: "request", route: "internal", exposure: "internal", apply: mergeOutStep } as Spec<OutInput, Reply>,
  mergeIn: { idempotency: "request", route: "internal", exposure: "internal", apply: mergeInStep } as Spec<InInput, Reply>,
  mergeRelease: { idempotency: null, route: "internal", exposure: "internal", apply: mergeRelease } as Spec<ReleaseInput, Reply>,
} as const;

export type CommandVerb = keyof typeof VERB_TABLE;

export function isCommandVerb(verb: string): verb is CommandVerb {
  return Object.hasOwn(VERB_TABLE, verb);
}

/** A terminal verb without an idempotency record changes nothing (balance, statement, quote...). */
export function isReadVerb(verb: CommandVerb): boolean {
  const spec = VERB_TABLE[verb];
  return spec.idempotency === null && spec.exposure === "terminal";
}

/** Verbs a terminal reaches over NATS and HTTP, in table order. */
export const TERMINAL_VERBS = (Object.keys(VERB_TABLE) as CommandVerb[]).filter((v) => VERB_TABLE[v].exposure === "terminal");

/**
 * Which rate-limit bucket a terminal request draws from (config rateLimits.*): "lookup"
 * for verbs that resolve a card, phone or customer id (what an enumeration would probe),
 * "enrolment" for enroll (each may send an SMS), null for verbs that name only a hold.
 * A record over every verb: a new verb does not compile until it is given its class.
 */
export type RateClass = "lookup" | "enrolment" | null;
export const RATE_CLASS: Record<CommandVerb, RateClass> = {
  accrue: "lookup",
  quote: "lookup",
  balance: "lookup",
  enroll: "enrolment",
  customer: "lookup",
  updateCustomer: "lookup",
  statement: "lookup",
  authorize: "lookup",
  capture: null,
  release: null,
  convert: "lookup",
  redeemReward: "lookup",
  buyVoucher: "lookup",
  redeemVoucher: "lookup",
  vouchers: "lookup",
  adjust: null,
  card: null,
  convertEarned: null,
  mergeCustomers: null,
  eraseCustomer: null,
  submitReport: "lookup",
  targets: "lookup",
  approveReport: null,
  rejectReport: null,
  expireHold: null,
  sweepExpiry: null,
  sweepVoucher: null,
  sweepBirthday: null,
  mergeReserve: null,
  mergeOut: null,
  mergeIn: null,
  mergeRelease: null,
};

// Every wire verb has its row: a schema without one fails to compile here.
const everyWireVerb: Record<Verb, unknown> = VERB_TABLE;
void everyWireVerb;
