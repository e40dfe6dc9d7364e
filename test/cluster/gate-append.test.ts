// The cluster gate's append loop, alone: a command handed to a partition that stopped being
// served meanwhile (its stock reservation or identity claim took a moment) is forwarded, and
// the loop ends without leaving the partition's `appending` set, so the next command is taken
// and a release can finish. (A loop that ended synchronously once left it holding a settled
// promise: later commands waited for ever and release() spun at 100 % CPU.)
import { describe, expect, it } from "vitest";
import { ClusterGate } from "../../src/cluster/gate.js";
import type { Handled, RawRequest } from "../../src/partition/batch.js";

interface Part {
  vp: number;
  serving: boolean;
  queue: unknown[];
  appending: Promise<void> | null;
  applying: number;
}

const req = (id: string): RawRequest => ({ verb: "accrue", bytes: Buffer.from(id), encoding: "json" });
const handled = (req: RawRequest): Handled => ({ bytes: req.bytes, outcome: "ok", label: "sale", notifications: [], refusal: null, points: 0, forwarded: true });

/** A gate with only what the append loop touches: a partition not served here, and a forward that answers at once. */
function gateWithUnservedPartition(): { gate: { append(p: Part, r: RawRequest, w: boolean): Promise<Handled> }; p: Part; forwarded: string[] } {
  const forwarded: string[] = [];
  const gate = Object.create(ClusterGate.prototype) as { append(p: Part, r: RawRequest, w: boolean): Promise<Handled>; forward(p: Part, r: RawRequest): Promise<Handled> };
  gate.forward = async (_p, r) => {
    forwarded.push(Buffer.from(r.bytes).toString());
    return handled(r);
  };
  return { gate, p: { vp: 0, serving: false, queue: [], appending: null, applying: 0 }, forwarded };
}

describe("the cluster gate's append loop", () => {
  it("forwards what reaches a partition no longer served, and leaves the partition free for the next command", async () => {
    const { gate, p, forwarded } = gateWithUnservedPartition();
    await expect(gate.append(p, req("a"), true)).resolves.toMatchObject({ outcome: "ok", forwarded: true });
    await new Promise((r) => setImmediate(r));
    expect(p.appending).toBeNull();
    const next = await Promise.race([gate.append(p, req("b"), true), new Promise((r) => setTimeout(() => r("never taken"), 1000))]);
    expect(next).toMatchObject({ outcome: "ok", forwarded: true });
    expect(forwarded).toEqual(["a", "b"]);
    await new Promise((r) => setImmediate(r));
    expect(p.appending).toBeNull();
  });
});
