// PURE: who should own how many virtual partitions, and what one instance does about it
// this round (give up its excess to named heirs, take over free or inherited ones). No I/O.
import { partitionOf } from "../partition/hash.js";

/**
 * Each live instance's fair share of `partitions`: members sorted by id, the first
 * `partitions % n` get one more. Every instance computes the same split from the same
 * member list; while lists differ (a join seen by some only) shares may briefly
 * overlap or leave gaps, which the next rounds undo.
 */
export function fairShares(members: readonly string[], partitions: number): Map<string, number> {
  const sorted = [...new Set(members)].sort();
  const out = new Map<string, number>();
  if (sorted.length === 0) return out;
  const base = Math.floor(partitions / sorted.length);
  const extra = partitions % sorted.length;
  sorted.forEach((m, i) => out.set(m, base + (i < extra ? 1 : 0)));
  return out;
}

/**
 * Rendezvous (highest-random-weight) score of an instance for a partition: each
 * instance prefers its own high scorers, so claimers spread over different free
 * partitions instead of all racing for partition 0, and an instance that comes back
 * tends to get the same partitions.
 */
export function affinity(instanceId: string, partition: number): number {
  return partitionOf(`${instanceId}#${partition}`, 0x7fffffff);
}

/** One partition's lease as this instance last read it. */
export type LeaseView =
  /** No lease: never taken, expired, or not visible. `seenFreeBefore`: also free at the previous read. */
  | { partition: number; state: "free"; seenFreeBefore: boolean }
  /** Held by `owner`. `mine`: written by this very incarnation (an acknowledgement we missed). */
  | { partition: number; state: "held"; owner: string; mine: boolean }
  /** Given up by its owner, to `heir` only (null: to whoever takes it once it expires). */
  | { partition: number; state: "released"; heir: string | null };

export interface Plan {
  /** Partitions to give up (fewest first by affinity), each with the instance that may inherit it. */
  release: { partition: number; heir: string | null }[];
  /** Partitions to take: "create" a free lease, or "update" one this instance alone may write (inherited, or its own). */
  take: { partition: number; how: "create" | "update" }[];
}

/**
 * This instance's moves for one round. `held`: the partitions it holds and is not
 * already giving up. It always takes what is addressed to it (inherited, or its own
 * write whose acknowledgement it missed): a releaser's view may be a round old, and an
 * heir that ends up above its share hands the excess on at once, which beats leaving
 * the lease to expire. Otherwise it creates leases seen free twice up to its share, or
 * gives up what is above it. Only such creates, and updates of a lease addressed to
 * this instance, are ever planned: two instances never write the same lease revision
 * (see docs/operations.md, Scale-out, on nats-server 2.9).
 */
export function planRound(self: string, members: readonly string[], partitions: number, leases: readonly LeaseView[], held: ReadonlySet<number>): Plan {
  const shares = fairShares([...members, self], partitions);
  const target = shares.get(self)!;
  const byAffinity = (a: number, b: number) => affinity(self, b) - affinity(self, a) || a - b;
  const addressed = leases
    .filter((l) => !held.has(l.partition) && ((l.state === "released" && l.heir === self) || (l.state === "held" && l.mine)))
    .map((l) => l.partition)
    .sort(byAffinity);
  const take = addressed.map((partition) => ({ partition, how: "update" as const }));
  const have = held.size + addressed.length;
  if (have > target) {
    const victims = [...held].sort((a, b) => affinity(self, a) - affinity(self, b) || a - b).slice(0, Math.min(held.size, have - target));
    return { release: handOver(self, shares, leases, victims), take };
  }
  const creates = leases
    .filter((l) => l.state === "free" && l.seenFreeBefore)
    .map((l) => l.partition)
    .sort(byAffinity)
    .slice(0, target - have);
  return { release: [], take: [...take, ...creates.map((partition) => ({ partition, how: "create" as const }))] };
}

/**
 * Heirs for the partitions `self` gives up: each goes to the member (other than self)
 * furthest below its share in `shares`, counting what the leases already give it;
 * null when every other member has its share.
 */
export function handOver(self: string, shares: ReadonlyMap<string, number>, leases: readonly LeaseView[], victims: readonly number[]): Plan["release"] {
  const owned = new Map<string, number>();
  for (const l of leases) {
    const to = l.state === "held" ? l.owner : l.state === "released" ? l.heir : null;
    if (to !== null && to !== self) owned.set(to, (owned.get(to) ?? 0) + 1);
  }
  const deficit = new Map<string, number>();
  for (const [m, share] of shares) if (m !== self) deficit.set(m, share - (owned.get(m) ?? 0));
  return victims.map((partition) => {
    let heir: string | null = null;
    for (const [m, d] of deficit) if (d > 0 && (heir === null || d > deficit.get(heir)! || (d === deficit.get(heir)! && m < heir))) heir = m;
    if (heir !== null) deficit.set(heir, deficit.get(heir)! - 1);
    return { partition, heir };
  });
}
