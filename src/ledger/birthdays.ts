// Birthdays: an index ["MM-DD", customerId] kept wherever a birthday is set, so that the
// daily sweeper reads one day's key range instead of every customer; its value is the
// last local year notified, so each customer gets one `birthday` notification a year.
import { zoneOffsetMs } from "../rules/time.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import type { Store } from "./store.js";
import type { Reply, Tx } from "./tx.js";

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** "YYYY-MM-DD" or "MM-DD" -> its index day "MM-DD"; null when it names no calendar day. */
export function birthdayKey(birthday: string | null | undefined): string | null {
  if (typeof birthday !== "string") return null;
  const m = /^(?:\d{4}-)?(\d{2})-(\d{2})$/.exec(birthday);
  if (!m) return null;
  const month = Number(m[1]);
  const day = Number(m[2]);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return null;
  return `${m[1]}-${m[2]}`;
}

/**
 * Keeps the index in step with a customer's birthday: call it in the transaction that
 * sets, changes or clears `profile.birthday` (enroll, updateCustomer, erase, merge). The
 * year last notified moves with the entry: a changed birthday is not a second one.
 */
export function indexBirthday(tx: Tx, customerId: string, oldBirthday: string | null | undefined, newBirthday: string | null | undefined): void {
  const from = birthdayKey(oldBirthday);
  const to = birthdayKey(newBirthday);
  const { birthdays } = tx.store;
  const year = from === null ? undefined : birthdays.get([from, customerId]);
  if (from === to) {
    if (to !== null && year === undefined) birthdays.put([to, customerId], 0);
    return;
  }
  if (from !== null) birthdays.remove([from, customerId]);
  if (to !== null) birthdays.put([to, customerId], year ?? 0);
}

export interface LocalDate {
  year: number;
  month: number;
  day: number;
  hour: number;
}

/** The calendar date and hour at `at` in an IANA time zone. */
export function localDate(zone: string, at: number): LocalDate {
  const d = new Date(at + zoneOffsetMs(zone, at));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** The index days whose birthdays fall on `date`: 29 February is celebrated on the 28th outside leap years. */
export function birthdayDaysOn(date: LocalDate): string[] {
  const today = `${pad2(date.month)}-${pad2(date.day)}`;
  const leap = (date.year % 4 === 0 && date.year % 100 !== 0) || date.year % 400 === 0;
  return today === "02-28" && !leap ? [today, "02-29"] : [today];
}

/**
 * The birthday sweeper's command for one customer: one `birthday` notification per
 * local year, id `birthday:<customerId>:<year>`. An index entry whose customer no longer
 * has that birthday leaves the index. Idempotent.
 */
export function sweepBirthday(tx: Tx, input: { customerId: string; day: string; year: number }): Reply {
  const { customerId, day, year } = input;
  const { birthdays, customers } = tx.store;
  const last = birthdays.get([day, customerId]);
  if (last === undefined || last >= year) return { ok: true, customerId, notified: false };
  const c = customers.get(customerId);
  const birthday = c?.profile.birthday;
  if (!c || birthdayKey(birthday) !== day) {
    birthdays.remove([day, customerId]);
    return { ok: true, customerId, notified: false };
  }
  birthdays.put([day, customerId], year);
  const born = /^\d{4}-/.test(birthday!) ? Number(birthday!.slice(0, 4)) : null;
  notifyCustomer(tx, "birthday", notificationId.birthday(customerId, year), customerId, c, {
    birthday,
    year,
    age: born === null ? null : year - born,
    at: tx.now,
  });
  return { ok: true, customerId, notified: true };
}

/**
 * Indexes the birthdays of customers enrolled before the index existed, once per ledger
 * (meta `birthdaysIndexed`), in small write transactions; an entry already there (an
 * enrolment meanwhile) is kept as it is. Once `stopped()` says so it returns between two
 * transactions, and the next start begins again.
 */
export async function backfillBirthdays(store: Store, chunk: number, stopped: () => boolean = () => false): Promise<number> {
  if (store.meta.get("birthdaysIndexed") === 1) return 0;
  let after: string | null = null;
  let indexed = 0;
  while (!stopped()) {
    const done: boolean = await store.env.transaction(() => {
      let seen = 0;
      for (const { key, value } of store.customers.getRange(after === null ? { limit: chunk } : { start: after, limit: chunk + 1 })) {
        if (key === after) continue;
        seen++;
        after = key;
        const day = birthdayKey(value.profile.birthday);
        if (day !== null && store.birthdays.get([day, key]) === undefined) {
          store.birthdays.put([day, key], 0);
          indexed++;
        }
      }
      if (seen === 0) store.meta.put("birthdaysIndexed", 1);
      return seen === 0;
    });
    if (done) break;
  }
  return indexed;
}
