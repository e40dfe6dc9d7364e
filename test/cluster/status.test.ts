// The status command's text: partitions as ranges, who owns what, what is unowned.
import { describe, expect, it } from "vitest";
import { compactRanges, formatClusterStatus, type ClusterStatus } from "../../src/cluster/status.js";

describe("compactRanges", () => {
  it.each([
    [[], ""],
    [[3], "3"],
    [[0, 1, 2, 5, 7, 8], "0-2,5,7-8"],
    [[8, 7, 0, 2, 1, 5], "0-2,5,7-8"],
    [[1, 3, 5], "1,3,5"],
  ])("%j -> %s", (ns, text) => expect(compactRanges(ns)).toBe(text));
});

describe("formatClusterStatus", () => {
  it("lists each instance with its partitions, then the unowned ones and the lease ages", () => {
    const held = (partition: number, owner: string, leaseAgeMs: number) => ({ partition, owner, state: "held" as const, leaseAgeMs, renewedAgoMs: 10, lag: null });
    const s: ClusterStatus = {
      partitionsTotal: 4,
      instances: [
        { instanceId: "a", state: "up", startedAt: 0, heartbeatAgeMs: 120, owned: 2, httpPort: 8080, adminPort: null, eventsPending: 7 },
        { instanceId: "b", state: "up", startedAt: 0, heartbeatAgeMs: 80, owned: 1, httpPort: 8081, adminPort: null, eventsPending: null },
      ],
      partitions: [held(0, "a", 900), held(1, "a", 800), held(2, "b", 50), { partition: 3, owner: null, state: "free", leaseAgeMs: null, renewedAgoMs: null, lag: null }],
    };
    expect(formatClusterStatus(s).split("\n")).toEqual([
      "2 instance(s), 4 partitions",
      "  a (up, heartbeat 120 ms ago, events pending 7): 2 partitions 0-1",
      "  b (up, heartbeat 80 ms ago): 1 partitions 2",
      "  unowned: 3",
      "  lease age: youngest 50 ms, oldest 900 ms",
    ]);
  });
});
