// Birthdays: an index ["MM-DD", customerId] kept wherever a birthday is set, so that the
// sweeper reads a few days' key ranges instead of every customer; its value is the last
// local year notified (so each customer gets one `birthday` notification a year), with the
// customer's own time zone (profile.timeZone) when it has one: the greeting goes out on
// the customer's local date, from the local hour notify.birthdayHour on.
import { zoneOffsetMs } from "../rules/time.js";
import { limits } from "../limits.js";
import { notificationId, notifyCustomer } from "./notifications.js";
import type { BirthdayMark, Store } from "./store.js";
import { DAY_MS, type Reply, type Tx } from "./tx.js";

/** The last local year notified of an index entry. */
export function markYear(m: BirthdayMark): number {
  return typeof m === "number" ? m : m[0];
}

/** The entry's time zone: the customer's own, else the deployment's (`fallback`). */
export function markZone(m: BirthdayMark, fallback: string): string {
  return typeof m === "number" ? fallback : m[1];
}

/** A plain year for a customer without a time zone of its own: what every entry was before zones. */
function markOf(year: number, zone: string | null): BirthdayMark {
  return zone === null ? year : [year, zone];
}

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
 * Keeps the index in step with a customer's birthday and time zone: call it in the
 * transaction that sets, changes or clears `profile.birthday` or `profile.timeZone`
 * (enroll, updateCustomer, erase, merge). The year last notified moves with the entry: a
 * changed birthday is not a second one. `zone`: the customer's own time zone (null: none,
 * the deployment's applies; left out: as the entry has it).
 */
export function indexBirthday(tx: Tx, customerId: string, oldBirthday: string | null | undefined, newBirthday: string | null | undefined, zone?: string | null): void {
  const from = birthdayKey(oldBirthday);
  const to = birthdayKey(newBirthday);
  const { birthdays } = tx.store;
  const old = from === null ? undefined : birthdays.get([from, customerId]);
  const year = old === undefined ? 0 : markYear(old);
  const keptZone = zone !== undefined ? zone : old === undefined || typeof old === "number" ? null : old[1];
  if (from !== null && from !== to && old !== undefined) birthdays.remove([from, customerId]);
  if (to === null) return;
  const mark = markOf(year, keptZone);
  if (from !== to || old === undefined || JSON.stringify(old) !== JSON.stringify(mark)) birthdays.put([to, customerId], mark);
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
  if (last === undefined || markYear(last) >= year) return { ok: true, customerId, notified: false };
  const c = customers.get(customerId);
  const birthday = c?.profile.birthday;
  if (!c || birthdayKey(birthday) !== day) {
    birthdays.remove([day, customerId]);
    return { ok: true, customerId, notified: false };
  }
  birthdays.put([day, customerId], typeof last === "number" ? year : [year, last[1]]);
  const born = /^\d{4}-/.test(birthday!) ? Number(birthday!.slice(0, 4)) : null;
  notifyCustomer(tx, "birthday", notificationId.birthday(customerId, year), customerId, c, {
    birthday,
    year,
    age: born === null ? null : year - born,
    at: tx.now,
  });
  return { ok: true, customerId, notified: true };
}

/** A birthday the sweeper hands to the customer's partition (sweepBirthday's input). */
export interface BirthdayDue {
  customerId: string;
  day: string;
  /** The customer's local year. */
  year: number;
}

/**
 * The customers whose local date (their own time zone, else `zone`) is their birthday at
 * `now`, from the local hour `fromHour` on, and who have not had this local year's: read
 * from the index days of yesterday, today and tomorrow (UTC), which hold every zone's
 * today. At most limits.birthdayScanMax entries read and `max` returned per call.
 */
export function birthdaysDue(store: Store, now: number, zone: string, fromHour: number, max: number): BirthdayDue[] {
  const today = new Map<string, { date: LocalDate; days: string[] }>();
  const localOf = (z: string) => {
    let t = today.get(z);
    if (!t) {
      const date = localDate(z, now);
      today.set(z, (t = { date, days: birthdayDaysOn(date) }));
    }
    return t;
  };
  const days = new Set([-1, 0, 1].flatMap((d) => birthdayDaysOn(localDate("UTC", now + d * DAY_MS))));
  const due: BirthdayDue[] = [];
  let read = 0;
  for (const day of days) {
    for (const { key, value } of store.birthdays.getRange({ start: [day, ""], end: [day, "\uffff"] })) {
      if (++read > limits.birthdayScanMax || due.length >= max) return due;
      const { date, days: theirs } = localOf(markZone(value, zone));
      if (date.hour < fromHour || !theirs.includes(day) || markYear(value) >= date.year) continue;
      due.push({ customerId: key[1], day, year: date.year });
    }
  }
  return due;
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
          store.birthdays.put([day, key], markOf(0, value.profile.timeZone ?? null));
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
