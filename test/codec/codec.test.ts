import { describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { contentHash, decodeBytes, encodeReply, encodingOf, validate } from "../../src/codec/codec.js";
import { LoyaltyError } from "../../src/errors.js";

const sale = {
  type: "sale",
  eventId: "s-1",
  at: 1767225600000,
  storeId: "s01",
  customer: { card: "C-100" },
  currency: "EUR",
  lines: [{ lineId: "1", sku: "A1", qty: 2, unitPrice: 1250, category: "drinks" }],
};

function codeOf(fn: () => unknown): { code: string; field?: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof LoyaltyError) return { code: err.code, ...(err.field ? { field: err.field } : {}) };
    throw err;
  }
  throw new Error("did not throw");
}

describe("codec", () => {
  it("tells JSON from MessagePack by the first byte", () => {
    expect(encodingOf(Buffer.from("{}"))).toBe("json");
    expect(encodingOf(new Packr({ useRecords: false }).pack({ a: 1 }))).toBe("msgpack");
  });

  it("decodes plain MessagePack and encodes replies in the request's encoding", () => {
    const bytes = new Packr({ useRecords: false }).pack(sale);
    expect(decodeBytes(bytes)).toEqual(sale);
    expect(JSON.parse(Buffer.from(encodeReply({ ok: true }, "json")).toString())).toEqual({ ok: true });
    expect(decodeBytes(encodeReply({ ok: true, n: 3 }, "msgpack"), "msgpack")).toEqual({ ok: true, n: 3 });
  });

  it("refuses undecodable and oversized payloads", () => {
    expect(codeOf(() => decodeBytes(Buffer.from("{oops")))).toEqual({ code: "BAD_REQUEST" });
    expect(codeOf(() => decodeBytes(Buffer.alloc(0)))).toEqual({ code: "BAD_REQUEST" });
    expect(codeOf(() => decodeBytes(Buffer.alloc(70_000, 0x7b)))).toEqual({ code: "PAYLOAD_TOO_LARGE" });
  });

  it("validates a sale and fills defaults", () => {
    const v = validate("accrue", sale);
    expect(v).toMatchObject({ channel: "store", tenders: [], lines: [{ promo: false }] });
  });

  it.each([
    ["a negative quantity", { lines: [{ ...sale.lines[0], qty: -1 }] }, "lines[0].qty"],
    ["a fractional price", { lines: [{ ...sale.lines[0], unitPrice: 12.5 }] }, "lines[0].unitPrice"],
    ["too many decimals of quantity", { lines: [{ ...sale.lines[0], qty: 1.2345 }] }, "lines[0].qty"],
    ["an unknown field", { colour: "red" }, "colour"],
    ["an unknown line field", { lines: [{ ...sale.lines[0], discount: 1 }] }, "lines[0].discount"],
    ["a lowercase currency", { currency: "eur" }, "currency"],
    ["an empty basket", { lines: [] }, "lines"],
    ["a duplicate line id", { lines: [sale.lines[0], sale.lines[0]] }, "lines[1].lineId"],
    ["an over-long id", { eventId: "x".repeat(129) }, "eventId"],
    ["an id with a control character", { eventId: "s\u0007" }, "eventId"],
    ["an id with an invisible format character", { eventId: "s\u200b1" }, "eventId"],
    ["a bad phone", { customer: { phone: "601234567" } }, "customer.phone"],
    ["a missing time", { at: undefined }, "at"],
    ["an offer id with a control character on a line", { lines: [{ ...sale.lines[0], offerId: "O\u0007" }] }, "lines[0].offerId"],
    ["an empty offer id for the basket", { offerIds: [""] }, "offerIds[0]"],
    ["offer ids that are not a list", { offerIds: "LEAFLET" }, "offerIds"],
    ["more offer ids than basketOffersMax", { offerIds: Array.from({ length: 33 }, (_, i) => `O${i}`) }, "offerIds"],
  ])("refuses %s naming the field", (_what, patch, field) => {
    expect(codeOf(() => validate("accrue", { ...sale, ...patch }))).toEqual({ code: "VALIDATION", field });
  });

  it("takes an offer on a line and offers for the basket, both optional", () => {
    const v = validate("accrue", { ...sale, offerIds: ["LEAFLET-12"], lines: [{ ...sale.lines[0], offerId: "COFFEE-X2" }] });
    expect(v).toMatchObject({ offerIds: ["LEAFLET-12"], lines: [{ offerId: "COFFEE-X2" }] });
    expect(validate("accrue", sale)).not.toHaveProperty("offerIds");
    expect(validate("quote", { ...sale, offerIds: ["LEAFLET-12"] })).toMatchObject({ offerIds: ["LEAFLET-12"] });
  });

  it("refuses a non-object payload as BAD_REQUEST", () => {
    expect(codeOf(() => validate("accrue", [1, 2]))).toEqual({ code: "BAD_REQUEST" });
  });

  it("requires exactly one of amount or value to authorise", () => {
    const base = { requestId: "a", customer: { customerId: "c" } };
    expect(codeOf(() => validate("authorize", base))).toEqual({ code: "VALIDATION", field: "amount" });
    expect(codeOf(() => validate("authorize", { ...base, amount: 1, value: 1 }))).toEqual({ code: "VALIDATION", field: "amount" });
    expect(validate("authorize", { ...base, amount: 5 })).toMatchObject({ account: "points", amount: 5 });
  });

  it("hashes equal content equally and other content differently", () => {
    expect(contentHash("accrue", validate("accrue", sale))).toBe(contentHash("accrue", validate("accrue", { ...sale })));
    expect(contentHash("accrue", validate("accrue", sale))).not.toBe(contentHash("accrue", validate("accrue", { ...sale, at: 1 })));
    const hold = { requestId: "r", holdId: "h" };
    expect(contentHash("capture", validate("capture", hold))).not.toBe(contentHash("release", validate("release", hold)));
  });
});
