// Redemptions as a till plays them, for the demo: authorize a few points of a card
// customer, then capture most approved holds and release the others.
import { LoyaltyClientError, type LoyaltyClient } from "../client/index.js";
import { cardOf } from "./baskets.js";
import { mulberry32, zipfSampler } from "./random.js";

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

/** Through loyaltyd/client, as a till would call these verbs. */
export function createRedeemer(client: LoyaltyClient, customers: number, seed: number): Redeemer {
  const rng = mulberry32(seed + 11);
  // The busiest customers have points to redeem: the same skew the baskets draw with.
  const draw = zipfSampler(customers, 0.8);
  // Ids carry the start time, so that a restart on the same data dir asks anew.
  const prefix = `sim-rd-${Date.now().toString(36)}-`;
  let n = 0;
  const counts: RedeemCounts = { authorized: 0, denied: 0, captured: 0, released: 0, failed: new Map() };
  const fail = (code: string): void => void counts.failed.set(code, (counts.failed.get(code) ?? 0) + 1);

  const steps = async (): Promise<void> => {
    const id = `${prefix}${++n}`;
    const auth = await client.authorize({ requestId: `${id}-a`, customer: { card: cardOf(draw(rng)) }, amount: rng.int(AMOUNT_MIN, AMOUNT_MAX) });
    if (!auth.approved) return void counts.denied++;
    counts.authorized++;
    const capture = rng.chance(CAPTURE_SHARE);
    const settle = { requestId: `${id}-${capture ? "c" : "r"}`, holdId: auth.holdId };
    await (capture ? client.capture(settle) : client.release(settle));
    if (capture) counts.captured++;
    else counts.released++;
  };
  const once = (): Promise<void> => steps().catch((err: unknown) => fail(err instanceof LoyaltyClientError ? err.code : "ERROR"));
  return { once, counts };
}
