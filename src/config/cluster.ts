// Cluster mode's configuration (`cluster.*`): the instance's name, the virtual partitions and
// the copies NATS keeps, the lease timing, snapshots and log trimming, the identity
// directory's repair, and how long a request waits for a partition to be served.
import { z } from "zod";
import { limits } from "../limits.js";
import { onOff } from "./values.js";

/** An instance id is a KV key and a log field: letters, digits, `_` and `-`. */
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const CLUSTER_DEFAULTS = {
  enabled: false,
  instanceId: null,
  partitions: 64,
  replicas: 3 as const,
  leaseTtlMs: limits.clusterLeaseTtlMsDefault,
  renewMs: limits.clusterRenewMsDefault,
  snapshotEveryCommands: limits.clusterSnapshotCommandsDefault,
  snapshotEveryMs: limits.clusterSnapshotMsDefault,
  trimLog: true,
  directorySweepMs: limits.identitySweepMsDefault,
  forwardMsMax: limits.clusterForwardMsMax,
};

/** Cluster mode: instances on one NATS cluster share the virtual partitions (docs/operations.md, Scale-out). */
export const clusterConfigSchema = z
  .object({
    enabled: onOff.default(false),
    /** Unique per instance, stable across its restarts: a KV key, so letters, digits, `_` and `-`. */
    instanceId: z.string().regex(INSTANCE_ID, "letters, digits, _ and - only, at most 64").nullable().default(null),
    /** Virtual partitions, fixed for the deployment's life. */
    partitions: z.coerce.number().int().min(1).max(limits.clusterPartitionsMax).default(64),
    /** Copies NATS keeps of the cluster buckets: 3 on a 3-node cluster; 1 on a single server (trials only). */
    replicas: z.coerce.number().int().refine((r) => r === 1 || r === 3 || r === 5, "must be 1, 3 or 5").default(3),
    leaseTtlMs: z.coerce.number().int().min(500).max(300_000).default(limits.clusterLeaseTtlMsDefault),
    renewMs: z.coerce.number().int().min(100).max(60_000).default(limits.clusterRenewMsDefault),
    /** A served partition is snapshotted after this many commands (cluster/snapshots.ts)... */
    snapshotEveryCommands: z.coerce.number().int().min(1).max(100_000_000).default(limits.clusterSnapshotCommandsDefault),
    /** ...or this long after its last snapshot, when it applied any command since. */
    snapshotEveryMs: z.coerce.number().int().min(1000).max(86_400_000).default(limits.clusterSnapshotMsDefault),
    /** Drop the log messages a stored snapshot holds (off: the logs keep everything, as the streams' limits allow). */
    trimLog: onOff.default(true),
    /** How often the identity directory is repaired from the ledgers of the partitions served here (cluster/identities.ts sweep). */
    directorySweepMs: z.coerce.number().int().min(500).max(3_600_000).default(limits.identitySweepMsDefault),
    /**
     * How long a request for a partition nobody serves yet (a takeover, a replay) is retried
     * before UNAVAILABLE; a claim an unapplied request made is freed after twice this.
     */
    forwardMsMax: z.coerce.number().int().min(1000).max(600_000).default(limits.clusterForwardMsMax),
  })
  .strict()
  .refine((c) => c.renewMs * 3 <= c.leaseTtlMs, { message: "must be at most a third of cluster.leaseTtlMs", path: ["renewMs"] })
  .refine((c) => !c.enabled || c.instanceId !== null, { message: "needed when cluster.enabled: give every instance its own", path: ["instanceId"] })
  .default(CLUSTER_DEFAULTS);

/** Every `cluster.*` leaf key, dotted, for the environment mapping. */
export const CLUSTER_LEAF_KEYS = [
  "cluster.enabled", "cluster.instanceId", "cluster.partitions", "cluster.replicas", "cluster.leaseTtlMs", "cluster.renewMs",
  "cluster.snapshotEveryCommands", "cluster.snapshotEveryMs", "cluster.trimLog", "cluster.directorySweepMs", "cluster.forwardMsMax",
] as const;
