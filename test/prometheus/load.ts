// The load of the Prometheus test's scenarios: tills beside the POS simulator, a timer, a disk filler.
import { closeSync, openSync, writeSync } from "node:fs";
import type { NatsConnection } from "nats";
import { line, sale } from "../e2e/harness.js";

export const CARDS = Array.from({ length: 40 }, (_, i) => `PROM-${i}`);

/** Runs `fn(i)` every `ms` until stopped. */
export function every(ms: number, fn: (i: number) => Promise<void>): () => void {
  let i = 0;
  const timer = setInterval(() => void fn(i++), ms);
  return () => clearInterval(timer);
}

/** Fills the filesystem until it refuses even a page: in megabytes, then in 4 KiB. */
export function fill(file: string): void {
  const fd = openSync(file, "w");
  try {
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch {
        // ENOSPC: full at this size
      }
    }
  } finally {
    closeSync(fd);
  }
}

export interface Tills {
  stats(): { ok: number; failed: number };
  stop(): void;
}

/**
 * Tills beside the simulator: every 100 ms an authorize and its release, and an accrue,
 * over NATS and HTTP in turn, for the test's own cards (enrolled and credited first).
 */
export async function startTills(nc: NatsConnection, httpPort: number): Promise<Tills> {
  const rpc = async (verb: string, body: unknown) =>
    JSON.parse(Buffer.from((await nc.request(`loyalty.rpc.${verb}`, JSON.stringify(body), { timeout: 5000 })).data).toString()) as Record<string, any>;
  const http = async (verb: string, body: unknown) =>
    (await (await fetch(`http://127.0.0.1:${httpPort}/v1/${verb}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as Record<string, any>;
  for (const card of CARDS) {
    await rpc("enroll", { requestId: `enrol-${card}`, card });
    await rpc("accrue", sale(`credit-${card}`, { card }, [line("1", 100, 1000)]));
  }
  const counts = { ok: 0, failed: 0 };
  const count = (r: Record<string, any> | null) => (r?.ok ? counts.ok++ : counts.failed++);
  const run = Date.now().toString(36);
  const stop = every(100, async (i) => {
    const card = CARDS[i % CARDS.length]!;
    const customer = { card };
    // Alternately over NATS and HTTP.
    const call = i % 2 === 0 ? rpc : http;
    const calls = [
      call("authorize", { requestId: `a-${run}-${i}`, customer, amount: 1 }).then(async (r) => {
        count(r);
        if (r.approved) count(await call("release", { requestId: `r-${run}-${i}`, holdId: r.holdId }));
      }),
      call("accrue", sale(`ra-${run}-${i}`, customer, [line("1", 1, 500)])).then(count),
    ];
    await Promise.all(calls.map((c) => c.catch(() => count(null))));
  });
  return { stats: () => counts, stop };
}
