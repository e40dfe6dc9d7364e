// Configuration: defaults <- file (JSON or YAML) <- LOYALTYD_* environment, validated
// once at start (errors name the key), then frozen.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { limits } from "../limits.js";
import { isTimeZone } from "../rules/time.js";
import { REPORT_OPTIONS_DEFAULT } from "../ledger/tx.js";
import { CLUSTER_LEAF_KEYS, clusterConfigSchema } from "./cluster.js";
import { PORTAL_LEAF_KEYS, portalConfigSchema } from "./portal.js";
import { onOff } from "./values.js";

// An operator may widen the event window (a migration, a long offline till), within reason.
const EVENT_LATE_MS_CEILING = 10 * 366 * 86_400_000;
const EVENT_FUTURE_MS_CEILING = 86_400_000;

/** A retention window, ms: 0 keeps the records for ever, anything else is at least a floor. */
const retentionWindow = (floorMs: number) =>
  z.coerce
    .number()
    .int()
    .refine((v) => v === 0 || v >= floorMs, `must be 0 (keep for ever) or at least ${floorMs} ms`);

const RETENTION_DEFAULT = {
  requestsMs: limits.retentionRequestsMsDefault,
  holdsMs: limits.retentionHoldsMsDefault,
  salesMs: null,
  sweepMs: limits.retentionSweepMsDefault,
  scanMax: limits.retentionScanMaxDefault,
};

const NOTIFY_DEFAULTS = {
  outbox: true,
  streamMaxAgeMs: 7 * 86_400_000,
  streamMaxBytes: 0,
  duplicateWindowMs: 10 * 60_000,
  birthdayHour: 9,
  birthdaySweepMs: 60_000,
};

// A request that takes an hour to arrive is an attack, not a slow link.
const HTTP_TIMEOUT_MS_CEILING = 3600_000;
const timeoutMs = z.coerce.number().int().min(100).max(HTTP_TIMEOUT_MS_CEILING);
const HTTP_DEFAULTS = {
  port: 8080,
  host: "127.0.0.1",
  headersTimeoutMs: limits.httpHeadersTimeoutMsDefault,
  requestTimeoutMs: limits.httpRequestTimeoutMsDefault,
  keepAliveTimeoutMs: limits.httpKeepAliveTimeoutMsDefault,
  connectionTimeoutMs: limits.httpConnectionTimeoutMsDefault,
  connectionsMax: limits.httpConnectionsMaxDefault,
};

/** One kind of bucket pair: refill per minute (0: unlimited) and capacity. */
const perMinute = z.coerce.number().int().min(0).max(100_000_000);
const burst = z.coerce.number().int().min(1).max(100_000_000);
const RATE_DEFAULTS = {
  lookupsPerMinute: limits.rateLookupsPerMinuteDefault,
  lookupBurst: limits.rateLookupBurstDefault,
  enrolmentsPerMinute: limits.rateEnrolmentsPerMinuteDefault,
  enrolmentBurst: limits.rateEnrolmentBurstDefault,
};
const rateBuckets = z
  .object({
    lookupsPerMinute: perMinute.default(RATE_DEFAULTS.lookupsPerMinute),
    lookupBurst: burst.default(RATE_DEFAULTS.lookupBurst),
    enrolmentsPerMinute: perMinute.default(RATE_DEFAULTS.enrolmentsPerMinute),
    enrolmentBurst: burst.default(RATE_DEFAULTS.enrolmentBurst),
  })
  .strict();

const optional = z.string().min(1).nullable().default(null);

const NATS_DEFAULTS = {
  url: null,
  user: null,
  pass: null,
  passFile: null,
  token: null,
  tokenFile: null,
  credsFile: null,
  nkeySeedFile: null,
  tls: { ca: null, cert: null, key: null },
};

/** Each credential key and the way of authenticating it belongs to. */
const NATS_SECRET_KEYS = {
  user: "password",
  pass: "password",
  passFile: "password",
  token: "token",
  tokenFile: "token",
  credsFile: "creds",
  nkeySeedFile: "nkey",
} as const;

/** The servers of a (comma-separated) nats.url. */
const natsServers = (url: string): string[] =>
  url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);

function isUrl(u: string): boolean {
  try {
    new URL(u);
    return true;
  } catch {
    return false;
  }
}

/** True when a server URL of the (comma-separated) list carries user info: nats://user:pass@host. */
export function urlHasUserInfo(url: string): boolean {
  return url.split(",").some((u) => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u.trim()));
}

/**
 * Where the engine's NATS is and how it proves who it is. Secrets may be given inline,
 * in the URL's user info, or (better) in a file: `passFile`, `tokenFile`, and the
 * creds / nkey seed files. At most one way to authenticate; none = as before.
 */
const natsObject = z
  .object({
    /** One server URL, or several of one cluster, comma-separated. */
    url: z
      .string()
      .refine((v) => natsServers(v).length > 0 && natsServers(v).every(isUrl), "must be a URL or several, comma-separated (nats://host:4222,nats://host2:4222)")
      .nullable()
      .default(null),
    user: optional,
    pass: optional,
    passFile: optional,
    token: optional,
    tokenFile: optional,
    credsFile: optional,
    nkeySeedFile: optional,
    tls: z.object({ ca: optional, cert: optional, key: optional }).strict().default(NATS_DEFAULTS.tls),
  })
  .strict();

const natsSchema = natsObject
  .superRefine((n, ctx) => {
    const problem = natsAuthProblem(n);
    if (problem) ctx.addIssue({ code: "custom", path: problem.key.split("."), message: problem.message });
  });

type NatsSection = z.infer<typeof natsObject>;

/** The first inconsistency among the NATS credential keys, named by its key (relative to `nats`). */
function natsAuthProblem(n: NatsSection): { key: string; message: string } | null {
  const given = (Object.keys(NATS_SECRET_KEYS) as (keyof typeof NATS_SECRET_KEYS)[]).filter((k) => n[k] !== null);
  const tlsGiven = (["ca", "cert", "key"] as const).filter((k) => n.tls[k] !== null).map((k) => `tls.${k}`);
  if (n.url === null) {
    const first = given[0] ?? tlsGiven[0];
    return first ? { key: first, message: "needs nats.url: the embedded nats-server makes its own credentials" } : null;
  }
  if (n.pass !== null && n.passFile !== null) return { key: "passFile", message: "give nats.pass or nats.passFile, not both" };
  if (n.token !== null && n.tokenFile !== null) return { key: "tokenFile", message: "give nats.token or nats.tokenFile, not both" };
  const hasPass = n.pass !== null || n.passFile !== null;
  if (hasPass && n.user === null) return { key: n.pass !== null ? "pass" : "passFile", message: "needs nats.user" };
  if (n.user !== null && !hasPass) return { key: "user", message: "needs nats.pass or nats.passFile" };
  if (given.length > 0 && urlHasUserInfo(n.url)) return { key: given[0]!, message: "the credentials are already in nats.url; give them one way" };
  const other = given.find((k) => NATS_SECRET_KEYS[k] !== NATS_SECRET_KEYS[given[0]!]);
  if (other) return { key: other, message: "give one way to authenticate: user and pass, token, creds file or nkey seed file" };
  if ((n.tls.cert === null) !== (n.tls.key === null)) return { key: n.tls.cert === null ? "tls.cert" : "tls.key", message: "nats.tls.cert and nats.tls.key go together" };
  return null;
}

export const configSchema = z
  .object({
    nats: natsSchema.default(NATS_DEFAULTS),
    dataDir: z.string().min(1).default("./data"),
    http: z
      .object({
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        host: z.string().min(1).default("127.0.0.1"),
        // Timeouts and the connection cap apply to the admin listener too.
        headersTimeoutMs: timeoutMs.default(limits.httpHeadersTimeoutMsDefault),
        requestTimeoutMs: timeoutMs.default(limits.httpRequestTimeoutMsDefault),
        keepAliveTimeoutMs: timeoutMs.default(limits.httpKeepAliveTimeoutMsDefault),
        /** 0: no idle-socket timeout. */
        connectionTimeoutMs: z.coerce.number().int().min(0).max(HTTP_TIMEOUT_MS_CEILING).default(limits.httpConnectionTimeoutMsDefault),
        connectionsMax: z.coerce.number().int().min(1).max(1_000_000).default(limits.httpConnectionsMaxDefault),
      })
      .strict()
      .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, { message: "must be at most http.requestTimeoutMs", path: ["headersTimeoutMs"] })
      .default(HTTP_DEFAULTS),
    /** Per-store API keys for the terminal routes; null: terminal HTTP is open, as before. */
    terminalAuth: z
      .object({ keysFile: z.string().min(1).nullable().default(null) })
      .strict()
      .default({ keysFile: null }),
    /** The admin API: its own listener, per-operator tokens, four-eyes approval of large adjustments. */
    admin: z
      .object({
        /** null: the admin routes stay on the main listener. */
        port: z.coerce.number().int().min(0).max(65535).nullable().default(null),
        host: z.string().min(1).default("127.0.0.1"),
        operatorsFile: z.string().min(1).nullable().default(null),
        /** Adjustments above this many points (absolute) wait for a second operator; null: none do. */
        approvalAbove: z.coerce.number().int().min(0).max(limits.adjustmentMax).nullable().default(null),
      })
      .strict()
      .refine((a) => a.approvalAbove === null || a.operatorsFile !== null, {
        message: "needs admin.operatorsFile: an approval takes a second operator",
        path: ["approvalAbove"],
      })
      .default({ port: null, host: "127.0.0.1", operatorsFile: null, approvalAbove: null }),
    /** Token buckets on terminal lookups and enrolments, per credential and per client address. */
    rateLimits: z
      .object({
        /** null: on exactly when terminalAuth.keysFile is set. */
        enabled: onOff.nullable().default(null),
        /** Loopback clients (127.0.0.0/8, ::1) draw from no per-address bucket: local benches, a local proxy. */
        exemptLoopback: onOff.default(true),
        credential: rateBuckets.default(RATE_DEFAULTS),
        ip: rateBuckets.default(RATE_DEFAULTS),
      })
      .strict()
      .default({ enabled: null, exemptLoopback: true, credential: RATE_DEFAULTS, ip: RATE_DEFAULTS }),
    adminToken: z.string().min(8).nullable().default(null),
    programmesDir: z.string().min(1).default("./config/programmes"),
    partitions: z.coerce.number().int().min(1).max(64).default(1),
    /** "workers": one single-thread Piscina pool per partition; "inline": all partitions on the main thread. */
    executor: z.enum(["workers", "inline"]).default("workers"),
    /** A partition whose batch runs longer than this is wedged: its thread is replaced, ms. */
    watchdogMs: z.coerce.number().int().min(200).max(3_600_000).default(limits.watchdogMsDefault),
    /** Load shedding of rpc and HTTP requests (partition/partitions.ts admits). */
    admission: z
      .object({
        /** Refuse with OVERLOADED while a partition's oldest unanswered request has waited longer, ms. */
        queueWaitMs: z.coerce.number().int().min(10).max(60_000).default(limits.queueWaitMsMax),
        /** ... and the partition holds at least this many unanswered requests. */
        backlogMin: z.coerce.number().int().min(1).max(limits.partitionQueueMax).default(limits.admissionBacklogMin),
      })
      .strict()
      .default({ queueWaitMs: limits.queueWaitMsMax, backlogMin: limits.admissionBacklogMin }),
    /** on: the POS simulator; "b2b": the distributors' reports (docs/b2b.md); off. */
    simulator: z.union([z.literal("b2b"), onOff]).default(false),
    simulatorRate: z.coerce.number().int().min(1).max(100_000).default(200),
    simulatorCustomers: z.coerce.number().int().min(1).max(10_000_000).default(2000),
    enrolOnUnknownPhone: onOff.default(true),
    enrolOnUnknownCard: onOff.default(false),
    programmeSelection: z.enum(["strongestScope", "bestForCustomer"]).default("strongestScope"),
    timeZone: z
      .string()
      .min(1)
      .refine(isTimeZone, "must be an IANA time zone such as Europe/Warsaw")
      .default("UTC"),
    returns: z.object({ whenSpent: z.enum(["negative", "clamp"]).default("negative") }).strict().default({ whenSpent: "negative" }),
    holdTtlMsDefault: z.coerce.number().int().min(1000).max(86_400_000).default(120_000),
    stream: onOff.default(true),
    expiry: z
      .object({
        noticeDays: z.coerce.number().int().min(0).max(366).default(30),
        sweepMs: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
      })
      .strict()
      .default({ noticeDays: 30, sweepMs: 60_000 }),
    /** The window around the engine's clock that an event's `at` must fall in (ms either side). */
    events: z
      .object({
        lateMsMax: z.coerce.number().int().min(0).max(EVENT_LATE_MS_CEILING).default(limits.eventLateMsDefault),
        futureMsMax: z.coerce.number().int().min(0).max(EVENT_FUTURE_MS_CEILING).default(limits.eventFutureMsDefault),
        /** LOYALTY_EVENTS retention when the engine creates it: age and size (0 = unlimited). */
        streamMaxAgeMs: z.coerce.number().int().min(0).default(0),
        streamMaxBytes: z.coerce.number().int().min(0).default(0),
        /** Whether the stream refuses deleting single messages / purging (the record of what tills sent). */
        streamDenyDelete: onOff.default(true),
        streamDenyPurge: onOff.default(true),
        /** How long an event delivered to a run that died waits before it is delivered again, ms. */
        ackWaitMs: z.coerce.number().int().min(1000).max(3_600_000).default(limits.streamAckWaitMs),
      })
      .strict()
      .default({
        lateMsMax: limits.eventLateMsDefault,
        futureMsMax: limits.eventFutureMsDefault,
        streamMaxAgeMs: 0,
        streamMaxBytes: 0,
        streamDenyDelete: true,
        streamDenyPurge: true,
        ackWaitMs: limits.streamAckWaitMs,
      }),
    /** Notifications: stream LOYALTY_NOTIFY, the outbox, birthdays (docs/operations.md, Notifications). */
    notify: z
      .object({
        /** Each notification written to the ledger's outbox with its effect and kept until JetStream stored it. */
        outbox: onOff.default(NOTIFY_DEFAULTS.outbox),
        /** LOYALTY_NOTIFY retention: age and size (0 = unlimited). */
        streamMaxAgeMs: z.coerce.number().int().min(0).default(NOTIFY_DEFAULTS.streamMaxAgeMs),
        streamMaxBytes: z.coerce.number().int().min(0).default(NOTIFY_DEFAULTS.streamMaxBytes),
        /** How long LOYALTY_NOTIFY remembers a Nats-Msg-Id to drop a re-send of it, ms. */
        duplicateWindowMs: z.coerce.number().int().min(1000).max(86_400_000).default(NOTIFY_DEFAULTS.duplicateWindowMs),
        /** The local hour (config timeZone) from which the day's birthday notifications go out. */
        birthdayHour: z.coerce.number().int().min(0).max(23).default(NOTIFY_DEFAULTS.birthdayHour),
        /** How often the birthday sweeper looks at the day's birthdays, ms. */
        birthdaySweepMs: z.coerce.number().int().min(100).max(86_400_000).default(NOTIFY_DEFAULTS.birthdaySweepMs),
      })
      .strict()
      .refine((n) => n.streamMaxAgeMs === 0 || n.duplicateWindowMs <= n.streamMaxAgeMs, {
        message: "must be at most notify.streamMaxAgeMs",
        path: ["duplicateWindowMs"],
      })
      .default(NOTIFY_DEFAULTS),
    /** Distributors' sales reports: verification and approval (docs/b2b.md). */
    reports: z
      .object({
        /** A report whose checks all pass is approved on submission; off: every report waits for an operator. */
        autoApprove: onOff.default(REPORT_OPTIONS_DEFAULT.autoApprove),
        /** The currency of a report that names none. */
        currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as PLN").default(REPORT_OPTIONS_DEFAULT.currency),
        /** Days before the engine's local today an invoice may be dated. */
        windowDaysBack: z.coerce.number().int().min(0).max(3650).default(REPORT_OPTIONS_DEFAULT.windowDaysBack),
        /** Days after it (time zones, clock skew). */
        windowDaysAhead: z.coerce.number().int().min(0).max(366).default(REPORT_OPTIONS_DEFAULT.windowDaysAhead),
        /** A line above the participant's 99th percentile of qty (or amount) times this is implausible. */
        plausibilityFactor: z.coerce.number().min(1).max(1000).default(REPORT_OPTIONS_DEFAULT.plausibilityFactor),
        /** Approved lines of history a participant needs before the plausibility checks apply. */
        plausibilityHistoryMin: z.coerce.number().int().min(1).max(limits.reportHistoryMax).default(REPORT_OPTIONS_DEFAULT.plausibilityHistoryMin),
        /** How far a line's amount may be from qty × the product's listPrice, percent. */
        priceTolerancePct: z.coerce.number().min(0).max(100).default(REPORT_OPTIONS_DEFAULT.priceTolerancePct),
        /** Percentages of a sales target's goal at which target.progress is published (a list, or "50,80" from the environment). */
        targetMilestonesPct: z
          .preprocess((v) => (typeof v === "string" ? (v.trim() === "" ? [] : v.split(",").map((x) => Number(x.trim()))) : v), z.array(z.number().int().min(1).max(99)).max(10))
          .transform((xs) => [...new Set(xs)].sort((a, b) => a - b))
          .default([...REPORT_OPTIONS_DEFAULT.targetMilestonesPct]),
      })
      .strict()
      .default({ ...REPORT_OPTIONS_DEFAULT, targetMilestonesPct: [...REPORT_OPTIONS_DEFAULT.targetMilestonesPct] }),
    /** The participant portal's sign-in by one-time code (config/portal.ts). */
    portal: portalConfigSchema,
    /** Cluster mode: instances on one NATS cluster share the virtual partitions (config/cluster.ts; docs/operations.md, Scale-out). */
    cluster: clusterConfigSchema,
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** How long idempotency records, closed holds and event records are kept (docs/operations.md, Retention). */
    retention: z
      .object({
        requestsMs: retentionWindow(limits.retentionWindowMsMin).default(limits.retentionRequestsMsDefault),
        holdsMs: retentionWindow(0).default(limits.retentionHoldsMsDefault),
        /** null: the longer of limits.retentionSalesMsDefault and events.lateMsMax. */
        salesMs: retentionWindow(limits.retentionWindowMsMin).nullable().default(null),
        sweepMs: z.coerce.number().int().min(100).max(3_600_000).default(limits.retentionSweepMsDefault),
        scanMax: z.coerce.number().int().min(1).max(limits.retentionScanMaxCeiling).default(limits.retentionScanMaxDefault),
      })
      .strict()
      .default(RETENTION_DEFAULT),
  })
  .strict()
  .refine((c) => !c.cluster.enabled || c.nats.url !== null, {
    message: "needs nats.url: the instances of a cluster share one NATS cluster, not each its own embedded server",
    path: ["cluster", "enabled"],
  })
  .refine((c) => c.admin.port === null || c.admin.port === 0 || c.admin.port !== c.http.port, {
    message: "must differ from http.port",
    path: ["admin", "port"],
  })
  // An event record may go only when a re-send could no longer be applied anyway: its
  // `at` is then outside the event window, so the re-send is refused, never applied again.
  .superRefine((c, ctx) => {
    const sales = c.retention.salesMs;
    if (sales !== null && sales !== 0 && sales < c.events.lateMsMax) {
      ctx.addIssue({ code: "custom", path: ["retention", "salesMs"], message: `must be 0 (keep for ever) or at least events.lateMsMax (${c.events.lateMsMax} ms)` });
    }
  })
  .transform((c) => ({
    ...c,
    retention: { ...c.retention, salesMs: c.retention.salesMs ?? Math.max(limits.retentionSalesMsDefault, c.events.lateMsMax) },
  }));

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Every leaf key, dotted, for the environment mapping (and the deploy files' test). */
export const LEAF_KEYS = [
  "nats.url", "nats.user", "nats.pass", "nats.passFile", "nats.token", "nats.tokenFile", "nats.credsFile", "nats.nkeySeedFile",
  "nats.tls.ca", "nats.tls.cert", "nats.tls.key", "dataDir", "http.port", "http.host", "adminToken", "programmesDir", "partitions", "executor", "watchdogMs",
  "admission.queueWaitMs", "admission.backlogMin",
  "simulator", "simulatorRate", "simulatorCustomers", "enrolOnUnknownPhone", "enrolOnUnknownCard", "programmeSelection", "timeZone",
  "returns.whenSpent", "holdTtlMsDefault", "stream", "logLevel", "expiry.noticeDays", "expiry.sweepMs",
  "events.lateMsMax", "events.futureMsMax", "events.streamMaxAgeMs", "events.streamMaxBytes", "events.streamDenyDelete", "events.streamDenyPurge", "events.ackWaitMs",
  "http.headersTimeoutMs", "http.requestTimeoutMs", "http.keepAliveTimeoutMs", "http.connectionTimeoutMs", "http.connectionsMax",
  "terminalAuth.keysFile", "admin.port", "admin.host", "admin.operatorsFile", "admin.approvalAbove",
  "rateLimits.enabled", "rateLimits.exemptLoopback",
  ...(["credential", "ip"] as const).flatMap((who) =>
    (["lookupsPerMinute", "lookupBurst", "enrolmentsPerMinute", "enrolmentBurst"] as const).map((k) => `rateLimits.${who}.${k}` as const),
  ),
  "retention.requestsMs", "retention.holdsMs", "retention.salesMs", "retention.sweepMs", "retention.scanMax",
  "reports.autoApprove", "reports.currency", "reports.windowDaysBack", "reports.windowDaysAhead", "reports.plausibilityFactor",
  "reports.plausibilityHistoryMin", "reports.priceTolerancePct", "reports.targetMilestonesPct",
  ...CLUSTER_LEAF_KEYS,
  "notify.outbox", "notify.streamMaxAgeMs", "notify.streamMaxBytes", "notify.duplicateWindowMs", "notify.birthdayHour", "notify.birthdaySweepMs",
  ...PORTAL_LEAF_KEYS,
] as const;

export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`invalid configuration: ${key}: ${message}`);
  }
}

/** LOYALTYD_ + key upper-cased, dots as underscores (dataDir -> LOYALTYD_DATADIR); LOYALTYD_DATA_DIR is accepted too. */
export function envNamesFor(key: string): string[] {
  const literal = "LOYALTYD_" + key.replace(/\./g, "_").toUpperCase();
  const snake = "LOYALTYD_" + key.replace(/\./g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  return literal === snake ? [literal] : [literal, snake];
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== "object" || node[p] === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** A JSON or YAML file (YAML by its .yaml/.yml name) whose top level is an object; errors name `key`. */
export function readFile(file: string, key = "--config"): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the top level must be an object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(key, `cannot parse ${file}: ${(err as Error).message}`);
  }
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Config {
  const raw: Record<string, unknown> = opts.file ? readFile(opts.file) : {};
  const env = opts.env ?? process.env;
  for (const key of LEAF_KEYS) {
    for (const name of envNamesFor(key)) {
      const v = env[name];
      if (v !== undefined && v !== "") {
        // URLs, secrets and paths stay strings: a password of digits is not a number.
        setPath(raw, key, key.startsWith("nats.") || key === "adminToken" || key === "cluster.instanceId" ? v : coerceScalar(v));
        break;
      }
    }
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setPath(raw, k, v);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const unknown = (issue as { keys?: string[] }).keys?.[0];
    const path = unknown ? [...issue.path, unknown] : issue.path;
    const key = path.length ? path.join(".") : "(root)";
    throw new ConfigError(key, issue.message);
  }
  const cfg = result.data;
  cfg.dataDir = resolve(cfg.dataDir);
  cfg.programmesDir = resolve(cfg.programmesDir);
  if (cfg.terminalAuth.keysFile !== null) cfg.terminalAuth.keysFile = resolve(cfg.terminalAuth.keysFile);
  if (cfg.admin.operatorsFile !== null) cfg.admin.operatorsFile = resolve(cfg.admin.operatorsFile);
  return Object.freeze(cfg);
}

function coerceScalar(v: string): unknown {
  if (v === "true" || v === "false" || v === "on" || v === "off") return v;
  if (/^-?\d+$/.test(v)) return Number(v);
  return v;
}
