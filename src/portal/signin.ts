// Sign-in to the participant portal: a customer named as the terminal verbs name one (or
// by e-mail) is sent a one-time code as a `loyalty.notify.otp` notification, which the
// SMS / e-mail connector delivers; the code, checked here, opens a session. Main thread,
// read snapshots of the ledger; nothing is written to it.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { customerRef, type CustomerRef } from "../codec/schema.js";
import type { PortalConfig } from "../config/portal.js";
import { LoyaltyError } from "../errors.js";
import { consentsOf } from "../ledger/consents.js";
import { findCustomer } from "../ledger/customers.js";
import type { Customer, Store } from "../ledger/store.js";
import type { Notification } from "../ledger/tx.js";
import { limits } from "../limits.js";
import type { Logger } from "../observe/logger.js";
import { OneTimeCodes, Sessions, type CodeRefusal, type Session } from "./credentials.js";

export const OTP_KIND = "otp";
export const OTP_CHANNELS = ["sms", "email"] as const;
export type OtpChannel = (typeof OTP_CHANNELS)[number];

/** A customer reference, or an e-mail address (which signs in only a customer who alone has it). */
export const signInRef = z.union([customerRef, z.object({ email: z.string().email().max(254) }).strict()]);
export type SignInRef = z.infer<typeof signInRef>;

export const otpRequestSchema = z.object({ customer: signInRef, channel: z.enum(OTP_CHANNELS).optional() }).strict();
export const sessionRequestSchema = z.object({ customer: signInRef, code: z.string().regex(/^\d{6}$/, "must be the 6 digits sent") }).strict();

/** What a code request did, for the log and the tests; the caller's reply never says. */
export type CodeOutcome = { sent: true; customerId: string; channel: OtpChannel } | { sent: false; reason: "nobody" | "no-destination" };

export interface PortalDeps {
  store: Store;
  config: PortalConfig;
  /** The engine's notification path (emit/notify.ts NotifyPublisher.publish). */
  publish: (ns: Notification[]) => void;
  now: () => number;
  log: Logger;
}

const REFUSED = "the code is wrong, expired or used up; ask for a new one";

export class Portal {
  readonly codes: OneTimeCodes;
  readonly sessions: Sessions;

  constructor(private readonly deps: PortalDeps) {
    const c = deps.config;
    this.codes = new OneTimeCodes({ ttlMs: c.otpTtlMs, attemptsMax: c.otpAttemptsMax, max: limits.portalCodesMax });
    this.sessions = new Sessions({ ttlMs: c.sessionTtlMs, max: limits.portalSessionsMax, perCustomerMax: limits.portalSessionsPerCustomerMax });
  }

  /**
   * The live customer a sign-in reference names, or null: unknown, erased, named by a
   * blocked card, or an e-mail address that no customer or several customers have.
   */
  resolve(ref: SignInRef): Customer | null {
    const { store } = this.deps;
    store.env.resetReadTxn();
    if ("email" in ref) return this.byEmail(ref.email);
    try {
      return findCustomer({ store }, ref as CustomerRef);
    } catch (err) {
      if (err instanceof LoyaltyError && err.code === "CARD_BLOCKED") return null;
      throw err;
    }
  }

  private byEmail(email: string): Customer | null {
    const key = email.toLowerCase();
    const ids = [...this.deps.store.emails.getKeys({ start: [key, ""], end: [key, "\uffff"], limit: 2 })];
    if (ids.length !== 1) return null;
    return findCustomer({ store: this.deps.store }, { customerId: ids[0]![1] });
  }

  /** Issues a code for `customer` (null: nobody, nothing is sent) and publishes it for the connector. */
  sendCode(customer: Customer | null, ref: SignInRef, wanted: OtpChannel | undefined): CodeOutcome {
    if (customer === null) return { sent: false, reason: "nobody" };
    const route = destinationOf(customer, ref, wanted);
    if (route === null) return { sent: false, reason: "no-destination" };
    const now = this.deps.now();
    const { code, expiresAt } = this.codes.issue(customer.id, now);
    const id = `${OTP_KIND}:${customer.id}:${randomBytes(8).toString("hex")}`;
    const payload = {
      id, kind: OTP_KIND, customerId: customer.id, consents: consentsOf(customer),
      channel: route.channel, to: route.to, code, expiresAt, language: customer.profile?.language ?? null, at: now,
    };
    this.deps.publish([{ id, kind: OTP_KIND, payload }]);
    return { sent: true, customerId: customer.id, channel: route.channel };
  }

  /** A session for the right code; UNAUTHORIZED (always the same words) for anything else. */
  signIn(customer: Customer | null, code: string): { token: string; session: Session } {
    const now = this.deps.now();
    const refusal: CodeRefusal | null = customer === null ? "none" : this.codes.use(customer.id, code, now);
    if (refusal !== null) {
      this.deps.log.info({ portal: { customerId: customer?.id ?? null, refusal } }, "portal sign-in refused");
      throw new LoyaltyError("UNAUTHORIZED", REFUSED, "code");
    }
    const opened = this.sessions.open(customer!.id, now);
    this.deps.log.info({ portal: { customerId: customer!.id, expiresAt: opened.session.expiresAt } }, "portal sign-in");
    return opened;
  }

  session(token: string): Session | null {
    return this.sessions.find(token, this.deps.now());
  }

  logout(token: string): boolean {
    return this.sessions.close(token);
  }

  /** The customer is gone (erased): every session of theirs ends. */
  forget(customerId: string): void {
    this.sessions.closeAll(customerId);
  }
}

/**
 * Where the code goes: the channel asked for, else the one the reference implies (a phone:
 * SMS, an e-mail: e-mail), else SMS, else e-mail, whichever the profile has first; always
 * to the customer's own phone or e-mail, never to an address the request brings.
 */
export function destinationOf(customer: Pick<Customer, "profile">, ref: SignInRef, wanted: OtpChannel | undefined): { channel: OtpChannel; to: string } | null {
  const phone = customer.profile?.phone;
  const email = customer.profile?.email;
  const to = (channel: OtpChannel) => (channel === "sms" ? phone : email);
  const implied: OtpChannel | undefined = "phone" in ref ? "sms" : "email" in ref ? "email" : undefined;
  for (const channel of [wanted, implied, "sms", "email"] as const) {
    if (channel === undefined) continue;
    const address = to(channel);
    if (address) return { channel, to: address };
  }
  return null;
}
