// The Live page's figures from the engine's /metrics text: the same Sample the demo's screen
// reads from the registry in process, and the same arithmetic (src/demo/status.ts), so the
// console, the demo and the Grafana dashboard agree.
import { bucketsOf, type Sample } from "../../../src/demo/status.js";

interface Value {
  metricName: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of the Prometheus text format (comments skipped), by family name prefix. */
export function parseMetrics(text: string): Value[] {
  const out: Value[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) labels[k!] = v!.replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c));
    out.push({ metricName: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The demo's Sample, read off a scrape. */
export function sampleOf(values: Value[], atMs: number): Sample {
  const of = (name: string) => values.filter((v) => v.metricName === name);
  const family = (name: string) => values.filter((v) => v.metricName.startsWith(name));
  const sum = (vs: Value[]) => vs.reduce((a, v) => a + v.value, 0);
  const rejected: Record<string, number> = {};
  for (const v of of("loyalty_rejected_total")) rejected[v.labels.code ?? "?"] = (rejected[v.labels.code ?? "?"] ?? 0) + v.value;
  const moved = (movement: string) => sum(of("loyalty_points_total").filter((v) => v.labels.movement === movement));
  return {
    atMs,
    events: sum(of("loyalty_events_total")),
    rejected,
    points: { earned: moved("earned"), takenBack: moved("taken_back"), redeemed: moved("redeemed") },
    accrual: bucketsOf(family("loyalty_stream_event_duration_seconds")),
    authorize: bucketsOf(family("loyalty_request_duration_seconds"), (l) => l.verb === "authorize"),
    lagMessages: sum(of("loyalty_stream_consumer_pending_messages")),
    ackPending: sum(of("loyalty_stream_consumer_ack_pending_messages")),
  };
}
