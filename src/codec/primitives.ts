// The wire's building blocks (ids, money, times, customer references), shared by the
// verbs' schemas in schema.ts and the distributors' in b2b.ts.
import { z } from "zod";
import { LIMIT_PARAM } from "../errors.js";
import { limits } from "../limits.js";

// Printable: no control, format, private-use or unassigned code points; length in code points.
// "__proto__" is refused: it cannot round-trip through plain objects and storage.
export const id = z.string().regex(/^(?!__proto__$)[^\p{C}]{1,128}$/u, "must be 1-128 printable characters (and not __proto__)");

/** A schema issue at a business bound: validationError answers it with LIMIT_EXCEEDED, naming the field. */
export function limitIssue(max: number, message: string): { params: Record<string, number>; message: string } {
  return { params: { [LIMIT_PARAM]: max }, message };
}

export const grouped = (n: number): string => n.toLocaleString("en");

// The bound is checked before integrality, so 1e20 is a business limit, not "not a safe integer".
export function upTo(max: number, unit: string): z.ZodNumber {
  return z.number().refine((n) => n <= max, limitIssue(max, `must be at most ${grouped(max)} ${unit}`));
}
/** Money in minor units, 0 to a business bound. */
export const minorUnitsUpTo = (max: number): z.ZodNumber => upTo(max, "minor units").int().min(0);
export const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);
export const currency = z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR");
export const phone = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +48601234567");
export const qty = z.number().positive().max(1_000_000).multipleOf(0.001, "at most 3 decimals");

export const customerRef = z.union([
  z.object({ customerId: id }).strict(),
  z.object({ card: id }).strict(),
  z.object({ phone }).strict(),
  /** A retailer-assigned loyalty id (set at enroll or by updateCustomer). */
  z.object({ loyaltyId: id }).strict(),
]);
export type CustomerRef = z.infer<typeof customerRef>;

/** A record with at most `max` keys (a business bound: LIMIT_EXCEEDED). */
export function atMostKeys<T extends z.ZodType>(record: T, max: number, what: string) {
  return record.refine((r) => Object.keys(r as object).length <= max, limitIssue(max, `at most ${max} ${what}`));
}
export function atMostItems<T extends z.ZodType>(item: T, max: number, what: string) {
  return z.array(item).refine((a) => a.length <= max, limitIssue(max, `at most ${max} ${what}`));
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** "YYYY-MM-DD" (a real calendar date) or "MM-DD" (a birthday without the year; 02-29 allowed). */
export function isBirthday(s: string): boolean {
  const m = /^(?:(\d{4})-)?(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return false;
  if (m[1] === undefined || month !== 2 || day < 29) return true;
  const year = Number(m[1]);
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** A calendar date "YYYY-MM-DD" (an invoice's date, the first day of a group membership). */
export const calendarDate = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && isBirthday(s), 'must be a calendar date "YYYY-MM-DD"');

export const address = z
  .object({
    line1: z.string().max(200).optional(),
    line2: z.string().max(200).optional(),
    postcode: z.string().max(20).optional(),
    city: z.string().max(100).optional(),
    /** ISO 3166-1 alpha-2. */
    country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code such as PL").optional(),
  })
  .strict();

/** A customer attribute's value (enroll, updateCustomer) and what a programme's scope.attributes compares it with. */
export const attributeValue = z.union([z.string().max(limits.attributeValueLengthMax), z.number(), z.boolean()]);
