// The handler publishes a command's notifications after its reply, and those of every
// command answered in one turn together, so the NATS connection writes them at once.
import { describe, expect, it } from "vitest";
import { Handler } from "../../src/ingest/handler.js";
import type { Notification } from "../../src/ledger/tx.js";
import { createLogger } from "../../src/observe/logger.js";
import { createMetrics } from "../../src/observe/metrics.js";
import type { Handled, RawRequest } from "../../src/partition/batch.js";
import type { Partitions } from "../../src/partition/partitions.js";
import { Router } from "../../src/partition/router.js";
import type { Store } from "../../src/ledger/store.js";

const note = (id: string): Notification => ({ id, kind: "earned", payload: { id } });

/** One partition whose batch answers every queued request in the same turn, as a committed batch does. */
function batchingPartitions(): { partitions: Partitions; release: () => void } {
  const waiting: { req: RawRequest; resolve: (h: Handled) => void }[] = [];
  const partitions = {
    submit: (_p: number, req: RawRequest) => new Promise<Handled>((resolve) => waiting.push({ req, resolve })),
  } as unknown as Partitions;
  const release = () => {
    for (const { req, resolve } of waiting.splice(0)) {
      const id = Buffer.from(req.bytes).toString("utf8");
      resolve({ bytes: req.bytes, outcome: "ok", label: "sale", notifications: [note(`${id}-a`), note(`${id}-b`)], refusal: null, points: 0 });
    }
  };
  return { partitions, release };
}

describe("handler notifications", () => {
  it("publishes after the replies, the notifications of one batch's commands in one turn and in order", async () => {
    const { partitions, release } = batchingPartitions();
    const turns: string[][] = [];
    let turn: string[] | null = null;
    const publish = (ns: Notification[]): void => {
      if (!turn) {
        turn = [];
        turns.push(turn);
        // What NATS writes at once: everything published before the next microtask checkpoint.
        queueMicrotask(() => (turn = null));
      }
      turn.push(...ns.map((n) => n.id));
    };
    const router = new Router({} as Store, 1, false);
    const handler = new Handler(router, partitions, createMetrics(), createLogger("silent"), publish);
    const replied: string[] = [];
    const requests = ["e1", "e2", "e3"].map((id) =>
      handler.handle("stream", "accrue", Buffer.from(id), "json").then((h) => {
        // A reply is settled before any notification of its batch is published.
        expect(turns).toEqual([]);
        replied.push(Buffer.from(h.bytes).toString("utf8"));
      }),
    );
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all(requests);
    expect(replied).toEqual(["e1", "e2", "e3"]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(turns).toEqual([["e1-a", "e1-b", "e2-a", "e2-b", "e3-a", "e3-b"]]);
  });

  it("goes on with the rest when publishing one command's notifications throws", async () => {
    const { partitions, release } = batchingPartitions();
    const published: string[] = [];
    const publish = (ns: Notification[]): void => {
      if (ns[0]!.id.startsWith("bad")) throw new Error("connection closed");
      published.push(...ns.map((n) => n.id));
    };
    const handler = new Handler(new Router({} as Store, 1, false), partitions, createMetrics(), createLogger("silent"), publish);
    const requests = ["bad", "good"].map((id) => handler.handle("rpc", "accrue", Buffer.from(id), "json"));
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all(requests);
    await new Promise((r) => setImmediate(r));
    expect(published).toEqual(["good-a", "good-b"]);
  });
});
