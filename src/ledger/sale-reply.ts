// A sale's first reply as the events table keeps it (format 4): figures, not the reply.
// The reply repeats what the record already holds (the event id is the record's key, the
// customer, the programmes and versions and the line ids are in the packed sale), so the
// record keeps only its numbers and short names and a duplicate's reply is rebuilt from
// them, key for key and value for value. A reply of any other shape is kept whole.
import type { PackedSale } from "./records.js";

type Reply = Record<string, unknown>;

/**
 * [earned, balance, available, accounts, breakdown]:
 * - accounts: [account, earned, balance, available] per account, flattened, in the reply's order;
 * - breakdown: per item [programme index in the sale's `pg`, ruleIndex (-1: none), amount,
 *   rule, line indices in the sale's `li` (null: the item has no `lines`)].
 */
export type SaleFigures = [number, number, number, (string | number)[], [number, number, number, string, number[] | null][]];

const REPLY_KEYS = ["ok", "type", "eventId", "customerId", "earned", "balance", "available", "accounts", "breakdown", "duplicate"];
const ACCOUNT_KEYS = ["account", "earned", "balance", "available"];
const ITEM_KEYS = ["programme", "version", "rule", "ruleIndex", "amount"];
const ITEM_LINES_KEYS = [...ITEM_KEYS, "lines"];
const CAP_KEYS = ["programme", "version", "rule", "amount"];

/** Whether `o` has exactly these own keys, in this order. */
function keysAre(o: unknown, keys: readonly string[]): o is Reply {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return false;
  let i = 0;
  for (const k in o) if (!Object.hasOwn(o, k) || keys[i++] !== k) return false;
  return i === keys.length;
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && !Object.is(v, -0);

/** The figures of a sale's first reply, or null when the reply is not of the shape they rebuild exactly (keep it whole). */
export function saleFigures(eventId: string, reply: Reply, sale: PackedSale): SaleFigures | null {
  if (!keysAre(reply, REPLY_KEYS)) return null;
  if (reply.ok !== true || reply.type !== "sale" || reply.eventId !== eventId || reply.customerId !== sale.customerId || reply.duplicate !== false) return null;
  const { earned, balance, available, accounts, breakdown } = reply;
  if (!isInt(earned) || !isInt(balance) || !isInt(available) || !Array.isArray(accounts) || !Array.isArray(breakdown)) return null;
  const flat: (string | number)[] = [];
  for (const a of accounts) {
    if (!keysAre(a, ACCOUNT_KEYS) || typeof a.account !== "string" || !isInt(a.earned) || !isInt(a.balance) || !isInt(a.available)) return null;
    flat.push(a.account, a.earned, a.balance, a.available);
  }
  const items: SaleFigures[4] = [];
  for (const b of breakdown) {
    const hasLines = keysAre(b, ITEM_LINES_KEYS);
    const withIndex = hasLines || keysAre(b, ITEM_KEYS);
    if (!withIndex && !keysAre(b, CAP_KEYS)) return null;
    const item = b as Reply;
    if (typeof item.rule !== "string" || !isInt(item.amount) || (withIndex && (!isInt(item.ruleIndex) || (item.ruleIndex as number) < 0))) return null;
    const g = sale.pg.findIndex(([programme, version]) => programme === item.programme && version === item.version);
    if (g < 0) return null;
    let lines: number[] | null = null;
    if (hasLines) {
      if (!Array.isArray(item.lines)) return null;
      lines = [];
      for (const id of item.lines) {
        const at = sale.li.indexOf(id as string);
        if (at < 0) return null;
        lines.push(at);
      }
    }
    items.push([g, withIndex ? (item.ruleIndex as number) : -1, item.amount as number, item.rule, lines]);
  }
  return [earned, balance, available, flat, items];
}

/** The first reply the figures stand for, as it was sent. */
export function saleReply(eventId: string, f: SaleFigures, sale: PackedSale): Reply {
  const [earned, balance, available, flat, items] = f;
  const accounts: Reply[] = [];
  for (let i = 0; i < flat.length; i += 4) accounts.push({ account: flat[i], earned: flat[i + 1], balance: flat[i + 2], available: flat[i + 3] });
  const breakdown = items.map(([g, ruleIndex, amount, rule, lines]): Reply => {
    const [programme, version] = sale.pg[g]!;
    if (ruleIndex < 0) return { programme, version, rule, amount };
    const item: Reply = { programme, version, rule, ruleIndex, amount };
    if (lines) item.lines = lines.map((i) => sale.li[i]);
    return item;
  });
  return { ok: true, type: "sale", eventId, customerId: sale.customerId, earned, balance, available, accounts, breakdown, duplicate: false };
}
