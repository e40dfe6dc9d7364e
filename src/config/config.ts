// Configuration: defaults <- file (JSON or YAML) <- LOYALTYD_* environment, validated
// once at start (errors name the key), then frozen.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { limits } from "../limits.js";
import { isTimeZone } from "../rules/time.js";

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

const onOff = z.union([z.boolean(), z.enum(["on", "off", "true", "false"])]).transform((v) => v === true || v === "on" || v === "true");

export const configSchema = z
  .object({
    nats: z.object({ url: z.string().url().nullable().default(null) }).strict().default({ url: null }),
    dataDir: z.string().min(1).default("./data"),
    http: z
      .object({
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        host: z.string().min(1).default("127.0.0.1"),
      })
      .strict()
      .default({ port: 8080, host: "127.0.0.1" }),
    adminToken: z.string().min(8).nullable().default(null),
    programmesDir: z.string().min(1).default("./config/programmes"),
    partitions: z.coerce.number().int().min(1).max(64).default(1),
    /** "workers": one single-thread Piscina pool per partition; "inline": all partitions on the main thread. */
    executor: z.enum(["workers", "inline"]).default("workers"),
    simulator: onOff.default(false),
    simulatorRate: z.coerce.number().int().min(1).max(100_000).default(200),
    simulatorCustomers: z.coerce.number().int().min(1).max(10_000_000).default(2000),
    enrolOnUnknownPhone: onOff.default(true),
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
      })
      .strict()
      .default({
        lateMsMax: limits.eventLateMsDefault,
        futureMsMax: limits.eventFutureMsDefault,
        streamMaxAgeMs: 0,
        streamMaxBytes: 0,
        streamDenyDelete: true,
        streamDenyPurge: true,
      }),
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

/** Every leaf key, dotted, for the environment mapping. */
const LEAF_KEYS = [
  "nats.url", "dataDir", "http.port", "http.host", "adminToken", "programmesDir", "partitions", "executor",
  "simulator", "simulatorRate", "simulatorCustomers", "enrolOnUnknownPhone", "programmeSelection", "timeZone",
  "returns.whenSpent", "holdTtlMsDefault", "stream", "logLevel", "expiry.noticeDays", "expiry.sweepMs",
  "events.lateMsMax", "events.futureMsMax", "events.streamMaxAgeMs", "events.streamMaxBytes", "events.streamDenyDelete", "events.streamDenyPurge",
  "retention.requestsMs", "retention.holdsMs", "retention.salesMs", "retention.sweepMs", "retention.scanMax",
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

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError("--config", `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the top level must be an object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError("--config", `cannot parse ${file}: ${(err as Error).message}`);
  }
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): Config {
  const raw: Record<string, unknown> = opts.file ? readFile(opts.file) : {};
  const env = opts.env ?? process.env;
  for (const key of LEAF_KEYS) {
    for (const name of envNamesFor(key)) {
      const v = env[name];
      if (v !== undefined && v !== "") {
        setPath(raw, key, key === "nats.url" || key === "adminToken" ? v : coerceScalar(v));
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
  return Object.freeze(cfg);
}

function coerceScalar(v: string): unknown {
  if (v === "true" || v === "false" || v === "on" || v === "off") return v;
  if (/^-?\d+$/.test(v)) return Number(v);
  return v;
}
