// Operators' reads of one customer on the admin API: the terminal verbs that only read
// (customer, balance, statement, vouchers, quote), role read. The operator console uses
// them, so it works where the terminal routes refuse an operator token (terminalAuth on)
// or are not served (the admin listener of admin.port). Same handler, same replies.
import type { z } from "zod";
import { VERB_SCHEMAS } from "../../codec/schema.js";
import type { AdminDeps, Route } from "./admin-routes.js";

const LOOKUPS = {
  customer: "One customer's profile, consents, groups, cards, tier and purchase figures (the customer verb)",
  balance: "A customer's balances, holds and expiring points (the balance verb)",
  statement: "A customer's ledger entries with their causes (the statement verb)",
  vouchers: "A customer's vouchers (the vouchers verb)",
  quote: "What a basket would earn under the installed programmes; nothing is recorded (the quote verb)",
} as const;

export type LookupVerb = keyof typeof LOOKUPS;

export function lookupRoutes({ handler }: AdminDeps): Route[] {
  return (Object.keys(LOOKUPS) as LookupVerb[]).map((verb) => ({
    method: "POST",
    url: `/v1/admin/lookup/${verb}`,
    role: "read",
    summary: LOOKUPS[verb],
    body: VERB_SCHEMAS[verb] as z.ZodType,
    run: async (c) => handler.handleValue("http", verb, c.json()),
  }));
}
