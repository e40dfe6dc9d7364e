// The client's verb list is the verb table's terminal verbs, with the same idempotency:
// the client makes request ids exactly for the verbs the engine keys by one.
import { describe, expect, it } from "vitest";
import { CLIENT_VERBS } from "../../src/client/index.js";
import { REPLY_SCHEMAS } from "../../src/codec/replies.js";
import { TERMINAL_VERBS, VERB_TABLE } from "../../src/verbs.js";

describe("the client's verbs", () => {
  it("are the terminal verbs of src/verbs.ts, each with its idempotency", () => {
    expect(Object.keys(CLIENT_VERBS).sort()).toEqual([...TERMINAL_VERBS].sort());
    for (const verb of TERMINAL_VERBS) expect(CLIENT_VERBS[verb as keyof typeof CLIENT_VERBS], verb).toBe(VERB_TABLE[verb].idempotency);
  });

  it("each have a reply schema", () => {
    expect(Object.keys(REPLY_SCHEMAS).sort()).toEqual([...TERMINAL_VERBS].sort());
  });
});
