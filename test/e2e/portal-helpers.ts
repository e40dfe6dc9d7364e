// Shared by the participant portal's e2e tests: a connector's view of `loyalty.notify.otp`
// (the codes as the SMS / e-mail connector would receive them) and sign-in over HTTP.
import type { Subscription } from "nats";
import { send, until, type TestEnv } from "./harness.js";

export interface OtpMessage {
  msgId: string | undefined;
  payload: Record<string, any>;
}

/** Everything published on loyalty.notify.otp since `listen`, in order. */
export class OtpInbox {
  readonly messages: OtpMessage[] = [];
  private readonly sub: Subscription;

  constructor(t: TestEnv) {
    this.sub = t.nc.subscribe("loyalty.notify.otp", {
      callback: (_err, m) => this.messages.push({ msgId: m.headers?.get("Nats-Msg-Id"), payload: m.json() as Record<string, any> }),
    });
  }

  /** Waits for the next code sent to the customer after `since` messages. */
  async next(customerId: string, since: number): Promise<OtpMessage> {
    let found: OtpMessage | undefined;
    await until(() => (found = this.messages.slice(since).find((m) => m.payload.customerId === customerId)) !== undefined, 5000);
    return found!;
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asks for a code for `customer`, reads it as the connector would, signs in: the session token. */
export async function signIn(t: TestEnv, inbox: OtpInbox, customer: Record<string, string>, customerId: string): Promise<string> {
  const since = inbox.messages.length;
  const asked = await send(t, "POST", "/v1/me/otp", { customer });
  if (asked.status !== 202) throw new Error(`code request answered ${asked.status}: ${JSON.stringify(asked.body)}`);
  const { payload } = await inbox.next(customerId, since);
  const session = await send(t, "POST", "/v1/me/session", { customer, code: payload.code });
  if (session.status !== 200) throw new Error(`sign-in answered ${session.status}: ${JSON.stringify(session.body)}`);
  return session.body.token as string;
}

/** A participant route with the session token. */
export const me = (t: TestEnv, token: string, method: string, path: string, body?: unknown) => send(t, method, path, body, bearer(token));

/** One sample of the engine's /metrics (the first series of `name`), or NaN. */
export async function gauge(t: TestEnv, name: string): Promise<number> {
  const text = await (await fetch(`${t.http}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}
