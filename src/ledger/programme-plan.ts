// The rule engine's plan for what a ledger holds: every installed programme at its version,
// and the product card, compiled with the engine's options. A draft (the console's preview)
// stands in for the installed programme of its id, or joins them when there is none.
import { compile, type Plan } from "../rules/compile.js";
import { parseProgramme, type Programme } from "../rules/programme.js";
import type { Store } from "./store.js";
import type { LedgerOptions } from "./tx.js";

export function planOf(store: Store, options: Pick<LedgerOptions, "selection" | "timeZone">, draft?: { programme: Programme; version: number }): Plan {
  const list: { programme: Programme; version: number }[] = [];
  for (const { key, value } of store.programmes.getRange()) {
    if (draft && key === draft.programme.id) continue;
    list.push({ programme: parseProgramme(value.programme), version: value.version });
  }
  if (draft) list.push(draft);
  const card = new Map<string, { pointsPerUnit?: number; pointsPrice?: number }>();
  for (const { key, value } of store.products.getRange()) card.set(key, value);
  return compile(list, { selection: options.selection, timeZone: options.timeZone }, card);
}
