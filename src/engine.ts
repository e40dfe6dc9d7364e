// Wires the pipeline: NATS (own child or configured) -> ingest (rpc, stream, http) ->
// router -> partitions -> ledger; emit replies, results and notifications; observe.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { connect, Events, type ConnectionOptions, type NatsConnection } from "nats";
import type { FastifyInstance } from "fastify";
import type { Config } from "./config/config.js";
import { loadCredentials, type Credentials } from "./config/credentials.js";
import { lockDataDir } from "./config/lock.js";
import { Approvals, approvalsIn } from "./admin/approvals.js";
import { SegmentJobs } from "./admin/segments/jobs.js";
import { AuditLog } from "./admin/audit.js";
import { RateLimiter } from "./ingest/ratelimit.js";
import { Portal } from "./portal/signin.js";
import { limits } from "./limits.js";
import { loadProgrammesDir } from "./admin/programmes.js";
import { ensureNotifyStream, NotifyPublisher } from "./emit/notify.js";
import { Handler } from "./ingest/handler.js";
import { createHttp, routesOf, type HttpDeps, type RegisteredRoute } from "./ingest/http.js";
import { natsConnectOptions, natsRefusal, NatsRefusedError, redactUrl } from "./ingest/nats-connect.js";
import { startNatsServer, type NatsServerHandle } from "./ingest/nats-server.js";
import { startRpc } from "./ingest/rpc.js";
import { startStream, type StreamConsumer } from "./ingest/stream.js";
import { backfillBirthdays } from "./ledger/birthdays.js";
import { NOT_SWEPT_HERE, birthdaySweeper, holdSweeper, sweepPointsExpiry, sweepVouchers, type InternalVerb, type SweepDeps } from "./sweepers.js";
import { Pruner } from "./ledger/retention.js";
import { closeStore, isStorageRefusal, openStore } from "./ledger/store.js";
import { streamMarks } from "./ledger/marks.js";
import { StorageHealth } from "./observe/storage.js";
import type { LedgerOptions } from "./ledger/ledger.js";
import { encodeReply } from "./codec/codec.js";
import type { Handled } from "./partition/batch.js";
import type { Store } from "./ledger/store.js";
import type { Logger } from "./observe/logger.js";
import { createMetrics, type Metrics } from "./observe/metrics.js";
import { createExecutor, InlineExecutor } from "./partition/executor.js";
import { Partitions } from "./partition/partitions.js";
import { Router, scopedPartition } from "./partition/router.js";
import { localBackOffice, type BackOfficeWriter } from "./cluster/backoffice.js";
import { openCluster, wireRequests } from "./cluster/wire.js";
import { ledgerOptionsOf } from "./config/ledger-options.js";
import { partitionOf } from "./partition/hash.js";
import { joinCluster, type ClusterMember } from "./cluster/member.js";

export interface EngineOptions {
  /**
   * The engine's clock (hold and voucher expiry, sweepers, admin timestamps), for tests
   * to drive. Only the inline executor's ledger follows it; worker threads use wall time.
   */
  now?: () => number;
}

export interface Engine {
  /** As logs show it: user info redacted. */
  natsUrl: string;
  httpPort: number;
  /** The admin listener's port (config admin.port), or null when the admin routes are on httpPort. */
  adminPort: number | null;
  nc: NatsConnection;
  /**
   * How the demo simulator connects to the embedded server with its own user (a
   * terminal's rights); null with a configured nats.url, where it shares `nc`.
   */
  simulatorNats: ConnectionOptions | null;
  /** How the demo reads loyalty.notify.otp as the local notification connector (its user); null with a configured nats.url. */
  connectorNats: ConnectionOptions | null;
  /** Segment queries and exports (what the admin routes run), for the demo's status lines. */
  segments: SegmentJobs;
  /** The HTTP routes each listener registered (the OpenAPI document's test walks them). */
  httpRoutes: { main: readonly RegisteredRoute[]; admin: readonly RegisteredRoute[] };
  /** The engine's metrics (what /metrics serves), for the demo's live status. */
  metrics: Metrics;
  /** What the admin routes do, in process: the demo's B2B simulator sets up its programme and decides reports without an admin token. */
  backOffice: BackOffice;
  close(): Promise<void>;
}

export interface BackOffice {
  installProgramme(id: string, body: unknown): Promise<void>;
  putProduct(sku: string, body: unknown): Promise<void>;
  /** `approveReport` / `rejectReport`, as POST /v1/admin/reports/<id>/approve|reject. */
  decideReport(verb: "approveReport" | "rejectReport", body: Record<string, unknown>): Promise<Record<string, unknown>>;
}


export async function startEngine(config: Config, log: Logger, engineOptions: EngineOptions = {}): Promise<Engine> {
  // Credential files are configuration: a bad one stops the start before anything runs.
  const credentials = loadCredentials(config);
  mkdirSync(config.dataDir, { recursive: true });
  // Before anything touches the directory: two engines on one ledger would split its routing.
  const lock = lockDataDir(config.dataDir);
  let natsServer: NatsServerHandle | null = null;
  const natsUrl = config.nats.url;
  try {
    let nats: NatsTarget;
    if (natsUrl) nats = { url: redactUrl(natsUrl), options: natsConnectOptions({ ...config.nats, url: natsUrl }), simulator: null, connector: null };
    else {
      // The embedded server requires credentials: the engine, the demo simulator and a local POS each get a user.
      natsServer = await startNatsServer({ storeDir: join(config.dataDir, "jetstream"), auth: { dir: config.dataDir } });
      const { engine, simulator, connector, posFile, connectorFile } = natsServer.auth!;
      nats = {
        url: natsServer.url,
        options: { servers: natsServer.url, user: engine.user, pass: engine.pass },
        simulator: { servers: natsServer.url, user: simulator.user, pass: simulator.pass, inboxPrefix: simulator.inboxPrefix },
        connector: { servers: natsServer.url, user: connector.user, pass: connector.pass, inboxPrefix: connector.inboxPrefix },
      };
      log.info({ natsUrl: natsServer.url, natsPid: natsServer.child.pid, posCredentialsFile: posFile, connectorCredentialsFile: connectorFile }, "started embedded nats-server with JetStream");
    }
    const engine = await startPipeline(config, log, nats, natsServer, engineOptions.now ?? Date.now, credentials);
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
    throw (natsUrl && natsRefusal(err, natsUrl)) || err;
  }
}

/** The NATS the engine uses: its URL as logged, how to connect, and the simulator's way in. */
interface NatsTarget {
  url: string;
  options: ConnectionOptions;
  simulator: ConnectionOptions | null;
  connector: ConnectionOptions | null;
}

async function startPipeline(
  config: Config,
  log: Logger,
  nats: NatsTarget,
  natsServer: NatsServerHandle | null,
  now: () => number,
  credentials: Credentials,
): Promise<Engine> {
  const metrics = createMetrics();
  const natsUrl = nats.url;
  const nc = await connect({ ...nats.options, name: "loyaltyd", maxReconnectAttempts: -1 });
  let natsConnected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) natsConnected = false;
      if (s.type === Events.Reconnect) natsConnected = true;
      if (s.type === Events.Disconnect || s.type === Events.Reconnect) log.warn({ nats: s.type, data: s.data }, "nats connection");
      // A permission the engine's NATS user lacks (a publish of results, notifications): say which.
      if (s.type === Events.Error) log.error({ nats: s.data, permission: s.permissionContext }, "nats error");
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

  const options: LedgerOptions = ledgerOptionsOf(config);
  const executor =
    config.executor === "inline" ? new InlineExecutor(store, options, now) : createExecutor(config.executor, config.partitions, ledgerPath, store, options);
  let fatal = false;
  const partitions = new Partitions(executor, config.partitions, metrics, log, (err) => {
    // A broken invariant: stop, and let the supervisor restart from durable state.
    fatal = true;
    log.fatal({ err }, "invariant broken; exiting");
    setTimeout(() => process.exit(70), 100);
  }, config.admission);
  // Cluster mode: the directory, the gate, snapshots, the shared back office and stock (cluster/wire.ts).
  let member: ClusterMember | null = null;
  const clusterParts = config.cluster.enabled
    ? await openCluster({ config, nc, store, partitions, metrics, log, ledgerPath, now, isOwner: (vp) => member?.manager.isOwner(vp) ?? false, onBackOfficeApplied: () => metrics.programmesLoaded.set(programmesCount()) })
    : null;
  const gate = clusterParts?.gate ?? null;
  const vpCount = gate === null ? null : config.cluster.partitions;
  const router = new Router(store, vpCount ?? config.partitions, config.executor === "workers", clusterParts?.directory ?? null);
  // Programmes, products, rewards and voucher offers: this ledger's, or in cluster mode every instance's (cluster/backoffice.ts).
  const backOfficeWriter: BackOfficeWriter = clusterParts?.backOffice ?? localBackOffice(store);
  const n = config.notify;
  await ensureNotifyStream(nc, { maxAgeMs: n.streamMaxAgeMs, maxBytes: n.streamMaxBytes, duplicateWindowMs: n.duplicateWindowMs }, log);
  const notifications = new NotifyPublisher(nc, n.outbox ? store : null, metrics, log, now, nats.options.inboxPrefix);
  notifications.start();
  const publishNotifications = notifications.publish;
  const storage = new StorageHealth(config.dataDir, () => storageProbe(store), metrics.registry, log);
  storage.start();
  const handler = new Handler(router, partitions, metrics, log, publishNotifications, () => storage.failed(), gate);
  if (clusterParts) wireRequests(clusterParts, publishNotifications, metrics, log, config.cluster.directorySweepMs);

  const subs = startRpc(nc, handler, metrics, log);
  // A refused subscription comes back as an error before the flush's PONG, and closes it.
  await nc.flush();
  const refused = subs.find((s) => s.isClosed());
  if (refused) throw new NatsRefusedError(`NATS at ${natsUrl} does not let the engine's user subscribe to ${refused.getSubject()} in queue group loyaltyd: give it the engine role of config/nats/accounts.conf`);
  let stream: StreamConsumer | null = null;
  if (config.stream) {
    const e = config.events;
    const policy = { maxAgeMs: e.streamMaxAgeMs, maxBytes: e.streamMaxBytes, denyDelete: e.streamDenyDelete, denyPurge: e.streamDenyPurge, ackWaitMs: e.ackWaitMs };
    stream = await startStream(nc, handler, partitions, metrics, log, streamMarks(store), policy);
  }

  // Cluster mode: this instance takes its share of the virtual partitions' leases (and reports it).
  const ports = { http: null as number | null, admin: null as number | null };
  const cluster: ClusterMember | null = gate
    ? await joinCluster(config, nc, log, metrics, async () => ({ httpPort: ports.http, adminPort: ports.admin, eventsPending: stream ? await gaugeValue(metrics.consumerLag) : null, lag: gate.lag() }), now, {
        onAcquire: (vp) => gate.acquire(vp),
        onRelease: (vp) => gate.release(vp),
      })
    : null;
  member = cluster;

  const readiness = () => ({
    nats: natsConnected && !nc.isClosed(),
    stream: !config.stream || (stream?.bound() ?? false),
    lmdb: !fatal,
    storage: storage.ok,
    partitions: partitions.wedged(config.watchdogMs) === null,
    programmes: programmesCount() > 0,
    ...(cluster ? { cluster: cluster.view.joined() } : {}),
  });
  // The same checks as /readyz, as gauges: an alert needs no blackbox probe to see them.
  metrics.onScrape(() => {
    const checks = readiness();
    for (const [check, ok] of Object.entries(checks)) metrics.readinessCheck.labels(check).set(ok ? 1 : 0);
    metrics.ready.set(Object.values(checks).every(Boolean) ? 1 : 0);
  });

  const segments = new SegmentJobs(ledgerPath, store);
  const rateLimited = config.rateLimits.enabled ?? config.terminalAuth.keysFile !== null;
  const httpDeps: HttpDeps = {
    handler,
    store,
    metrics,
    log,
    now,
    ...credentials,
    rateLimiter: rateLimited ? new RateLimiter(config.rateLimits) : null,
    audit: new AuditLog(store),
    approvals: new Approvals(now, limits.approvalTtlMs, limits.approvalsPendingMax, approvalsIn(store)),
    approvalAbove: config.admin.approvalAbove,
    segments,
    cluster: cluster?.view ?? null,
    ledgerOptions: options,
    backOffice: backOfficeWriter,
    portal: config.portal.enabled ? { portal: new Portal({ store, config: config.portal, publish: publishNotifications, now, log }), config: config.portal } : null,
    server: config.http,
    onProgrammesChanged: () => metrics.programmesLoaded.set(programmesCount()),
    readiness,
  };
  const adminApart = config.admin.port !== null;
  const http: FastifyInstance = createHttp(httpDeps, { kind: "main", adminHere: !adminApart });
  const adminHttp: FastifyInstance | null = adminApart ? createHttp(httpDeps, { kind: "admin" }) : null;
  const httpPort = await listen(http, config.http.port, config.http.host);
  ports.http = httpPort;
  let adminPort: number | null = null;
  try {
    if (adminHttp) ports.admin = adminPort = await listen(adminHttp, config.admin.port!, config.admin.host);
  } catch (err) {
    await http.close();
    throw err;
  }

  // The sweepers' commands go straight to their customer's partition, as JSON the worker decodes.
  const submit = (customerId: string, verb: InternalVerb, input: Record<string, unknown>): Promise<Handled> => {
    const req = { verb, bytes: encodeReply(input, "json"), encoding: "json" } as const;
    if (!gate) return partitions.submit(partitionOf(customerId, config.partitions), req);
    // Cluster mode: only the partition's owner sweeps it (through its log); this ledger's copy of other partitions may be stale.
    const vp = scopedPartition(customerId) ?? partitionOf(customerId, vpCount!);
    return gate.serves(vp) ? gate.submit(vp, req, false) : Promise.resolve(NOT_SWEPT_HERE);
  };
  const sweepDeps: SweepDeps = { store, submit, publishNotifications, log, now, expiryNoticeMs: options.expiryNoticeMs };
  let closing = false;
  const sweepBirthdays = birthdaySweeper(sweepDeps, config.timeZone, n.birthdayHour, () => closing);
  // An older ledger's birthdays are indexed once, in the background, before the first pass.
  const backfill = backfillBirthdays(store, limits.birthdayBackfillChunk, () => closing)
    .then((indexed) => indexed > 0 && log.info({ indexed }, "birthday index built"))
    .catch((err) => log.error({ err }, "could not build the birthday index; restart to retry"))
    .then(() => closing || sweepBirthdays())
    .catch((err) => log.warn({ err }, "birthday sweep failed; retried at the next pass"));
  const birthdayTimer = setInterval(sweepBirthdays, n.birthdaySweepMs);
  birthdayTimer.unref();
  let wedged = false;
  const watchdog = setInterval(() => {
    const w = partitions.wedged(config.watchdogMs);
    if (!w || wedged) return;
    // A thread inside an LMDB write transaction cannot be stopped from outside: measured,
    // Worker.terminate() and process.exit() both hang on it. Only the process can go, at
    // once; its supervisor restarts it from durable state (the transaction rolls back).
    wedged = true;
    metrics.partitionWedged.labels(String(w.partition)).inc();
    log.fatal({ ...w, watchdogMs: config.watchdogMs }, "partition wedged: a batch has run past watchdogMs; killing the process so that its supervisor restarts it");
    setTimeout(() => process.kill(process.pid, "SIGKILL"), 200);
  }, Math.min(1000, config.watchdogMs / 2));
  watchdog.unref();
  const sweeper = setInterval(holdSweeper(sweepDeps, () => closing), limits.holdSweepMs);
  sweeper.unref();
  // One sweep at a time: a chunked sweep (sweepers.ts inChunks) may outlast the interval.
  let sweepingExpiry = false;
  const expirySweeper = setInterval(() => {
    if (sweepingExpiry) return;
    sweepingExpiry = true;
    const stop = () => closing;
    void sweepPointsExpiry(sweepDeps, stop)
      .then(() => sweepVouchers(sweepDeps, stop))
      .finally(() => (sweepingExpiry = false));
  }, config.expiry.sweepMs);
  expirySweeper.unref();
  const pruner = new Pruner(store, { ...config.retention, eventFutureMsMax: config.events.futureMsMax }, now);
  let pruning = false;
  const retentionSweeper = setInterval(() => {
    if (pruning) return; // a step still waits for the write lock: one at a time
    pruning = true;
    void prune(pruner, metrics, log).finally(() => (pruning = false));
  }, config.retention.sweepMs);
  retentionSweeper.unref();

  const security = { terminalAuth: credentials.terminals !== null, operators: credentials.operators.size, rateLimited };
  const clusterInfo = cluster ? { cluster: { instanceId: cluster.view.instanceId, partitions: config.cluster.partitions } } : {};
  log.info({ httpPort, adminPort, natsUrl, partitions: config.partitions, executor: config.executor, dataDir: config.dataDir, ...security, ...clusterInfo }, "ready");

  return {
    natsUrl,
    httpPort,
    adminPort,
    nc,
    simulatorNats: nats.simulator,
    connectorNats: nats.connector,
    segments,
    httpRoutes: { main: routesOf(http), admin: adminHttp ? routesOf(adminHttp) : [] },
    metrics,
    backOffice: {
      installProgramme: async (id, body) => void (await backOfficeWriter.write("installProgramme", [id, body], now())),
      putProduct: async (sku, body) => void (await backOfficeWriter.write("putProduct", [sku, body], now())),
      decideReport: (verb, body) => handler.handleValue("http", verb, body),
    },
    async close() {
      // First: the other instances take this one's partitions over while it shuts down.
      await cluster?.stop().catch((err) => log.warn({ err }, "could not leave the cluster in order; its leases expire instead"));
      await clusterParts?.close();
      clearInterval(watchdog);
      clearInterval(sweeper);
      clearInterval(expirySweeper);
      clearInterval(birthdayTimer);
      closing = true;
      storage.stop();
      clearInterval(retentionSweeper);
      await http.close();
      await adminHttp?.close();
      if (stream) await stream.stop();
      for (const s of subs) s.unsubscribe();
      await partitions.drain();
      await executor.close();
      await notifications.stop();
      await backfill;
      await nc.drain().catch(() => undefined);
      await closeStore(store);
      if (natsServer) await natsServer.stop();
      log.info("stopped");
    },
  };
}

/** A gauge's current value (its only series), or null before it was set. */
async function gaugeValue(g: Metrics["consumerLag"]): Promise<number | null> {
  return (await g.get()).values[0]?.value ?? null;
}

/** A write of a few bytes, durable, that tells whether the ledger can write again. */
async function storageProbe(store: Store): Promise<void> {
  try {
    await store.meta.put("storageProbe", Date.now());
    await store.env.flushed;
  } catch (err) {
    isStorageRefusal(err);
    throw err;
  }
}

/** Listens; resolves with the bound port (port 0 picks a free one). */
async function listen(app: FastifyInstance, port: number, host: string): Promise<number> {
  await app.listen({ port, host });
  const addr = app.server.address();
  return typeof addr === "object" && addr ? addr.port : port;
}

/** One bounded retention step per table (src/ledger/retention.ts); a failed step is retried at the next. */
async function prune(pruner: Pruner, metrics: Metrics, log: Logger): Promise<void> {
  try {
    for (const r of await pruner.step()) {
      metrics.retentionScanned.inc({ kind: r.kind }, r.scanned);
      if (r.pruned > 0) metrics.retentionPruned.inc({ kind: r.kind }, r.pruned);
      if (r.wrapped) metrics.retentionPasses.inc({ kind: r.kind });
      if (r.writeMs > 0) metrics.retentionWriteDuration.observe(r.writeMs / 1000);
    }
  } catch (err) {
    log.warn({ err }, "retention step failed; retried at the next step");
  }
}
