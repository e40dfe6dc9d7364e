// Latency alerts against Debian's real Prometheus: partitions slowed by events that hold
// them 200 ms each make tills' authorize and accrue requests wait (their burn-rate
// alerts), then twice as many overload them (stream latency, saturation). Beside the
// other files of test/prometheus, on an engine of its own.
import { describe, it } from "vitest";
import { line, sale } from "../e2e/harness.js";
import { CARDS, every } from "./load.js";
import { useLive } from "./live.js";
import { SCENARIOS } from "./scenarios.js";

describe("Prometheus with the shipped alerts: latency", () => {
  const live = useLive({ simRatePerSec: 20, tills: true, warmMs: 2000 });

  /** Stream events that hold their partition 200 ms each, `perSecond` of them, spread over the cards. */
  const slowEvents = (perSecond: number, from: number) => {
    const js = live().nc.jetstream();
    return every(1000 / perSecond, async (i) => {
      const card = CARDS[i % CARDS.length]!;
      const id = `slow-${from + i}`;
      await js.publish("loyalty.events.s01", JSON.stringify(sale(id, { card }, [line("1", 1, 1000)])), { msgID: id }).catch(() => undefined);
    });
  };

  it("alerts when partitions are slow: authorize and accrue latency", async () => {
    // About 80 % of the ledger's one writer (LMDB serialises the partitions' commits): no
    // backlog, but a till's request often waits behind a slow event
    // (past 100 ms of waiting, with 64 or more unanswered, it would be refused OVERLOADED, which is fast).
    await live().scenario(SCENARIOS.slowPartitions, async () => slowEvents(4, 0), 120_000);
  }, 180_000);

  it("alerts when partitions are overloaded: stream latency, saturation", async () => {
    // The last scenario here: the backlog it leaves is not drained.
    await live().scenario(SCENARIOS.overloadedPartitions, async () => slowEvents(8, 1_000_000), 120_000);
  }, 180_000);
});
