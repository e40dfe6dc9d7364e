// Who is in the cluster and who owns what, read from the two buckets: what
// `GET /v1/admin/cluster` and `loyaltyd cluster status` show. Read-only.
import { limits } from "../limits.js";
import { readInstances, readLeases, type Buckets } from "./kv.js";

export interface InstanceStatus {
  instanceId: string;
  state: "up" | "left";
  startedAt: number;
  /** Since its last heartbeat (this reader's clock against the instance's), ms. */
  heartbeatAgeMs: number;
  /** Partitions the lease bucket says it holds now. */
  owned: number;
  httpPort: number | null;
  adminPort: number | null;
  /** LOYALTY_EVENTS messages not yet delivered to the engines, as this instance last saw it; null when unknown. */
  eventsPending: number | null;
}

export interface PartitionStatus {
  partition: number;
  /** Its lease holder; null when free, or given up and not yet taken. */
  owner: string | null;
  state: "held" | "released" | "free";
  /** A released lease: the instance it was handed to (null: whoever takes it once it expires). */
  heir?: string | null;
  /** Since its holder acquired it, ms; null when not held. */
  leaseAgeMs: number | null;
  /** Since NATS last stored the lease (its last renewal), ms; null when free. */
  renewedAgoMs: number | null;
  /**
   * Log sequences of this partition its owner knows of and has not applied yet (a takeover
   * replaying the log; 0 once it serves), as of the owner's last heartbeat; null when it
   * has no owner or the owner does not say.
   */
  lag: number | null;
}

export interface ClusterStatus {
  partitionsTotal: number;
  instances: InstanceStatus[];
  partitions: PartitionStatus[];
}

export async function readClusterStatus(b: Buckets, partitions: number, now: number): Promise<ClusterStatus> {
  const [instances, leases] = await Promise.all([readInstances(b, limits.clusterInstancesMax), readLeases(b, partitions)]);
  const lagOf = (owner: string, partition: number): number | null => instances.find((i) => i.instanceId === owner)?.lag[String(partition)] ?? null;
  const rows: PartitionStatus[] = leases.map((e, partition) => {
    if (e === null) return { partition, owner: null, state: "free", leaseAgeMs: null, renewedAgoMs: null, lag: null };
    const renewedAgoMs = Math.max(0, now - e.storedAt);
    const r = e.record;
    if (r === null || r.state === "released") return { partition, owner: null, state: "released", heir: r?.heir ?? null, leaseAgeMs: null, renewedAgoMs, lag: null };
    return { partition, owner: r.owner, state: "held", leaseAgeMs: Math.max(0, now - r.acquiredAt), renewedAgoMs, lag: lagOf(r.owner, partition) };
  });
  const owned = new Map<string, number>();
  for (const r of rows) if (r.owner !== null) owned.set(r.owner, (owned.get(r.owner) ?? 0) + 1);
  return {
    partitionsTotal: partitions,
    instances: instances.map((i) => ({
      instanceId: i.instanceId,
      state: i.state,
      startedAt: i.startedAt,
      heartbeatAgeMs: Math.max(0, now - i.heartbeatAt),
      owned: owned.get(i.instanceId) ?? 0,
      httpPort: i.httpPort,
      adminPort: i.adminPort,
      eventsPending: i.eventsPending,
    })),
    partitions: rows,
  };
}

/** The status as a few lines of text for a terminal. */
export function formatClusterStatus(s: ClusterStatus): string {
  const lines = [`${s.instances.length} instance(s), ${s.partitionsTotal} partitions`];
  for (const i of s.instances) {
    const mine = s.partitions.filter((p) => p.owner === i.instanceId).map((p) => p.partition);
    const lag = i.eventsPending === null ? "" : `, events pending ${i.eventsPending}`;
    lines.push(`  ${i.instanceId} (${i.state}, heartbeat ${i.heartbeatAgeMs} ms ago${lag}): ${mine.length} partitions ${compactRanges(mine)}`);
  }
  const unowned = s.partitions.filter((p) => p.owner === null).map((p) => p.partition);
  if (unowned.length > 0) lines.push(`  unowned: ${compactRanges(unowned)}`);
  const ages = s.partitions.flatMap((p) => (p.leaseAgeMs === null ? [] : [p.leaseAgeMs]));
  if (ages.length > 0) lines.push(`  lease age: youngest ${Math.min(...ages)} ms, oldest ${Math.max(...ages)} ms`);
  const behind = s.partitions.filter((p) => (p.lag ?? 0) > 0);
  if (behind.length > 0) lines.push(`  replaying: ${behind.map((p) => `${p.partition} (${p.lag} log messages behind)`).join(", ")}`);
  return lines.join("\n");
}

/** [0,1,2,5,7,8] -> "0-2,5,7-8". */
export function compactRanges(ns: number[]): string {
  const out: string[] = [];
  const sorted = [...ns].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(",");
}
