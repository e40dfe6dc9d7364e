// Redemptions as a till plays them, for the demo: authorize a few points of a card
// customer, then capture most approved holds and release the others.
import type { NatsConnection } from "nats";
import { cardOf } from "./baskets.js";
import { mulberry32, zipfSampler } from "./random.js";
import { requestJson } from "./wire.js";

export interface RedeemCounts {
  authorized: number;
  denied: number;
  captured: number;
  released: number;
  /** Error replies and transport failures, by code. */
  failed: Map<string, number>;
}

/** Points asked per authorisation, both inclusive. */
const AMOUNT_MIN = 5;
const AMOUNT_MAX = 50;
/** Share of approved holds captured; the rest are released. */
const CAPTURE_SHARE = 0.75;

export interface Redeemer {
  /** One authorisation and its capture or release; never rejects. */
  once(): Promise<void>;
  counts: RedeemCounts;
}

export function createRedeemer(nc: NatsConnection, customers: number, seed: number): Redeemer {
  const rng = mulberry32(seed + 11);
  // The busiest customers have points to redeem: the same skew the baskets draw with.
  const draw = zipfSampler(customers, 0.8);
  // Ids carry the start time, so that a restart on the same data dir asks anew.
  const prefix = `sim-rd-${Date.now().toString(36)}-`;
  let n = 0;
  const counts: RedeemCounts = { authorized: 0, denied: 0, captured: 0, released: 0, failed: new Map() };
  const fail = (code: string): void => void counts.failed.set(code, (counts.failed.get(code) ?? 0) + 1);

  const once = async (): Promise<void> => {
    const id = `${prefix}${++n}`;
    const auth = await requestJson(nc, "loyalty.rpc.authorize", {
      requestId: `${id}-a`,
      customer: { card: cardOf(draw(rng)) },
      amount: rng.int(AMOUNT_MIN, AMOUNT_MAX),
    });
    if (!auth.ok) return fail(auth.error.code);
    if (auth.approved !== true) return void counts.denied++;
    counts.authorized++;
    const capture = rng.chance(CAPTURE_SHARE);
    const verb = capture ? "capture" : "release";
    const reply = await requestJson(nc, `loyalty.rpc.${verb}`, { requestId: `${id}-${verb[0]}`, holdId: auth.holdId });
    if (!reply.ok) return fail(reply.error.code);
    if (capture) counts.captured++;
    else counts.released++;
  };
  return { once, counts };
}
