// `simulator: b2b`: the demo's distributors. Sets up a small B2B programme (products with
// list prices, two groups, a sales target) through the engine's back office, enrols the
// distributors over NATS through loyaltyd/client, then submits a sales report now and then
// (`submitReport`, as a participant's user would); an automatic approver approves the clean ones and rejects
// those a verification check caught, with the codes as the reason.
import type { NatsConnection } from "nats";
import type { BackOffice } from "../engine.js";
import {
  B2B_DEMO_PRODUCTS,
  b2bDemoProgramme,
  b2bDistributorEnrol,
  B2B_DEMO_PROGRAMME_ID,
  createReportGenerator,
  type GeneratedReport,
} from "./b2b-reports.js";
import { createClient, LoyaltyClientError, type LoyaltyClient } from "../client/index.js";
import { mulberry32 } from "./random.js";

export interface B2bSimulatorOptions {
  nc: NatsConnection;
  backOffice: BackOffice;
  /** Reports per second (may be below 1). */
  reportsPerSec: number;
  distributors: number;
  /** The programme's currency (the engine's `reports.currency`). */
  currency: string;
  /** Share of reports made to fail a check, 0–1. Default 0.15. */
  faultRate?: number;
  seed?: number;
  summaryEveryMs?: number;
  log: (line: string) => void;
}

export interface B2bStats {
  enrolled: number;
  submitted: number;
  /** Approved on submission by `reports.autoApprove`, or by the approver. */
  approved: number;
  rejected: number;
  /** Reports the approver left pending (none: it decides each). */
  failed: number;
  /** Findings by check code over all reports. */
  checks: Record<string, number>;
  /** Reports made faulty on purpose, and of those how many a check caught. */
  faulty: number;
  caught: number;
  points: number;
  errorsByCode: Record<string, number>;
}

export interface B2bSimulatorHandle {
  stop(): Promise<void>;
  stats(): B2bStats;
}

const APPROVER = "sim-approver";

function bump(into: Record<string, number>, key: string, by = 1): void {
  into[key] = (into[key] ?? 0) + by;
}

/** Installs the demo programme and products, then enrols the distributors; their customer ids in order. */
async function setUp(o: B2bSimulatorOptions, client: LoyaltyClient, stats: B2bStats): Promise<string[]> {
  await o.backOffice.installProgramme(B2B_DEMO_PROGRAMME_ID, b2bDemoProgramme(Date.now(), o.currency));
  for (const [sku, product] of Object.entries(B2B_DEMO_PRODUCTS)) await o.backOffice.putProduct(sku, product);
  const ids: string[] = [];
  for (let i = 1; i <= o.distributors; i++) {
    const r = await client.enroll(b2bDistributorEnrol(i));
    ids.push(r.customerId);
    stats.enrolled++;
  }
  return ids;
}

export async function startB2bSimulator(o: B2bSimulatorOptions): Promise<B2bSimulatorHandle> {
  if (!(o.reportsPerSec > 0)) throw new Error(`b2b simulator: reportsPerSec must be > 0 (got ${o.reportsPerSec})`);
  const stats: B2bStats = { enrolled: 0, submitted: 0, approved: 0, rejected: 0, failed: 0, checks: {}, faulty: 0, caught: 0, points: 0, errorsByCode: {} };
  const client = createClient({ nats: o.nc });
  const ids = await setUp(o, client, stats);
  o.log(`sim b2b: programme ${B2B_DEMO_PROGRAMME_ID}, ${Object.keys(B2B_DEMO_PRODUCTS).length} products, ${ids.length} distributors enrolled`);
  const seed = o.seed ?? 1;
  const gen = createReportGenerator({ rng: mulberry32(seed), distributors: ids.length, faultRate: o.faultRate ?? 0.15, idPrefix: `sim${seed}-${Date.now().toString(36)}-`, clock: Date.now });

  const decide = async (g: GeneratedReport, reply: { status: string; checks: { code: string }[] }): Promise<void> => {
    const checks = reply.checks.map((c) => c.code);
    for (const code of checks) bump(stats.checks, code);
    if (g.fault && checks.length > 0) stats.caught++;
    let outcome: Record<string, unknown> = reply;
    if (reply.status === "pending") {
      const body = checks.length === 0 ? { reportId: g.reportId, operator: APPROVER } : { reportId: g.reportId, operator: APPROVER, reason: `checks: ${[...new Set(checks)].join(", ")}` };
      outcome = await o.backOffice.decideReport(checks.length === 0 ? "approveReport" : "rejectReport", body);
    }
    if (outcome.ok !== true) return bump(stats.errorsByCode, String((outcome.error as { code?: unknown } | undefined)?.code ?? "ERROR"));
    if (outcome.status === "approved") {
      stats.approved++;
      stats.points += outcome.points as number;
    } else if (outcome.status === "rejected") stats.rejected++;
    else stats.failed++;
  };

  let busy = false;
  let stopped = false;
  const submitOne = async (): Promise<void> => {
    const g = gen.next();
    if (g.fault) stats.faulty++;
    const reply = await client
      .submitReport({ requestId: g.reportId, customer: { customerId: ids[g.distributor]! }, reportId: g.reportId, user: `user-${g.distributor + 1}`, lines: g.lines })
      .finally(() => stats.submitted++);
    await decide(g, reply);
  };
  const tick = (): void => {
    if (busy || stopped) return;
    busy = true;
    submitOne()
      .catch((err: unknown) => bump(stats.errorsByCode, err instanceof LoyaltyClientError ? err.code : "ERROR"))
      .finally(() => (busy = false));
  };
  const timer = setInterval(tick, Math.max(10, Math.round(1000 / o.reportsPerSec)));
  let last = { ...stats };
  const summary = (): void => {
    o.log(
      `sim b2b: reports ${stats.submitted - last.submitted} submitted, ${stats.approved - last.approved} approved, ${stats.rejected - last.rejected} rejected; ` +
        `${stats.points - last.points} pts; checks ${Object.entries(stats.checks).map(([c, n]) => `${c}:${n}`).join(",") || "none"} (total)`,
    );
    last = { ...stats };
  };
  const summaryTimer = setInterval(summary, o.summaryEveryMs ?? 5000);
  return {
    stats: () => ({ ...stats, checks: { ...stats.checks }, errorsByCode: { ...stats.errorsByCode } }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(summaryTimer);
      const until = Date.now() + 5000;
      while (busy && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      summary();
    },
  };
}
