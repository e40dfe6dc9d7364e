// Storage per customer and per accrual, as LMDB itself counts it. The engine runs as a
// child process and is seen only through its wire contract and its data directory, so
// the case holds whatever the ledger's table layout is.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { open } from "lmdb";
import { connect, type NatsConnection } from "nats";
import { enrolAll, engineCli, startEngine, streamRun, withEngineTail, withNats, type Engine, type EngineContext, type EngineOutcome } from "./engine.js";
import { once, type Figures } from "./stats.js";

/** One run whatever `runs` says: byte counts hardly move between runs (unlike timings), and a full run takes minutes. */
export type SizeContext = Pick<EngineContext, "size" | "root" | "log">;

/** mdb_stat as lmdb-js names its fields (src/dbi.cpp, src/env.cpp; index.d.ts only says `{}`). */
interface LmdbStat {
  pageSize: number;
  treeDepth: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
  entryCount: number;
}

export interface TableUsage {
  name: string;
  entries: number;
  bytes: number;
}

export interface LedgerUsage {
  /** "(root)" first (it holds the names of the other tables), then every named database. */
  tables: TableUsage[];
  /** Branch + leaf + overflow pages × page size, over all tables: what LMDB holds live. */
  bytes: number;
  /** The data file on disk, for information: it also holds free pages and never shrinks. */
  fileBytes: number;
}

const usedBytes = (s: LmdbStat): number => (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize;

/** lmdb-js puts an environment in a directory (data.mdb) unless its path has an extension. */
function dataFile(path: string): string {
  return statSync(path).isDirectory() ? join(path, "data.mdb") : path;
}

/** Opens the stopped engine's environment read-only: the bench must not change what it measures. */
export async function ledgerUsage(path: string): Promise<LedgerUsage> {
  if (!existsSync(path)) throw new Error(`no LMDB environment at ${path}`);
  // Binary keys: the root's keys are the table names as raw bytes, whatever encoding the engine uses.
  const env = open({ path, readOnly: true, maxDbs: 1024, keyEncoding: "binary" });
  try {
    const root = env.getStats() as LmdbStat;
    const tables: TableUsage[] = [{ name: "(root)", entries: root.entryCount, bytes: usedBytes(root) }];
    const names = [...env.getKeys()].map((k) => Buffer.from(k as Uint8Array).toString("utf8"));
    for (const name of names) {
      let stat: LmdbStat;
      try {
        stat = env.openDB({ name }).getStats() as LmdbStat;
      } catch {
        continue; // a plain record in the root table, not a named database: its bytes are in "(root)"
      }
      tables.push({ name, entries: stat.entryCount, bytes: usedBytes(stat) });
    }
    return { tables, bytes: tables.reduce((n, t) => n + t.bytes, 0), fileBytes: statSync(dataFile(path)).size };
  } finally {
    await env.close();
  }
}

/**
 * Tables whose records go by themselves: an idempotency record once retention.requestsMs (30
 * days) has passed, an outbox record once JetStream has stored its notifications.
 */
const TRANSIENT_TABLES = new Set(["requests", "notifyOutbox"]);

/** What the ledger keeps for good: its bytes without the transient tables'. */
export function lastingBytes(u: LedgerUsage): number {
  return bytesWithout(u, TRANSIENT_TABLES);
}

/** Tables a sale's records leave once retention.salesMs (400 days by default) has passed: its event record. */
const SALE_RETENTION_TABLES = new Set([...TRANSIENT_TABLES, "events"]);

/** The ledger's bytes without the named tables'. */
function bytesWithout(u: LedgerUsage, names: ReadonlySet<string>): number {
  return u.tables.filter((t) => !names.has(t.name.replace(/\0$/, ""))).reduce((n, t) => n + t.bytes, 0);
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

/** One line per table that holds pages, with the change since the previous reading; `label` leads the first line. */
export function logUsage(log: (line: string) => void, label: string, now: LedgerUsage, before: LedgerUsage | null): void {
  log(`${label}: LMDB uses ${kb(now.bytes)} in ${now.tables.length} tables; data.mdb ${kb(now.fileBytes)}`);
  const prev = new Map(before?.tables.map((t) => [t.name, t]) ?? []);
  const rows = now.tables.filter((t) => t.bytes > 0 || (prev.get(t.name)?.bytes ?? 0) > 0);
  const width = Math.max(8, ...rows.map((t) => t.name.length));
  log(`  ${"table".padEnd(width)}  ${"entries".padStart(9)}  ${"bytes".padStart(11)}  ${"+entries".padStart(9)}  ${"+bytes".padStart(11)}`);
  for (const t of rows) {
    const p = prev.get(t.name);
    const cells = [String(t.entries).padStart(9), String(t.bytes).padStart(11), String(t.entries - (p?.entries ?? 0)).padStart(9), String(t.bytes - (p?.bytes ?? 0)).padStart(11)];
    log(`  ${t.name.padEnd(width)}  ${cells.join("  ")}`);
  }
}

interface Harness {
  cli: string;
  natsUrl: string;
  tmp: string;
  ctx: SizeContext;
  notes: string[];
}

/** Starts the engine on the case's data directory, runs `work`, stops it cleanly and reads LMDB's figures. */
async function phase(h: Harness, label: string, work: (nc: NatsConnection, engine: Engine) => Promise<void>): Promise<LedgerUsage> {
  const engine = await startEngine(h.cli, h.natsUrl, h.tmp, h.ctx.root);
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: h.natsUrl });
    await work(nc, engine);
  } catch (err) {
    throw withEngineTail(err, engine);
  } finally {
    await nc?.close();
    await engine.stop();
  }
  // LMDB survives a kill, but the case is meant to read what a clean shutdown leaves: say when it was not one.
  if (engine.child.exitCode !== 0) h.notes.push(`${label}: the engine did not exit cleanly (code ${engine.child.exitCode}, signal ${engine.child.signalCode})`);
  return ledgerUsage(join(engine.dataDir, "ledger"));
}

/** Storage figures from three readings: empty engine, after enrolment, after accruals. */
export async function benchStorage(ctx: SizeContext): Promise<EngineOutcome> {
  const cli = engineCli();
  if (!existsSync(cli)) return { skipped: `${cli} does not exist (build the engine first: npx tsc -p .)` };
  const { customers, storageAccruals: accruals } = ctx.size;
  return withNats("loyaltyd-bench-size-", async (natsUrl, tmp) => {
    const h: Harness = { cli, natsUrl, tmp, ctx, notes: [] };
    // The empty reading is subtracted: programmes and bookkeeping tables would otherwise weigh on 2 k customers in quick mode.
    const empty = await phase(h, "empty", async () => undefined);
    logUsage(ctx.log, "size: empty engine (programmes loaded)", empty, null);
    let enrolled = customers;
    const afterEnrol = await phase(h, "enrol", async (nc, engine) => {
      enrolled = (await enrolAll(nc, engine, customers, ctx.log, "size")).ok;
    });
    logUsage(ctx.log, `size: after enrolling ${enrolled} customers`, afterEnrol, empty);
    let applied = accruals;
    const afterAccrue = await phase(h, "accrue", async (nc, engine) => {
      ctx.log(`size: ${accruals} accruals (5-line baskets) through JetStream`);
      const run = await streamRun(nc, engine, customers, accruals, 7000, "size accruals", h.notes, 0);
      // An error result (e.g. an unknown customer) leaves no ledger entry: divide by what was applied.
      applied = accruals - Object.values(run.errors).reduce((n, c) => n + c, 0);
    });
    logUsage(ctx.log, `size: after ${applied} accruals`, afterAccrue, afterEnrol);
    const figures: Figures = {
      "size.bytesPerCustomer": (afterEnrol.bytes - empty.bytes) / enrolled,
      "size.bytesPerCustomerLasting": (lastingBytes(afterEnrol) - lastingBytes(empty)) / enrolled,
      "size.bytesPerAccrual": (afterAccrue.bytes - afterEnrol.bytes) / applied,
      "size.bytesPerAccrualPastRetention": (bytesWithout(afterAccrue, SALE_RETENTION_TABLES) - bytesWithout(afterEnrol, SALE_RETENTION_TABLES)) / applied,
      "size.dataFileMb": afterAccrue.fileBytes / 2 ** 20,
    };
    ctx.log(
      `size: ${figures["size.bytesPerCustomer"]!.toFixed(0)} bytes per customer (goal ≤ 200), ${figures["size.bytesPerCustomerLasting"]!.toFixed(0)} once its enrolment's ` +
        `idempotency record is past retention; ${figures["size.bytesPerAccrual"]!.toFixed(0)} bytes per accrual (goal ≤ 300), ` +
        `${figures["size.bytesPerAccrualPastRetention"]!.toFixed(0)} once its event record is past retention.salesMs (entries and the wallet's growth)`,
    );
    return { figures: once(figures), notes: h.notes };
  });
}
