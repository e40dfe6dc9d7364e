// What the participant types, read exactly (pure functions: test/web/portal-input.test.ts).

/** Card, phone or e-mail, as typed -> the customer reference the sign-in takes; null when it is none of them. */
export function referenceOf(typed: string): Record<string, string> | null {
  const s = typed.trim();
  if (s === "") return null;
  if (s.includes("@")) return /^[^\s@]+@[^\s@]+$/.test(s) ? { email: s } : null;
  if (s.startsWith("+")) {
    const phone = "+" + s.slice(1).replace(/[\s().-]/g, "");
    return /^\+\d{6,15}$/.test(phone) ? { phone } : null;
  }
  return /\s/.test(s) ? null : { card: s };
}

/** "300", "300.5", "300,50" -> 30050 minor units; anything else (three decimals, a sign, letters) -> null. No float arithmetic. */
export function minorUnits(typed: string): number | null {
  const m = /^(\d{1,12})(?:[.,](\d{1,2}))?$/.exec(typed.trim());
  return m ? Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0")) : null;
}

/** portal.otpAttemptsMax's default: past it the engine locks the code (the page cannot read the setting). */
export const TRIES_BEFORE_LOCK = 5;

export type Refusal = "expired" | "locked" | "wrong";

/**
 * The engine answers every failed sign-in alike (401, one message, so that nothing tells who
 * exists); the page words it from what it knows: the code's expiry, from the code request's
 * answer, and how many refused tries it has seen since that code was sent.
 */
export function refusalOf(expiresAt: number, tries: number, now: number): Refusal {
  if (now >= expiresAt) return "expired";
  if (tries >= TRIES_BEFORE_LOCK) return "locked";
  return "wrong";
}
