// Stream alerts against Debian's real Prometheus: a wedged partition while the stream
// backs up behind it (the lag alert's threshold, 30 s, is not scaled: the longest
// scenario). Beside the other scenario files, on an engine of its own.
import { describe, it } from "vitest";
import { line, sale } from "../e2e/harness.js";
import { CARDS } from "./load.js";
import { useLive } from "./live.js";
import { SCENARIOS } from "./scenarios.js";

describe("Prometheus with the shipped alerts: a wedged partition", () => {
  const live = useLive({ simRatePerSec: 20, tills: false, warmMs: 2000, engine: { LOYALTYD_FAILPOINT_WEDGE_EVENT_PREFIX: "wedge-" } });

  it("alerts on a wedged partition while the stream backs up behind it", async () => {
    const js = live().nc.jetstream();
    const card = CARDS[0]!;
    await live().scenario(
      SCENARIOS.wedged,
      async () => {
        await js.publish("loyalty.events.s01", JSON.stringify(sale("wedge-1", { card }, [line("1", 1, 1000)])), { msgID: "wedge-1" });
        // Fill the wedged partition's queue: the consumer then stops pulling, and the simulator's events wait in the stream.
        const acks: Promise<unknown>[] = [];
        for (let i = 0; i < 8400; i++) {
          acks.push(js.publish("loyalty.events.s01", JSON.stringify(sale(`behind-${i}`, { card }, [line("1", 1, 100)])), { msgID: `behind-${i}` }));
          if (acks.length >= 512) await Promise.all(acks.splice(0));
        }
        await Promise.all(acks);
      },
      120_000,
    );
  }, 240_000);
});
