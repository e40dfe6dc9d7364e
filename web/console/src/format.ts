// Numbers and dates as the operator reads them (the browser's locale; times in its time zone).

const numberFormat = new Intl.NumberFormat(undefined);
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export const num = (n: number | null | undefined): string => (typeof n === "number" ? numberFormat.format(n) : "–");
export const when = (ms: number | null | undefined): string => (typeof ms === "number" ? dateTimeFormat.format(ms) : "–");
export const day = (ms: number | null | undefined): string => (typeof ms === "number" ? dateFormat.format(ms) : "–");
/** Seconds -> "12.3 ms". */
export const millis = (s: number | null): string => (s === null ? "–" : `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`);
