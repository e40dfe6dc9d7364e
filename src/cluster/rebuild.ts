// `loyaltyd rebuild`: a ledger made from nothing but the cluster's snapshots and command
// logs. Every virtual partition starts from its latest snapshot (LOYALTY_SNAPSHOTS, when
// it has one), then its log (LOYALTY_CMD_<p>) is applied in order after it on an empty
// data directory, exactly as a new owner does (same times, same ids: Command.logged);
// with --verify, every customer's balance in the rebuilt ledger is compared with what
// the live cluster answers for it.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { loadProgrammesDir } from "../admin/programmes.js";
import { encodeReply } from "../codec/codec.js";
import type { Config } from "../config/config.js";
import { natsConnectOptions, redactUrl } from "../ingest/nats-connect.js";
import { ledgerOptionsOf } from "../config/ledger-options.js";
import { LOG_SLOTS, Ledger } from "../ledger/ledger.js";
import { closeStore, openStore, type Store } from "../ledger/store.js";
import { limits } from "../limits.js";
import { createLogger } from "../observe/logger.js";
import { processBatch, type RawRequest } from "../partition/batch.js";
import { loggedRequests } from "./log-message.js";
import { CommandLog } from "./log.js";
import { BackOfficeReader } from "./backoffice.js";
import { importPartition } from "./partition-data.js";
import { SnapshotStore } from "./snapshots.js";

const TIMEOUT_MS = 15_000;

export interface RebuildResult {
  partitions: number;
  /** Partitions that had a log. */
  logs: number;
  /** Partitions that started from a snapshot. */
  snapshots: number;
  commands: number;
  customers: number;
  ms: number;
  /** With --verify: the accounts whose balances were compared. */
  balancesCompared?: number;
  /** With --verify: customers whose balance differs from the live cluster's, with both. */
  mismatches?: { customerId: string; account: string; rebuilt: number; live: number | null }[];
}

export class RebuildRefused extends Error {}

export async function rebuild(config: Config, opts: { verify: boolean; log?: (line: string) => void }): Promise<RebuildResult> {
  const say = opts.log ?? (() => undefined);
  if (!config.cluster.enabled) throw new RebuildRefused("rebuild reads a cluster's command logs: set cluster.enabled (and nats.url, cluster.partitions)");
  if (config.nats.url === null) throw new RebuildRefused("rebuild needs nats.url: the NATS cluster whose logs it reads");
  const ledgerPath = join(config.dataDir, "ledger");
  if (existsSync(ledgerPath) && readdirSync(ledgerPath).length > 0) throw new RebuildRefused(`${ledgerPath} is not empty: rebuild writes a new ledger; give it an empty dataDir`);
  mkdirSync(config.dataDir, { recursive: true });
  const nc = await connect({ ...natsConnectOptions({ ...config.nats, url: config.nats.url }), name: "loyaltyd-rebuild", timeout: TIMEOUT_MS }).catch((err: Error) => {
    throw new RebuildRefused(`cannot reach NATS at ${redactUrl(config.nats.url!)}: ${err.message}`);
  });
  const store = openStore(ledgerPath);
  const started = performance.now();
  try {
    await loadProgrammesDir(store, config.programmesDir, Date.now());
    // No outbox: the notifications of these commands went out when their owners applied them.
    const ledger = new Ledger(store, { ...ledgerOptionsOf(config), notifyOutbox: false }, Date.now);
    const log = createLogger("warn", "loyaltyd-rebuild");
    let commands = 0;
    let logs = 0;
    let snapshots = 0;
    const bucket = await SnapshotStore.open(nc, { replicas: config.cluster.replicas, timeoutMs: TIMEOUT_MS });
    const backOffice = await BackOfficeReader.open(nc, store, log);
    for (let vp = 0; vp < config.cluster.partitions; vp++) {
      const cmdLog = await CommandLog.existing(nc, vp, { timeoutMs: TIMEOUT_MS });
      if (!cmdLog) continue;
      logs++;
      // From the partition's latest snapshot, when it has one: the log may hold only what came after it.
      const file = join(config.dataDir, `snapshot-${vp}.snap`);
      let from = 0;
      try {
        const snap = await bucket.fetch(vp, file);
        if (snap) {
          const { header, records } = await importPartition(store, config.cluster.partitions, vp, file);
          from = Math.max(0, Math.floor(header.pos / LOG_SLOTS) - 1);
          snapshots++;
          say(`partition ${vp}: snapshot of ${records} records restored, up to log position ${header.pos}`);
        }
      } finally {
        rmSync(file, { force: true });
      }
      let batch: RawRequest[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const { durable } = await processBatch(ledger, batch);
        await durable;
        commands += batch.length;
        batch = [];
      };
      for await (const m of cmdLog.readAfter(from)) {
        const requests = loggedRequests(vp, m, log);
        // Under the back office its owner had (as far as the stream goes: see docs/operations.md, Rebuild).
        const b = requests[0]?.logged?.backOffice ?? 0;
        if (b > backOffice.position) {
          await flush();
          await backOffice.upTo(b);
        }
        batch.push(...requests);
        if (batch.length >= limits.batchSizeMax) await flush();
      }
      await flush();
      say(`partition ${vp}: log applied up to sequence ${cmdLog.lastSeq}`);
    }
    await backOffice.toEnd();
    const customers = store.customers.getKeysCount();
    const result: RebuildResult = { partitions: config.cluster.partitions, logs, snapshots, commands, customers, ms: Math.round(performance.now() - started) };
    if (opts.verify) {
      const compared = { n: 0 };
      result.mismatches = await verify(nc, store, ledger, compared);
      result.balancesCompared = compared.n;
    }
    return result;
  } finally {
    await nc.close();
    await closeStore(store);
  }
}

/** Every customer of the rebuilt ledger: its balance per account here and as the live cluster answers it (rpc balance). */
async function verify(nc: NatsConnection, store: Store, ledger: Ledger, compared: { n: number }): Promise<NonNullable<RebuildResult["mismatches"]>> {
  const out: NonNullable<RebuildResult["mismatches"]> = [];
  for (const customerId of store.customers.getKeys()) {
    const bytes = encodeReply({ customer: { customerId } }, "json");
    const { handled } = await processBatch(ledger, [{ verb: "balance", bytes, encoding: "json" }]);
    const here = JSON.parse(Buffer.from(handled[0]!.bytes).toString("utf8")) as { ok: boolean; accounts?: { account: string; balance: number }[] };
    let live: { ok: boolean; accounts?: { account: string; balance: number }[] } | null = null;
    try {
      live = JSON.parse(Buffer.from((await nc.request("loyalty.rpc.balance", bytes, { timeout: TIMEOUT_MS })).data).toString("utf8"));
    } catch {
      live = null;
    }
    if (!here.ok) {
      out.push({ customerId, account: "*", rebuilt: Number.NaN, live: null });
      continue;
    }
    // A customer merged or erased since is no longer in the live cluster's answer: compared as absent.
    for (const a of here.accounts ?? []) {
      compared.n++;
      const liveBalance = live?.accounts?.find((l) => l.account === a.account)?.balance ?? null;
      if (liveBalance !== a.balance) out.push({ customerId, account: a.account, rebuilt: a.balance, live: liveBalance });
    }
  }
  return out;
}
