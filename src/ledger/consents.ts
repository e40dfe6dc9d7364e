// A customer's consents per channel, whichever shape the record keeps them in: v1's
// `profile.consents: {sms: true}` or v1.1's `{email|sms|post: {granted, at}}` (on the
// customer or in its profile). Notifications carry the result so connectors respect it.

export interface Consents {
  email: boolean;
  sms: boolean;
  post: boolean;
}

export const CONSENT_CHANNELS = ["email", "sms", "post"] as const;

/** The parts of a customer record consents may live in; both shapes are read. */
export interface ConsentSource {
  consents?: unknown;
  profile?: { consents?: unknown };
}

/** Email, SMS and post consent; a channel never given (or given in no shape known) is false. */
export function consentsOf(customer: ConsentSource | null | undefined): Consents {
  const given = recordOf(customer?.consents) ?? recordOf(customer?.profile?.consents);
  return { email: grantedIn(given, "email"), sms: grantedIn(given, "sms"), post: grantedIn(given, "post") };
}

/** One channel's consent, as consentsOf reads it, without building the three (a segment scan asks a million times). */
export function consentGiven(customer: ConsentSource | null | undefined, channel: (typeof CONSENT_CHANNELS)[number]): boolean {
  return grantedIn(recordOf(customer?.consents) ?? recordOf(customer?.profile?.consents), channel);
}

function recordOf(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function grantedIn(given: Record<string, unknown> | null, channel: (typeof CONSENT_CHANNELS)[number]): boolean {
  if (given === null || !Object.hasOwn(given, channel)) return false;
  const v = given[channel];
  if (typeof v === "boolean") return v;
  return recordOf(v)?.granted === true;
}
