// The notification publisher on a ledger whose outbox holds more than it may have in flight
// or decode at once (a long JetStream outage, or a ledger filled by a bulk load): at start it
// sends the backlog in passes, each bounded by notifications rather than outbox records, and
// every notification ends in LOYALTY_NOTIFY once, the outbox emptied. Real nats-server and
// LMDB. (A 10-million-customer ledger holding one record per 5,000 enrolments once made the
// engine decode every notification at start and die out of heap: bench/RESULTS.md.)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureNotifyStream, NotifyPublisher, NOTIFY_STREAM } from "../../src/emit/notify.js";
import { startNatsServer, type NatsServerHandle } from "../../src/ingest/nats-server.js";
import { closeStore, openStore, type Store } from "../../src/ledger/store.js";
import { limits } from "../../src/limits.js";
import { createLogger } from "../../src/observe/logger.js";
import { createMetrics } from "../../src/observe/metrics.js";
import { tempDir, until } from "../e2e/harness.js";

const RECORDS = 6;
const PER_RECORD = 2500;

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: Store;
const dir = tempDir("loyaltyd-notify-backlog-");

beforeAll(async () => {
  nats = await startNatsServer({ storeDir: join(dir, "js") });
  nc = await connect({ servers: nats.url });
  store = openStore(join(dir, "ledger"));
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await closeStore(store);
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the notification publisher with a backlog in the outbox", () => {
  it("sends every notification once, in passes of bounded size, and empties the outbox", async () => {
    const total = RECORDS * PER_RECORD;
    // More than one pass may send, and than may be in flight at once.
    expect(total).toBeGreaterThan(limits.notifyResendMax);
    expect(total).toBeGreaterThan(limits.notifyInFlightMax);
    store.env.transactionSync(() => {
      for (let k = 1; k <= RECORDS; k++) {
        const p = Array.from({ length: PER_RECORD }, (_, i) => ({ id: `enrolled:cu_${k}_${i}`, kind: "enrolled", customerId: `cu_${k}_${i}` }));
        store.notifyOutbox.put(k, { t: 1_000, p });
      }
    });
    const log = createLogger("silent");
    await ensureNotifyStream(nc, { maxAgeMs: 0, maxBytes: 0, duplicateWindowMs: 600_000 }, log);
    const publisher = new NotifyPublisher(nc, store, createMetrics(), log, Date.now);
    publisher.start();
    try {
      const jsm = await nc.jetstreamManager();
      await until(async () => (await jsm.streams.info(NOTIFY_STREAM)).state.messages >= total, 60_000);
      await until(() => {
        store.env.resetReadTxn();
        return store.notifyOutbox.getKeysCount() === 0;
      }, 10_000);
      // Every id stored, once: the stream drops a re-send of an id it holds (Nats-Msg-Id), and all ids differ.
      const info = await jsm.streams.info(NOTIFY_STREAM, { subjects_filter: ">" });
      expect(info.state.messages).toBe(total);
      expect(info.state.subjects).toEqual({ "loyalty.notify.enrolled": total });
    } finally {
      await publisher.stop();
    }
  }, 90_000);
});
