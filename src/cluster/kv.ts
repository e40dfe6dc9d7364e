// The two NATS KV buckets of cluster mode and what their values say: LOYALTY_INSTANCES
// (one key per instance, its heartbeat) and LOYALTY_LEASES (one key per virtual
// partition, its lease). Values are JSON, validated when read: another version may have
// written them.
import { ErrorCode, NatsError, type KV, type KvEntry, type NatsConnection, type JetStreamManager } from "nats";
import { z } from "zod";

export const INSTANCES_BUCKET = "LOYALTY_INSTANCES";
export const LEASES_BUCKET = "LOYALTY_LEASES";

export const leaseKey = (partition: number): string => `p${partition}`;

const instanceRecord = z.object({
  instanceId: z.string(),
  /** Random per start: tells this run from an earlier one, or from a second process given the same id. */
  incarnation: z.string(),
  state: z.enum(["up", "left"]),
  startedAt: z.number(),
  heartbeatAt: z.number(),
  /** Partitions it owned at its last heartbeat. */
  owned: z.number().int(),
  httpPort: z.number().int().nullable().default(null),
  adminPort: z.number().int().nullable().default(null),
  /** LOYALTY_EVENTS messages not yet delivered to the engines (the consumer's num_pending), when known. */
  eventsPending: z.number().int().nullable().default(null),
  /**
   * Per virtual partition it owns (key: the partition): log sequences it knows of and has
   * not applied yet (a takeover replaying), for the status's `lag`. Absent: an older version.
   */
  lag: z.record(z.string(), z.number().int()).default({}),
});
export type InstanceRecord = z.infer<typeof instanceRecord>;

const leaseRecord = z.discriminatedUnion("state", [
  z.object({ state: z.literal("held"), owner: z.string(), incarnation: z.string(), acquiredAt: z.number() }),
  z.object({ state: z.literal("released"), owner: z.string(), incarnation: z.string(), heir: z.string().nullable(), releasedAt: z.number() }),
]);
export type LeaseRecord = z.infer<typeof leaseRecord>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const encodeRecord = (r: InstanceRecord | LeaseRecord): Uint8Array => encoder.encode(JSON.stringify(r));

function decode<T>(schema: z.ZodType<T>, entry: KvEntry): T | null {
  try {
    const r = schema.safeParse(JSON.parse(decoder.decode(entry.value)));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** A lease as read: its record (null: a delete marker or a value this version cannot read), revision and server time. */
export interface LeaseEntry {
  partition: number;
  record: LeaseRecord | null;
  revision: number;
  /** When NATS stored it (its leader's clock), epoch ms. */
  storedAt: number;
}

export interface Buckets {
  instances: KV;
  leases: KV;
  jsm: JetStreamManager;
}

export class ClusterBucketError extends Error {}

/** One try at setting a bucket up, ms. */
const SETUP_TRY_MS = 2000;

/**
 * Opens (creating when missing) both buckets with `replicas` copies and a max age of
 * `leaseTtlMs`, one value per key. Setting up waits up to `setupTimeoutMs`; each lease
 * operation afterwards `opTimeoutMs`, and reads go to the stream leader (not to any
 * replica): fresher, and unanswered while there is no leader. An existing bucket with
 * another max age is refused: instances that disagree on the lease lifetime could
 * believe in a lease NATS already dropped.
 */
export async function openBuckets(nc: NatsConnection, opts: { replicas: number; leaseTtlMs: number; opTimeoutMs: number; setupTimeoutMs: number }): Promise<Buckets> {
  // Short tries, repeated: a stream just created (by us or a concurrent instance) answers
  // nothing until its RAFT group has a leader, and a request may be lost to that.
  const tryMs = Math.min(opts.setupTimeoutMs, SETUP_TRY_MS);
  const setup = nc.jetstream({ timeout: tryMs });
  const jsm = await nc.jetstreamManager({ timeout: tryMs });
  const deadline = Date.now() + opts.setupTimeoutMs;
  const open = async (name: string): Promise<KV> => {
    for (;;) {
      try {
        return await openOne(name);
      } catch (err) {
        const fatal = err instanceof ClusterBucketError || (err instanceof NatsError && err.code === ErrorCode.PermissionsViolation);
        if (fatal || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const openOne = async (name: string): Promise<KV> => {
    await setup.views.kv(name, { replicas: opts.replicas, history: 1, ttl: opts.leaseTtlMs });
    const info = await jsm.streams.info(`KV_${name}`);
    const ageMs = Math.round(info.config.max_age / 1e6);
    if (ageMs !== opts.leaseTtlMs) {
      throw new ClusterBucketError(
        `the NATS bucket ${name} keeps values ${ageMs} ms but cluster.leaseTtlMs is ${opts.leaseTtlMs}: every instance must use the bucket's lifetime ` +
          "(to change it, stop every instance and delete both cluster buckets; docs/operations.md, Scale-out)",
      );
    }
    return nc.jetstream({ timeout: opts.opTimeoutMs }).views.kv(name, { bindOnly: true, allow_direct: false });
  };
  return { instances: await open(INSTANCES_BUCKET), leases: await open(LEASES_BUCKET), jsm: await nc.jetstreamManager({ timeout: opts.opTimeoutMs }) };
}

/** Binds to existing buckets without creating anything (the status command). */
export async function bindBuckets(nc: NatsConnection, timeoutMs: number): Promise<Buckets> {
  const js = nc.jetstream({ timeout: timeoutMs });
  const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
  const bind = async (name: string) => {
    await jsm.streams.info(`KV_${name}`); // throws "stream not found" when cluster mode never ran
    return js.views.kv(name, { bindOnly: true, allow_direct: false });
  };
  return { instances: await bind(INSTANCES_BUCKET), leases: await bind(LEASES_BUCKET), jsm };
}

/** Every instance record present (heartbeat not expired), at most `max`. */
export async function readInstances(b: Buckets, max: number): Promise<InstanceRecord[]> {
  const info = await b.jsm.streams.info(`KV_${INSTANCES_BUCKET}`, { subjects_filter: `$KV.${INSTANCES_BUCKET}.>` });
  const prefix = `$KV.${INSTANCES_BUCKET}.`;
  const keys = Object.keys(info.state.subjects ?? {})
    .map((s) => s.slice(prefix.length))
    .sort()
    .slice(0, max);
  const entries = await Promise.all(keys.map((k) => b.instances.get(k)));
  return entries.flatMap((e) => (e && e.operation === "PUT" ? (decode(instanceRecord, e) ?? []) : []));
}

/** One lease, or null when its key holds nothing (never taken, or expired). */
export async function readLease(b: Buckets, partition: number): Promise<LeaseEntry | null> {
  const e = await b.leases.get(leaseKey(partition));
  if (!e) return null;
  return { partition, record: e.operation === "PUT" ? decode(leaseRecord, e) : null, revision: e.revision, storedAt: e.created.getTime() };
}

export async function readLeases(b: Buckets, partitions: number): Promise<(LeaseEntry | null)[]> {
  return Promise.all(Array.from({ length: partitions }, (_, p) => readLease(b, p)));
}

/**
 * Writes a lease only if its key still holds `revision`, or nothing at all when 0 (a
 * create); resolves with the new revision. Not `kv.create`: on a delete marker that
 * falls back to an update several claimers could race on.
 */
export async function writeLease(b: Buckets, partition: number, record: LeaseRecord, revision: number): Promise<number> {
  return b.leases.put(leaseKey(partition), encodeRecord(record), { previousSeq: revision });
}

/** The lease's key held another revision than the one the write expected: someone else wrote it, or it expired. */
export function isWrongRevision(err: unknown): boolean {
  return err instanceof NatsError && err.api_error?.err_code === 10071;
}
