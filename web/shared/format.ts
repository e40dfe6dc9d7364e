// Numbers and dates as a person reads them (the browser's locale; times in its time zone).
// Shared by the console and the portal.

const numberFormat = new Intl.NumberFormat(undefined);
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export const num = (n: number | null | undefined): string => (typeof n === "number" ? numberFormat.format(n) : "–");
export const when = (ms: number | null | undefined): string => (typeof ms === "number" ? dateTimeFormat.format(ms) : "–");
export const day = (ms: number | null | undefined): string => (typeof ms === "number" ? dateFormat.format(ms) : "–");
/** Seconds -> "12.3 ms". */
export const millis = (s: number | null): string => (s === null ? "–" : `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`);

/** Minor units of a currency -> "123.45 PLN" in the browser's locale (the currency's own decimals). */
export function money(minor: number | null | undefined, currency: string): string {
  if (typeof minor !== "number") return "–";
  try {
    const f = new Intl.NumberFormat(undefined, { style: "currency", currency });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return f.format(minor / 10 ** digits);
  } catch {
    return `${numberFormat.format(minor)} ${currency}`;
  }
}

const twoDecimals = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** Minor units of an unnamed currency, read as hundredths ("20" -> "0.20"): the balance reply names no currency for a money account. */
export const hundredths = (minor: number): string => twoDecimals.format(minor / 100);
