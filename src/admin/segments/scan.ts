// Segment scans, run on a worker thread (segments/worker.ts) inside one read transaction,
// so a scan of a million customers never holds up the main thread or a writer: a query
// counts the members and returns a page, an export writes the members as CSV chunks.
import { stringify } from "csv-stringify/sync";
import type { Customer, Store } from "../../ledger/store.js";
import { consentsOf } from "../../ledger/consents.js";
import { factsOf, type FactsSources } from "./facts.js";
import { compileFilter, type Filter } from "./filter.js";

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

/** Customers in id order, skipping the ones merged away or erased (they are no one's members). */
function* customers(store: Store, after: string | null): Generator<Customer> {
  for (const { value } of store.customers.getRange({ snapshot: true, ...(after ? { start: after, exclusiveStart: true } : {}) })) {
    const c = value as Customer & { mergedInto?: string; erasedAt?: number };
    if (c.mergedInto || c.erasedAt) continue;
    yield c;
  }
}

export function querySegment(store: Store, input: QueryInput, sources: FactsSources): QueryResult {
  const match = compileFilter(input.filter, input.now);
  let count = 0;
  const page: Member[] = [];
  let next: string | null = null;
  const cursor = input.cursor;
  for (const c of customers(store, null)) {
    if (!match(factsOf(store, c, sources))) continue;
    count++;
    if (cursor !== null && c.id <= cursor) continue;
    if (page.length < input.limit) page.push(memberOf(store, c));
    else next ??= page[page.length - 1]!.customerId;
  }
  return { count, customers: page, next };
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

/**
 * The members who consented to the channel, as CSV text in chunks of rowsPerChunk rows
 * (the header row first); `emit` may wait (backpressure) before the next chunk is made.
 */
export async function exportSegment(store: Store, input: ExportInput, sources: FactsSources, emit: (chunk: string) => Promise<void>): Promise<number> {
  const match = compileFilter(input.filter, input.now);
  let rows: (string | number)[][] = [];
  let total = 0;
  await emit((input.bom ? "\ufeff" : "") + stringify([EXPORT_COLUMNS as unknown as string[]]));
  for (const c of customers(store, null)) {
    if (!consentsOf(c)[input.consent]) continue;
    if (!match(factsOf(store, c, sources))) continue;
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
