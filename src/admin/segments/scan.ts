// Segment scans, run on worker threads (segments/worker.ts), each inside one read
// transaction, so a scan of a million customers never holds up the main thread or a
// writer: a query counts the members and returns a page, an export writes the members as
// CSV chunks. A scan covers one key range (segments/split.ts): a job splits the customers
// between threads, and puts their parts back together in id order.
import { stringify } from "csv-stringify/sync";
import type { Customer, Store } from "../../ledger/store.js";
import { consentGiven } from "../../ledger/consents.js";
import { factsReader, type FactsSources } from "./facts.js";
import { compileFilter, type Filter } from "./filter.js";
import type { KeyRange } from "./split.js";

export interface QueryInput {
  filter: Filter;
  limit: number;
  /** The last customerId of the previous page: this page starts after it. */
  cursor: string | null;
  now: number;
}

export interface Member {
  customerId: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  groups: readonly string[];
  balance: number;
}

export interface QueryResult {
  count: number;
  customers: Member[];
  /** The cursor of the next page, or null on the last. */
  next: string | null;
}

type Profile = Record<string, unknown> & { name?: string; firstName?: string; lastName?: string; email?: string; phone?: string };

function nameOf(p: Profile): string | null {
  if (p.name) return p.name;
  const full = [p.firstName, p.lastName].filter(Boolean).join(" ");
  return full || null;
}

function memberOf(store: Store, c: Customer): Member {
  const p = c.profile as Profile;
  return {
    customerId: c.id,
    name: nameOf(p),
    email: p.email ?? null,
    phone: p.phone ?? null,
    groups: c.groups,
    balance: store.wallets.get(c.id)?.accounts.points?.balance ?? 0,
  };
}

/** Customers of the range in id order, skipping the ones merged away or erased (they are no one's members). */
function* customers(store: Store, range: KeyRange): Generator<Customer> {
  const bounds = { ...(range.start !== undefined ? { start: range.start } : {}), ...(range.end !== undefined ? { end: range.end } : {}) };
  for (const { value } of store.customers.getRange({ snapshot: true, ...bounds })) {
    const c = value as Customer & { mergedInto?: string; erasedAt?: number };
    if (c.mergedInto || c.erasedAt) continue;
    yield c;
  }
}

/** One range's part of a query: its members' count, the first `limit` after the cursor, and whether more follow. */
export interface QueryPart {
  count: number;
  customers: Member[];
  more: boolean;
}

export function queryPart(store: Store, input: QueryInput, sources: FactsSources, range: KeyRange = {}): QueryPart {
  const match = compileFilter(input.filter, input.now);
  const facts = factsReader(store, sources);
  let count = 0;
  const page: Member[] = [];
  let more = false;
  const cursor = input.cursor;
  for (const c of customers(store, range)) {
    if (!match(facts(c))) continue;
    count++;
    if (cursor !== null && c.id <= cursor) continue;
    if (page.length < input.limit) page.push(memberOf(store, c));
    else more = true;
  }
  return { count, customers: page, more };
}

/** The parts of consecutive ranges (in key order) as one answer: counts add up, the page is the first `limit` members. */
export function joinQueryParts(parts: readonly QueryPart[], limit: number): QueryResult {
  const all = parts.flatMap((p) => p.customers);
  const customers = all.slice(0, limit);
  const more = all.length > limit || parts.some((p) => p.more);
  return { count: parts.reduce((n, p) => n + p.count, 0), customers, next: more && customers.length > 0 ? customers.at(-1)!.customerId : null };
}

export function querySegment(store: Store, input: QueryInput, sources: FactsSources): QueryResult {
  return joinQueryParts([queryPart(store, input, sources)], input.limit);
}

export type Channel = "email" | "sms" | "post";

/** The columns a mailing, SMS or print tool needs; `customerId` first. */
export const EXPORT_COLUMNS = [
  "customerId", "name", "firstName", "lastName", "email", "phone", "language",
  "line1", "line2", "postcode", "city", "country", "birthday", "groups", "balance",
] as const;

function rowOf(store: Store, c: Customer): (string | number)[] {
  const p = c.profile as Profile & { language?: string; birthday?: string; address?: Record<string, string | undefined> };
  const a = p.address ?? {};
  return [
    c.id, nameOf(p) ?? "", p.firstName ?? "", p.lastName ?? "", p.email ?? "", p.phone ?? "", p.language ?? "",
    a.line1 ?? "", a.line2 ?? "", a.postcode ?? "", a.city ?? "", a.country ?? "", p.birthday ?? "", c.groups.join(";"),
    store.wallets.get(c.id)?.accounts.points?.balance ?? 0,
  ];
}

export interface ExportInput {
  filter: Filter;
  consent: Channel;
  now: number;
  /** A UTF-8 byte order mark first, for spreadsheets that need it to read UTF-8. */
  bom: boolean;
  rowsPerChunk: number;
}

/** Which customers one thread of an export writes, and whether it writes the header (the first range's does). */
export interface ExportPart {
  range: KeyRange;
  header: boolean;
}

/**
 * The members who consented to the channel, as CSV text in chunks of rowsPerChunk rows
 * (the header row first); `emit` may wait (backpressure) before the next chunk is made.
 */
export async function exportSegment(
  store: Store,
  input: ExportInput,
  sources: FactsSources,
  emit: (chunk: string) => Promise<void>,
  part: ExportPart = { range: {}, header: true },
): Promise<number> {
  const match = compileFilter(input.filter, input.now);
  const facts = factsReader(store, sources);
  let rows: (string | number)[][] = [];
  let total = 0;
  if (part.header) await emit((input.bom ? "\ufeff" : "") + stringify([EXPORT_COLUMNS as unknown as string[]]));
  for (const c of customers(store, part.range)) {
    if (!consentGiven(c, input.consent)) continue;
    if (!match(facts(c))) continue;
    rows.push(rowOf(store, c));
    if (rows.length >= input.rowsPerChunk) {
      total += rows.length;
      await emit(stringify(rows));
      rows = [];
    }
  }
  if (rows.length) {
    total += rows.length;
    await emit(stringify(rows));
  }
  return total;
}
