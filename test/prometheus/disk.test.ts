// Disk alerts against Debian's real Prometheus: the ledger on a small tmpfs of its own
// (needs root, as CI runs) that a file fills. Beside the other files of test/prometheus,
// on an engine of its own.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, it } from "vitest";
import { fill } from "./load.js";
import { useLive } from "./live.js";
import { SCENARIOS } from "./scenarios.js";

const root = process.getuid?.() === 0;
if (!root) console.warn("prometheus test: not root, no tmpfs; the full-disk scenario cannot run");

describe.runIf(root)("Prometheus with the shipped alerts: disk", () => {
  const live = useLive({ simRatePerSec: 10, tills: false, warmMs: 1000, tmpfsMiB: 384 });
  beforeAll(() => {
    if (!live().mnt) throw new Error("could not mount a tmpfs for the ledger");
  });

  it("alerts when the ledger's disk fills up", async () => {
    const filler = join(live().mnt!, "filler");
    try {
      await live().scenario(SCENARIOS.diskFull, async () => fill(filler));
    } finally {
      rmSync(filler, { force: true });
    }
  }, 180_000);
});
