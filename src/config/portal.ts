// The participant portal's configuration (`portal.*`): sign-in by a one-time code, how
// long codes and sessions live, and how often a customer or an address may ask.
import { z } from "zod";
import { onOff } from "./values.js";

/** Requests per hour a bucket allows (its capacity too); 0: no limit. */
const perHour = z.coerce.number().int().min(0).max(1_000_000);

export const PORTAL_DEFAULTS = {
  enabled: true,
  otpTtlMs: 5 * 60_000,
  otpAttemptsMax: 5,
  sessionTtlMs: 60 * 60_000,
  otpPerHourPerCustomer: 5,
  otpPerHourPerIp: 30,
  signInPerHourPerIp: 60,
};

export const portalConfigSchema = z
  .object({
    /** Off: no /v1/me route is served. */
    enabled: onOff.default(PORTAL_DEFAULTS.enabled),
    /** How long a one-time code may be used, ms. */
    otpTtlMs: z.coerce.number().int().min(30_000).max(3_600_000).default(PORTAL_DEFAULTS.otpTtlMs),
    /** Wrong codes a code takes before it is locked (a new one must be asked for). */
    otpAttemptsMax: z.coerce.number().int().min(1).max(20).default(PORTAL_DEFAULTS.otpAttemptsMax),
    /** How long a session lasts from its sign-in, ms. */
    sessionTtlMs: z.coerce.number().int().min(60_000).max(30 * 86_400_000).default(PORTAL_DEFAULTS.sessionTtlMs),
    /** Codes sent per customer per hour. */
    otpPerHourPerCustomer: perHour.default(PORTAL_DEFAULTS.otpPerHourPerCustomer),
    /** Codes asked for per client address per hour. */
    otpPerHourPerIp: perHour.default(PORTAL_DEFAULTS.otpPerHourPerIp),
    /** Sign-in attempts (a code checked) per client address per hour. */
    signInPerHourPerIp: perHour.default(PORTAL_DEFAULTS.signInPerHourPerIp),
  })
  .strict()
  .default(PORTAL_DEFAULTS);

export type PortalConfig = z.infer<typeof portalConfigSchema>;

export const PORTAL_LEAF_KEYS = (Object.keys(PORTAL_DEFAULTS) as (keyof typeof PORTAL_DEFAULTS)[]).map((k) => `portal.${k}` as const);
