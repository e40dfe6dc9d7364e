// Programmes scoped to saved segments (`scope.segments`): which of them a customer is a
// member of at the event's time, evaluated from the customer's record in the sale's own
// transaction (no index to keep current, no scan: a filter over one customer's facts).
import { factsOf } from "../admin/segments/facts.js";
import { compileFilter } from "../admin/segments/filter.js";
import { factsSources } from "../admin/segments/sources.js";
import type { Customer, Store } from "./store.js";

/** The segments among `ids` the customer is a member of at `at`; an unknown or deleted segment has no members. */
export function segmentsOf(store: Store, c: Customer, ids: readonly string[], at: number): ReadonlySet<string> {
  const member = new Set<string>();
  const facts = factsOf(store, c, factsSources);
  for (const id of ids) {
    const segment = store.segments.get(id);
    if (segment && compileFilter(segment.filter, at)(facts)) member.add(id);
  }
  return member;
}
