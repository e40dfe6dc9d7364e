// Latency recording in HDR histograms (hdr-histogram-js): microsecond resolution, 3
// significant digits, so a p99.9 is as trustworthy as a p50. Shared with bench/.
import { build, type Histogram } from "hdr-histogram-js";

/** Longest latency tracked, µs; anything slower is clamped (it is a failure anyway). */
const LATENCY_US_MAX = 120_000_000;

export type LatencyHistogram = Histogram;

export function latencyHistogram(): LatencyHistogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 });
}

/** Records a duration given in milliseconds (e.g. a performance.now() difference). */
export function recordMs(h: LatencyHistogram, ms: number): void {
  h.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(ms * 1000))));
}

/** Percentile in milliseconds; 0 when nothing was recorded. */
export function percentileMs(h: LatencyHistogram, percentile: number): number {
  return h.totalCount === 0 ? 0 : h.getValueAtPercentile(percentile) / 1000;
}
