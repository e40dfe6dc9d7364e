// Operators' reads of one customer on the admin API: the terminal verbs that only read
// (customer, balance, statement, vouchers, quote), role read. The operator console uses
// them, so it works where the terminal routes refuse an operator token (terminalAuth on)
// or are not served (the admin listener of admin.port). Same handler, same replies.
import type { z } from "zod";
import { customersByEmail } from "../../admin/customer-search.js";
import { VERB_SCHEMAS } from "../../codec/schema.js";
import { LoyaltyError } from "../../errors.js";
import { limits } from "../../limits.js";
import type { AdminDeps, Route } from "./admin-routes.js";
import { listLimit } from "./reply.js";

const LOOKUPS = {
  customer: "One customer's profile, consents, groups, cards, tier and purchase figures (the customer verb)",
  balance: "A customer's balances, holds and expiring points (the balance verb)",
  statement: "A customer's ledger entries with their causes (the statement verb)",
  vouchers: "A customer's vouchers (the vouchers verb)",
  quote: "What a basket would earn under the installed programmes; nothing is recorded (the quote verb)",
} as const;

export type LookupVerb = keyof typeof LOOKUPS;

export function lookupRoutes({ handler, store }: AdminDeps): Route[] {
  const verbs = (Object.keys(LOOKUPS) as LookupVerb[]).map((verb): Route => ({
    method: "POST",
    url: `/v1/admin/lookup/${verb}`,
    role: "read",
    summary: LOOKUPS[verb],
    body: VERB_SCHEMAS[verb] as z.ZodType,
    run: async (c) => handler.handleValue("http", verb, c.json()),
  }));
  const byEmail: Route = {
    method: "GET", url: "/v1/admin/customers/by-email", role: "read", summary: "The customers with an e-mail address (case ignored; several may share one)",
    query: { email: "the address (required)", limit: `at most this many (1-${limits.adminListMax}, default 1000)` },
    run: async (c) => {
      const q = c.req.query as { email?: string; limit?: string };
      const email = q.email?.trim() ?? "";
      if (email === "" || email.length > 254) throw new LoyaltyError("VALIDATION", "email must be 1-254 characters", "email");
      return { ok: true, customers: customersByEmail(store, email, listLimit(q)) };
    },
  };
  return [...verbs, byEmail];
}
