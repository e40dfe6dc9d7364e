// Admission on the wire, against a real engine in its own process (workers executor, one
// partition, real NATS and LMDB): a sale made slow by a failpoint holds the partition's
// worker, as a merge holding the writer or a cold worker does. A few requests stuck behind
// the stall are all answered when it ends; a backlog of admission.backlogMin or more whose
// oldest has waited past admission.queueWaitMs refuses newcomers with OVERLOADED at once
// (counted in loyalty_rejected_total), and admits them again once it is answered. The
// defaults (limits.admissionBacklogMin, limits.queueWaitMsMax), then bounds set in the
// engine's configuration.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limits } from "../../src/limits.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { childEngineEnv, killHard, line, sale, spawnEngine, tempDir } from "./harness.js";

/** How long the failpoint holds the worker: far past queueWaitMsMax, and past the probes below on a slow machine. */
const STALL_MS = 2000;

/**
 * An engine in its own process (workers, one partition; `env` on top) whose sales named
 * slow-* hold the worker STALL_MS, with one enrolled customer; registers its start and stop
 * with the enclosing describe.
 */
function stallableEngine(env: Record<string, string> = {}) {
  const dir = tempDir("loyaltyd-admission-");
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let child: ChildProcess;
  let httpPort: number;
  let n = 0;
  /** Points every admitted sale earned, summed: the customer's balance once they are all answered. */
  let earned = 0;

  const rpc = async (verb: string, body: unknown): Promise<Record<string, any>> =>
    JSON.parse(Buffer.from((await nc.request(`loyalty.rpc.${verb}`, Buffer.from(JSON.stringify(body)), { timeout: 20_000 })).data).toString());
  beforeAll(async () => {
    nats = await startNatsServer({ storeDir: join(dir, "js") });
    const engine = await spawnEngine(
      childEngineEnv(dir, nats.url, { LOYALTYD_PARTITIONS: "1", LOYALTYD_EXECUTOR: "workers", LOYALTYD_FAILPOINT_SLOW_EVENT_PREFIX: "slow-", LOYALTYD_FAILPOINT_SLOW_MS: String(STALL_MS), ...env }),
    );
    child = engine.child;
    httpPort = engine.httpPort;
    nc = await connect({ servers: nats.url });
    expect((await rpc("enroll", { requestId: "enrol-a", card: "ADM-1" })).ok).toBe(true);
  });
  afterAll(async () => {
    await nc?.close();
    if (child) await killHard(child);
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const accrue = async (prefix = "ev-") => {
    const r = await rpc("accrue", sale(`${prefix}${n++}`, { card: "ADM-1" }, [line("1", 1, 500)]));
    if (r.ok === true) earned += r.earned;
    return r;
  };
  return {
    accrue,
    earned: () => earned,
    overloadedCount: async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const hit = text.split("\n").find((l) => l.startsWith("loyalty_rejected_total{") && l.includes('code="OVERLOADED"'));
      return hit ? Number(hit.slice(hit.lastIndexOf(" ") + 1)) : 0;
    },
    /** Until the slow sale holds the worker: it was sent first, and the partition takes it at once. */
    stalled: async (): Promise<{ slow: Promise<Record<string, any>> }> => {
      const slow = accrue("slow-");
      await new Promise((r) => setTimeout(r, 100));
      return { slow };
    },
  };
}

describe("admission under a stall (workers, one partition, the default bounds)", () => {
  const { accrue, earned, overloadedCount, stalled } = stallableEngine();

  it("answers every request a short stall held up, however long they waited", async () => {
    const { slow } = await stalled();
    const burst = Array.from({ length: limits.admissionBacklogMin - 4 }, () => accrue());
    await new Promise((r) => setTimeout(r, limits.queueWaitMsMax + 300));
    // Behind the stall, past the time bound, but below the backlog floor: admitted.
    const late = accrue();
    const replies = await Promise.all([slow, ...burst, late]);
    expect(replies.filter((r) => r.ok !== true)).toEqual([]);
    expect(await overloadedCount()).toBe(0);
  });

  it("refuses newcomers with OVERLOADED at once behind a backlog past the bound, applies nothing of them, and admits again once it is answered", async () => {
    const before = await overloadedCount();
    const { slow } = await stalled();
    // A burst behind the stall: the first admissionBacklogMin - 1 (the slow sale is the
    // first unanswered) are admitted whatever the time; later ones only while the slow
    // sale has waited no more than queueWaitMsMax.
    const burst = Array.from({ length: limits.admissionBacklogMin + 36 }, () => accrue());
    await new Promise((r) => setTimeout(r, limits.queueWaitMsMax + 300));
    const sentAt = performance.now();
    const refused = await accrue();
    const refusedMs = performance.now() - sentAt;
    expect(refused).toMatchObject({ ok: false, error: { code: "OVERLOADED", message: expect.stringMatching(/ms behind/) } });
    // Refused without waiting for the stall (it holds the worker for STALL_MS).
    expect(refusedMs).toBeLessThan(STALL_MS / 2);
    const replies = await Promise.all([slow, ...burst]);
    expect(replies.slice(0, limits.admissionBacklogMin).every((r) => r.ok === true)).toBe(true);
    const burstRefused = replies.filter((r) => r.ok !== true);
    expect(burstRefused.every((r) => r.error?.code === "OVERLOADED")).toBe(true);
    expect(await overloadedCount()).toBe(before + burstRefused.length + 1);
    // Answered: a newcomer is admitted again, and the balance holds every admitted sale and nothing of the refused ones.
    const after = await accrue();
    expect(after).toMatchObject({ ok: true });
    expect(after.balance).toBe(earned());
  });
});

describe("admission with its bounds from the configuration (admission.backlogMin 4, admission.queueWaitMs 50)", () => {
  const { accrue, overloadedCount, stalled } = stallableEngine({ LOYALTYD_ADMISSION_BACKLOG_MIN: "4", LOYALTYD_ADMISSION_QUEUE_WAIT_MS: "50" });

  it("refuses behind a backlog of 4 whose oldest waited past 50 ms, where the defaults would admit", async () => {
    const { slow } = await stalled();
    const few = Array.from({ length: 3 }, () => accrue());
    await new Promise((r) => setTimeout(r, 300));
    await expect(accrue()).resolves.toMatchObject({ ok: false, error: { code: "OVERLOADED" } });
    expect((await Promise.all([slow, ...few])).every((r) => r.ok === true)).toBe(true);
    expect(await overloadedCount()).toBe(1);
  });
});
