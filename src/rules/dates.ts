// Calendar dates ("YYYY-MM-DD") against instants, in a time zone: an invoice's date, the
// first day of a group membership, "today" for a report's date window. Pure.
import { zoneOffsetMs } from "./time.js";

const DAY_MS = 86_400_000;

/** The local calendar date in `zone` at instant `at`. */
export function localDate(zone: string, at: number): string {
  return new Date(at + zoneOffsetMs(zone, at)).toISOString().slice(0, 10);
}

/** The first instant of local date `date` in `zone` (two fixed-point steps, as across a DST switch). */
export function startOfLocalDate(zone: string, date: string): number {
  const midnight = Date.parse(`${date}T00:00:00Z`);
  const t = midnight - zoneOffsetMs(zone, midnight);
  return midnight - zoneOffsetMs(zone, t);
}

/** `date` moved by `days` (negative: earlier). */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}
