// Local calendar facts of an instant in an IANA time zone (weekday, hour, start of next
// year). Intl does the zone maths; formatters and hourly UTC offsets are cached so that a
// warm lookup allocates nothing. Time always comes from the caller (the event's `at`).

const hourMs = 3_600_000;
const dayMs = 86_400_000;
/** Hour buckets remembered per zone before the cache is cleared (bounds memory). */
const offsetCacheMax = 4096;

const formatters = new Map<string, Intl.DateTimeFormat>();

interface ZoneCache {
  lastBucket: number;
  lastOffsetMs: number;
  byBucket: Map<number, number>;
}
const zoneCaches = new Map<string, ZoneCache>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True when Intl knows the zone (e.g. "Europe/Warsaw", "UTC"). */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** local wall time - UTC, in ms, at instant `at` (second precision is all zones need). */
function offsetUncached(zone: string, at: number): number {
  const seconds = Math.floor(at / 1000) * 1000;
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const part of formatterFor(zone).formatToParts(seconds)) {
    switch (part.type) {
      case "year": y = Number(part.value); break;
      case "month": mo = Number(part.value); break;
      case "day": d = Number(part.value); break;
      case "hour": h = Number(part.value); break;
      case "minute": mi = Number(part.value); break;
      case "second": s = Number(part.value); break;
      default: break;
    }
  }
  return Date.UTC(y, mo - 1, d, h, mi, s) - seconds;
}

/**
 * UTC offset of `zone` at `at`, ms. Cached per UTC hour: a bucket is cached only when the
 * offset is the same at both of its ends, so an hour holding a DST switch is never cached.
 */
export function zoneOffsetMs(zone: string, at: number): number {
  const bucket = Math.floor(at / hourMs);
  let cache = zoneCaches.get(zone);
  if (cache === undefined) {
    cache = { lastBucket: Number.NaN, lastOffsetMs: 0, byBucket: new Map() };
    zoneCaches.set(zone, cache);
  }
  if (cache.lastBucket === bucket) return cache.lastOffsetMs;
  const known = cache.byBucket.get(bucket);
  if (known !== undefined) {
    cache.lastBucket = bucket;
    cache.lastOffsetMs = known;
    return known;
  }
  const start = bucket * hourMs;
  const atStart = offsetUncached(zone, start);
  const atEnd = offsetUncached(zone, start + hourMs - 1);
  if (atStart !== atEnd) return offsetUncached(zone, at);
  if (cache.byBucket.size >= offsetCacheMax) cache.byBucket.clear();
  cache.byBucket.set(bucket, atStart);
  cache.lastBucket = bucket;
  cache.lastOffsetMs = atStart;
  return atStart;
}

/** ISO weekday (1 = Monday .. 7 = Sunday) of the local date at `at`. */
export function localWeekday(zone: string, at: number): number {
  const day = Math.floor((at + zoneOffsetMs(zone, at)) / dayMs);
  // 1970-01-01 (day 0) was a Thursday, ISO 4.
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/** Local hour of day (0..23) at `at`. */
export function localHour(zone: string, at: number): number {
  const local = at + zoneOffsetMs(zone, at);
  return Math.floor((((local % dayMs) + dayMs) % dayMs) / hourMs);
}

/** First instant (epoch ms) of the local year after the one that holds `at`. */
export function startOfNextYear(zone: string, at: number): number {
  const year = new Date(at + zoneOffsetMs(zone, at)).getUTCFullYear();
  const localMidnight = Date.UTC(year + 1, 0, 1);
  // The offset that applies at the target instant, found by two fixed-point steps.
  let t = localMidnight - zoneOffsetMs(zone, localMidnight);
  const offset = zoneOffsetMs(zone, t);
  t = localMidnight - offset;
  return t;
}
