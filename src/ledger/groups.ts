// Dated group membership: a customer's group changes each take effect from a calendar
// date, so that a sale or a sales report is scored with the groups in force on its own
// date. `Customer.groups` stays what the changes come to today (what everything else reads).
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import type { Customer, GroupChange } from "./store.js";

/** The date the groups a customer had before its first dated change start from: always. */
export const SINCE_ALWAYS = "0000-01-01";

export interface GroupsChange {
  add?: string[] | undefined;
  remove?: string[] | undefined;
  from?: string | undefined;
}

/** The groups `changes` come to on `date`, in the order they were first joined. */
export function groupsIn(changes: readonly GroupChange[], date: string): string[] {
  const groups: string[] = [];
  for (const ch of changes) {
    if (ch.from > date) break;
    const at = groups.indexOf(ch.group);
    if (ch.in && at < 0) groups.push(ch.group);
    else if (!ch.in && at >= 0) groups.splice(at, 1);
  }
  return groups;
}

/** The customer's groups on `date` (without dated changes: its groups, whatever the date). */
export function groupsOn(c: Pick<Customer, "groups" | "groupChanges">, date: string): string[] {
  return c.groupChanges ? groupsIn(c.groupChanges, date) : c.groups;
}

/**
 * The change appended to the customer's dated changes (its current groups are its history
 * before the first one), kept in order of their first day; a change from a day after
 * `today` is refused (a future day would leave `groups` stale when it comes).
 */
export function datedGroups(c: Pick<Customer, "groups" | "groupChanges">, change: GroupsChange, today: string): { groups: string[]; groupChanges: GroupChange[] } {
  const from = change.from ?? today;
  if (from > today) throw new LoyaltyError("VALIDATION", `groups.from ${from} is after today (${today}); a change takes effect from today or an earlier day`, "groups.from");
  const changes = c.groupChanges ? [...c.groupChanges] : c.groups.map((group) => ({ from: SINCE_ALWAYS, group, in: true }));
  const added = [...(change.remove ?? []).map((group) => ({ from, group, in: false })), ...(change.add ?? []).map((group) => ({ from, group, in: true }))];
  // After every change of the same day or earlier: a later day's change still wins from its day.
  let at = changes.length;
  while (at > 0 && changes[at - 1]!.from > from) at--;
  changes.splice(at, 0, ...added);
  if (changes.length > limits.groupChangesMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `a customer keeps at most ${limits.groupChangesMax} dated group changes; this would make ${changes.length}`, "groups");
  }
  const groups = groupsIn(changes, today);
  if (groups.length > limits.customerGroupsMax) {
    throw new LoyaltyError("LIMIT_EXCEEDED", `a customer may be in at most ${limits.customerGroupsMax} groups; this would make ${groups.length}`, "groups.add");
  }
  return { groups, groupChanges: changes };
}
