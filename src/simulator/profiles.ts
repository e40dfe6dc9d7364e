// The demo's customers change over time: now and then one withdraws or gives a consent,
// moves house, or joins or leaves a group, sent as updateCustomer requests so that the
// demo exercises the customer lifecycle (and segments and exports see it move). Seeded:
// the same seed replays the same changes.
import { cardOf } from "./baskets.js";
import type { Rng } from "./random.js";

export interface UpdateRequest {
  requestId: string;
  customer: { card: string };
  profile?: { address: { line1: string; postcode: string; city: string; country: string } };
  consents?: Partial<Record<Channel, boolean>>;
  groups?: { add?: string[]; remove?: string[] };
}

type Channel = "email" | "sms" | "post";
export type UpdateKind = "consentWithdrawn" | "consentGiven" | "address" | "groupAdded" | "groupRemoved";

const CHANNELS: readonly Channel[] = ["email", "sms", "post"];
/** Groups a demo customer may join; segments and scoped programmes can name them. */
export const DEMO_GROUPS = ["newsletter", "families", "students", "VIP"] as const;
const CITIES = [
  { city: "Warsaw", postcode: "00-001", country: "PL" },
  { city: "Gdansk", postcode: "80-001", country: "PL" },
  { city: "Berlin", postcode: "10115", country: "DE" },
  { city: "Lyon", postcode: "69001", country: "FR" },
  { city: "Milan", postcode: "20121", country: "IT" },
] as const;
const STREETS = ["Main St", "Market Sq", "Park Ave", "River Rd", "Station St"] as const;

/** Weights of the kinds: consents change most often. */
const KINDS: readonly [UpdateKind, number][] = [
  ["consentWithdrawn", 3],
  ["consentGiven", 3],
  ["address", 2],
  ["groupAdded", 2],
  ["groupRemoved", 1],
];
const KIND_WEIGHT = KINDS.reduce((n, [, w]) => n + w, 0);

function drawKind(rng: Rng): UpdateKind {
  let u = rng.next() * KIND_WEIGHT;
  for (const [kind, w] of KINDS) {
    if (u < w) return kind;
    u -= w;
  }
  return KINDS[0]![0];
}

/**
 * The `seq`-th change, to one of card customers 1..customers; `idPrefix` makes request ids
 * unique across runs (a restart sends new changes, not conflicting ones).
 */
export function profileUpdate(rng: Rng, customers: number, idPrefix: string, seq: number): { kind: UpdateKind; request: UpdateRequest } {
  const kind = drawKind(rng);
  const base = { requestId: `${idPrefix}upd-${seq}`, customer: { card: cardOf(rng.int(1, customers)) } };
  switch (kind) {
    case "consentWithdrawn":
    case "consentGiven":
      return { kind, request: { ...base, consents: { [rng.pick(CHANNELS)]: kind === "consentGiven" } } };
    case "address": {
      const place = rng.pick(CITIES);
      return { kind, request: { ...base, profile: { address: { line1: `${rng.pick(STREETS)} ${rng.int(1, 200)}`, ...place } } } };
    }
    case "groupAdded":
      return { kind, request: { ...base, groups: { add: [rng.pick(DEMO_GROUPS)] } } };
    case "groupRemoved":
      return { kind, request: { ...base, groups: { remove: [rng.pick(DEMO_GROUPS)] } } };
  }
}
