// Wires the pipeline: NATS (own child or configured) -> ingest (rpc, stream, http) ->
// router -> partitions -> ledger; emit replies, results and notifications; observe.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { connect, Events, type NatsConnection } from "nats";
import type { FastifyInstance } from "fastify";
import type { Config } from "./config/config.js";
import { lockDataDir } from "./config/lock.js";
import { limits } from "./limits.js";
import { loadProgrammesDir } from "./admin/programmes.js";
import { notifier } from "./emit/notify.js";
import { Handler } from "./ingest/handler.js";
import { createHttp } from "./ingest/http.js";
import { startNatsServer, type NatsServerHandle } from "./ingest/nats-server.js";
import { startRpc } from "./ingest/rpc.js";
import { startStream, type StreamConsumer } from "./ingest/stream.js";
import { Pruner } from "./ledger/retention.js";
import { closeStore, openStore } from "./ledger/store.js";
import type { LedgerOptions, Notification } from "./ledger/ledger.js";
import { encodeReply } from "./codec/codec.js";
import type { Handled } from "./partition/batch.js";
import type { Store } from "./ledger/store.js";
import type { Logger } from "./observe/logger.js";
import { createMetrics, type Metrics } from "./observe/metrics.js";
import { createExecutor, InlineExecutor } from "./partition/executor.js";
import { Partitions } from "./partition/partitions.js";
import { Router } from "./partition/router.js";
import { partitionOf } from "./partition/hash.js";

export interface EngineOptions {
  /**
   * The engine's clock (hold and voucher expiry, sweepers, admin timestamps), for tests
   * to drive. Only the inline executor's ledger follows it; worker threads use wall time.
   */
  now?: () => number;
}

export interface Engine {
  natsUrl: string;
  httpPort: number;
  nc: NatsConnection;
  close(): Promise<void>;
}


export async function startEngine(config: Config, log: Logger, engineOptions: EngineOptions = {}): Promise<Engine> {
  mkdirSync(config.dataDir, { recursive: true });
  // Before anything touches the directory: two engines on one ledger would split its routing.
  const lock = lockDataDir(config.dataDir);
  let natsServer: NatsServerHandle | null = null;
  try {
    let natsUrl = config.nats.url;
    if (!natsUrl) {
      natsServer = await startNatsServer({ storeDir: join(config.dataDir, "jetstream") });
      natsUrl = natsServer.url;
      log.info({ natsUrl, natsPid: natsServer.child.pid }, "started embedded nats-server with JetStream");
    }
    const engine = await startPipeline(config, log, natsUrl, natsServer, engineOptions.now ?? Date.now);
    return {
      ...engine,
      async close() {
        await engine.close();
        lock.release();
      },
    };
  } catch (err) {
    // A start-up failure leaves no server and no lock behind.
    await natsServer?.stop();
    lock.release();
    throw err;
  }
}

async function startPipeline(config: Config, log: Logger, natsUrl: string, natsServer: NatsServerHandle | null, now: () => number): Promise<Engine> {
  const metrics = createMetrics();
  const nc = await connect({ servers: natsUrl, name: "loyaltyd", maxReconnectAttempts: -1 });
  let natsConnected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) natsConnected = false;
      if (s.type === Events.Reconnect) natsConnected = true;
      if (s.type === Events.Disconnect || s.type === Events.Reconnect) log.warn({ nats: s.type, data: s.data }, "nats connection");
    }
  })();

  const ledgerPath = join(config.dataDir, "ledger");
  const store = openStore(ledgerPath);
  const installed = await loadProgrammesDir(store, config.programmesDir, now());
  log.info({ programmes: installed.map((p) => `${p.id}@${p.version}`), dir: config.programmesDir }, "programmes loaded");
  // Counting keys is enough here: no need to decode every programme.
  const programmesCount = () => {
    store.env.resetReadTxn();
    return store.programmes.getKeysCount();
  };
  metrics.programmesLoaded.set(programmesCount());

  const options: LedgerOptions = {
    selection: config.programmeSelection,
    timeZone: config.timeZone,
    enrolOnUnknownPhone: config.enrolOnUnknownPhone,
    whenSpent: config.returns.whenSpent,
    holdTtlMsDefault: config.holdTtlMsDefault,
    expiryNoticeMs: config.expiry.noticeDays * 86_400_000,
    eventLateMsMax: config.events.lateMsMax,
    eventFutureMsMax: config.events.futureMsMax,
  };
  const executor =
    config.executor === "inline" ? new InlineExecutor(store, options, now) : createExecutor(config.executor, config.partitions, ledgerPath, store, options);
  let fatal = false;
  const partitions = new Partitions(executor, config.partitions, metrics, log, (err) => {
    // A broken invariant: stop, and let the supervisor restart from durable state.
    fatal = true;
    log.fatal({ err }, "invariant broken; exiting");
    setTimeout(() => process.exit(70), 100);
  });
  const router = new Router(store, config.partitions, config.executor === "workers");
  const publishNotifications = notifier(nc, metrics);
  const handler = new Handler(router, partitions, metrics, log, publishNotifications);

  const subs = startRpc(nc, handler, metrics, log);
  let stream: StreamConsumer | null = null;
  if (config.stream) {
    const e = config.events;
    const policy = { maxAgeMs: e.streamMaxAgeMs, maxBytes: e.streamMaxBytes, denyDelete: e.streamDenyDelete, denyPurge: e.streamDenyPurge };
    stream = await startStream(nc, handler, partitions, metrics, log, policy);
  }

  const http: FastifyInstance = createHttp({
    handler,
    store,
    metrics,
    log,
    adminToken: config.adminToken,
    now,
    onProgrammesChanged: () => metrics.programmesLoaded.set(programmesCount()),
    readiness: () => ({
      nats: natsConnected && !nc.isClosed(),
      stream: !config.stream || (stream?.bound() ?? false),
      lmdb: !fatal,
      programmes: programmesCount() > 0,
    }),
  });
  await http.listen({ port: config.http.port, host: config.http.host });
  const addr = http.server.address();
  const httpPort = typeof addr === "object" && addr ? addr.port : config.http.port;

  // The sweepers' commands go straight to their customer's partition, as JSON the worker decodes.
  const submit = (customerId: string, verb: InternalVerb, input: Record<string, unknown>): Promise<Handled> =>
    partitions.submit(partitionOf(customerId, config.partitions), { verb, bytes: encodeReply(input, "json"), encoding: "json" });
  const sweepDeps: SweepDeps = { store, submit, publishNotifications, log, now, expiryNoticeMs: options.expiryNoticeMs };
  const sweeper = setInterval(() => sweepHolds(sweepDeps), limits.holdSweepMs);
  sweeper.unref();
  const expirySweeper = setInterval(() => {
    sweepPointsExpiry(sweepDeps);
    sweepVouchers(sweepDeps);
  }, config.expiry.sweepMs);
  expirySweeper.unref();
  const pruner = new Pruner(store, { ...config.retention, eventFutureMsMax: config.events.futureMsMax }, now);
  const retentionSweeper = setInterval(() => prune(pruner, metrics, log), config.retention.sweepMs);
  retentionSweeper.unref();

  log.info({ httpPort, natsUrl, partitions: config.partitions, executor: config.executor, dataDir: config.dataDir }, "ready");

  return {
    natsUrl,
    httpPort,
    nc,
    async close() {
      clearInterval(sweeper);
      clearInterval(expirySweeper);
      clearInterval(retentionSweeper);
      await http.close();
      if (stream) await stream.stop();
      for (const s of subs) s.unsubscribe();
      await partitions.drain();
      await executor.close();
      await nc.drain().catch(() => undefined);
      await closeStore(store);
      if (natsServer) await natsServer.stop();
      log.info("stopped");
    },
  };
}

type InternalVerb = "expireHold" | "sweepExpiry" | "sweepVoucher";

interface SweepDeps {
  store: Store;
  submit: (customerId: string, verb: InternalVerb, input: Record<string, unknown>) => Promise<Handled>;
  publishNotifications: (n: Notification[]) => void;
  log: Logger;
  now: () => number;
  expiryNoticeMs: number;
}

/** Holds past their time: each expired by its customer's partition. */
function sweepHolds({ store, submit, now }: SweepDeps): void {
  const t = now();
  store.env.resetReadTxn();
  let n = 0;
  for (const { key, value: customerId } of store.holdsByExpiry.getRange({ end: [t, "\uffff"] })) {
    if (++n > limits.holdSweepBatchMax) break;
    submit(customerId, "expireHold", { holdId: key[1] }).catch(() => undefined);
  }
}

/** Points expiry: customers whose lots are past their time or entering the notice window. */
function sweepPointsExpiry({ store, submit, publishNotifications, log, now }: SweepDeps): void {
  const t = now();
  store.env.resetReadTxn();
  let n = 0;
  for (const key of store.expiryDue.getKeys({ end: [t, "\uffff"] })) {
    if (++n > limits.expirySweepCustomersMax) break;
    const customerId = key[1];
    submit(customerId, "sweepExpiry", { customerId })
      .then((o) => publishNotifications(o.notifications))
      .catch((err) => log.warn({ err, customerId }, "expiry sweep failed; retried at the next sweep"));
  }
}

/**
 * Vouchers past their time (to mark expired) or entering the notice window (to notify
 * once). Both indexes hold only vouchers with something still to do.
 */
function sweepVouchers({ store, submit, publishNotifications, log, now, expiryNoticeMs }: SweepDeps): void {
  const t = now();
  store.env.resetReadTxn();
  const due = new Map<string, string>();
  const collect = (range: Iterable<{ key: [number, string]; value: string }>) => {
    for (const { key, value: customerId } of range) {
      if (due.size >= limits.voucherSweepBatchMax) return;
      due.set(key[1], customerId);
    }
  };
  collect(store.vouchersByExpiry.getRange({ end: [t, "\uffff"] }));
  collect(store.voucherNotices.getRange({ end: [t + expiryNoticeMs, "\uffff"] }));
  for (const [code, customerId] of due) {
    submit(customerId, "sweepVoucher", { code })
      .then((o) => publishNotifications(o.notifications))
      .catch((err) => log.warn({ err, customerId }, "voucher sweep failed; retried at the next sweep"));
  }
}

/** One bounded retention step per table (src/ledger/retention.ts); a failed step is retried at the next. */
function prune(pruner: Pruner, metrics: Metrics, log: Logger): void {
  try {
    for (const r of pruner.step()) {
      metrics.retentionScanned.inc({ kind: r.kind }, r.scanned);
      if (r.pruned > 0) metrics.retentionPruned.inc({ kind: r.kind }, r.pruned);
      if (r.wrapped) metrics.retentionPasses.inc({ kind: r.kind });
      if (r.writeMs > 0) metrics.retentionWriteDuration.observe(r.writeMs / 1000);
    }
  } catch (err) {
    log.warn({ err }, "retention step failed; retried at the next step");
  }
}
