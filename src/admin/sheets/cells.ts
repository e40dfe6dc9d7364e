// Zod pieces for a spreadsheet row's cells. A CSV gives every cell as text and an XLSX
// gives numbers as numbers, so an import's schema reads both: "12" and 12 are the same
// integer, and a SKU typed as the number 12 is the text "12". An empty cell is absent.
import { z } from "zod";

const INTEGER_TEXT = /^[+-]?\d+$/;

/** A cell holding text: a number cell reads as its decimal form (a SKU typed as 12 is "12"). */
export function cellText<S extends z.ZodType>(inner: S) {
  return z.preprocess((v: unknown) => (typeof v === "number" ? String(v) : v), inner);
}

/**
 * A cell holding an integer: a number cell, or text of decimal digits with an optional
 * sign ("1 000" and "12.0" are refused: a thousands separator or a decimal point in an
 * integer column is a mistake to report, not to guess at).
 */
export function cellInt<S extends z.ZodType>(inner: S) {
  return z.preprocess((v: unknown) => (typeof v === "string" && INTEGER_TEXT.test(v) ? Number(v) : v), inner);
}

const TRUE = new Set(["true", "yes", "1", "y", "tak"]);
const FALSE = new Set(["false", "no", "0", "n", "nie"]);

/** A yes/no cell: true/false, yes/no, y/n, 1/0 (and Polish tak/nie), any case. */
export function cellBool<S extends z.ZodType>(inner: S) {
  return z.preprocess((v: unknown) => {
    if (typeof v === "number") return v === 1 ? true : v === 0 ? false : v;
    if (typeof v !== "string") return v;
    const lower = v.toLowerCase();
    return TRUE.has(lower) ? true : FALSE.has(lower) ? false : v;
  }, inner);
}

