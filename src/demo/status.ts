// The demo's live figures, read from the engine's own metrics registry (observe/metrics.ts)
// in process: samples of the cumulative counters and histograms, and what two samples a
// window apart say (rates, latency quantiles the way Prometheus's histogram_quantile
// computes them from the same buckets, so the screen and the dashboard agree).
import type { Metrics } from "../observe/metrics.js";

/** A histogram's cumulative counts per upper bound (`le`), ascending, the last one +Inf. */
export interface Buckets {
  le: number[];
  cumulative: number[];
}

export interface Sample {
  atMs: number;
  /** loyalty_events_total over every label: commands answered, refused ones included. */
  events: number;
  /** loyalty_rejected_total by error code. */
  rejected: Record<string, number>;
  /** loyalty_points_total by movement. */
  points: { earned: number; takenBack: number; redeemed: number };
  /** loyalty_stream_event_duration_seconds: a stream event from its stream time to its durable result. */
  accrual: Buckets;
  /** loyalty_request_duration_seconds{verb="authorize"}, every source. */
  authorize: Buckets;
  /** loyalty_stream_consumer_pending_messages and ..._ack_pending_messages. */
  lagMessages: number;
  ackPending: number;
}

export interface Latency {
  /** Seconds; null when nothing was observed in the window. */
  p50: number | null;
  p99: number | null;
  count: number;
}

export interface Figures {
  windowSec: number;
  eventsPerSec: number;
  eventsTotal: number;
  accrual: Latency;
  authorize: Latency;
  points: Sample["points"];
  errorsPerSec: number;
  errorsTotal: number;
  /** Error codes seen in the window, most frequent first, with their counts. */
  errorCodes: [string, number][];
  lagMessages: number;
  ackPending: number;
}

interface Value {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

/** Sums a histogram's `_bucket` values per `le` over the label sets `keep` accepts. */
export function bucketsOf(values: Value[], keep: (labels: Value["labels"]) => boolean = () => true): Buckets {
  const byLe = new Map<number, number>();
  for (const v of values) {
    if (!v.metricName?.endsWith("_bucket") || !keep(v.labels)) continue;
    const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + v.value);
  }
  const le = [...byLe.keys()].sort((a, b) => a - b);
  return { le, cumulative: le.map((b) => byLe.get(b)!) };
}

/** Reads the figures the demo shows from the registry; cheap enough to run every second. */
export async function sampleMetrics(m: Metrics, atMs: number): Promise<Sample> {
  const [events, rejected, points, stream, requests, lag, ackPending] = await Promise.all([
    m.events.get(),
    m.rejected.get(),
    m.points.get(),
    m.streamDuration.get(),
    m.requestDuration.get(),
    m.consumerLag.get(),
    m.consumerAckPending.get(),
  ]);
  const byCode: Record<string, number> = {};
  for (const v of rejected.values) {
    const code = String(v.labels.code);
    byCode[code] = (byCode[code] ?? 0) + v.value;
  }
  const moved = (movement: string) => points.values.filter((v) => v.labels.movement === movement).reduce((a, v) => a + v.value, 0);
  return {
    atMs,
    events: events.values.reduce((a, v) => a + v.value, 0),
    rejected: byCode,
    points: { earned: moved("earned"), takenBack: moved("taken_back"), redeemed: moved("redeemed") },
    accrual: bucketsOf(stream.values),
    authorize: bucketsOf(requests.values, (l) => l.verb === "authorize"),
    lagMessages: lag.values[0]?.value ?? 0,
    ackPending: ackPending.values[0]?.value ?? 0,
  };
}

/** later − earlier, bucket by bucket (the bounds of one histogram never change). */
export function bucketsDelta(later: Buckets, earlier: Buckets | null): Buckets {
  if (!earlier) return later;
  const before = new Map(earlier.le.map((le, i) => [le, earlier.cumulative[i]!]));
  return { le: later.le, cumulative: later.le.map((le, i) => later.cumulative[i]! - (before.get(le) ?? 0)) };
}

/**
 * The q-quantile (0 < q < 1) of a cumulative histogram, as Prometheus's histogram_quantile
 * estimates it: find the bucket holding rank q × count and interpolate linearly inside it
 * (from 0 for the first bucket). In the +Inf bucket the answer is the highest finite
 * bound. Null for an empty histogram.
 */
export function quantile(q: number, b: Buckets): number | null {
  const n = b.cumulative.length;
  if (n === 0) return null;
  const total = b.cumulative[n - 1]!;
  if (!(total > 0)) return null;
  const rank = q * total;
  let i = 0;
  while (i < n - 1 && b.cumulative[i]! < rank) i++;
  const upper = b.le[i]!;
  if (upper === Infinity) return n >= 2 ? b.le[n - 2]! : null;
  const lower = i === 0 ? 0 : b.le[i - 1]!;
  const below = i === 0 ? 0 : b.cumulative[i - 1]!;
  const inBucket = b.cumulative[i]! - below;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

function latency(later: Buckets, earlier: Buckets): Latency {
  const d = bucketsDelta(later, earlier);
  return { p50: quantile(0.5, d), p99: quantile(0.99, d), count: d.cumulative[d.cumulative.length - 1] ?? 0 };
}

const sumOf = (r: Record<string, number>): number => Object.values(r).reduce((a, v) => a + v, 0);

/** What happened between `earlier` and `later`: rates and quantiles over that window, totals since the start. */
export function figuresOf(later: Sample, earlier: Sample): Figures {
  const windowSec = Math.max(0.001, (later.atMs - earlier.atMs) / 1000);
  const codes: [string, number][] = Object.entries(later.rejected)
    .map(([code, n]): [string, number] => [code, n - (earlier.rejected[code] ?? 0)])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const errorsTotal = sumOf(later.rejected);
  return {
    windowSec,
    eventsPerSec: (later.events - earlier.events) / windowSec,
    eventsTotal: later.events,
    accrual: latency(later.accrual, earlier.accrual),
    authorize: latency(later.authorize, earlier.authorize),
    points: later.points,
    errorsPerSec: (errorsTotal - sumOf(earlier.rejected)) / windowSec,
    errorsTotal,
    errorCodes: codes,
    lagMessages: later.lagMessages,
    ackPending: later.ackPending,
  };
}

/** Keeps the samples of the last `windowMs` (plus the one just before it) to compare against. */
export class SampleWindow {
  private readonly samples: Sample[] = [];
  constructor(private readonly windowMs: number) {}

  /** Adds a sample; returns the figures over the window that ends with it (null for the first sample). */
  push(s: Sample): Figures | null {
    this.samples.push(s);
    while (this.samples.length > 2 && this.samples[1]!.atMs <= s.atMs - this.windowMs) this.samples.shift();
    const earliest = this.samples[0]!;
    return earliest === s ? null : figuresOf(s, earliest);
  }
}
