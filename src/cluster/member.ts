// The engine's side of cluster mode: join the cluster, hold this instance's share of the
// virtual partitions (serving them through cluster/gate.ts), report it.
import type { NatsConnection } from "nats";
import type { Config } from "../config/config.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import { LeaseManager, type LocalState } from "./leases.js";
import { readClusterStatus, type ClusterStatus } from "./status.js";

/** What the admin route shows: the cluster as the buckets say, and this instance as it sees itself. */
export interface ClusterView {
  instanceId: string;
  status(): Promise<ClusterStatus & { self: LocalState }>;
  /** Whether this instance has read the cluster at least once (readiness). */
  joined(): boolean;
}

export interface ClusterMember {
  manager: LeaseManager;
  view: ClusterView;
  stop(): Promise<void>;
}

export async function joinCluster(
  config: Config,
  nc: NatsConnection,
  log: Logger,
  metrics: Metrics,
  describe: () => Promise<{ httpPort: number | null; adminPort: number | null; eventsPending: number | null; lag: Record<string, number> }>,
  now: () => number,
  /** The engine's side of ownership (cluster/gate.ts): take a partition over, let it go. */
  engine: { onAcquire: (partition: number) => Promise<void>; onRelease: (partition: number) => Promise<void> },
): Promise<ClusterMember> {
  const c = config.cluster;
  const clog = log.child({ instanceId: c.instanceId });
  const manager = await LeaseManager.start(nc, {
    instanceId: c.instanceId!,
    partitions: c.partitions,
    leaseTtlMs: c.leaseTtlMs,
    renewMs: c.renewMs,
    replicas: c.replicas,
    log: clog,
    metrics,
    describe,
    now,
    onAcquire: (partition) => {
      clog.info({ partition }, "virtual partition owned; replaying its log");
      return engine.onAcquire(partition);
    },
    onRelease: (partition, reason) => {
      clog.info({ partition, reason }, "virtual partition let go");
      return engine.onRelease(partition);
    },
  });
  return {
    manager,
    view: {
      instanceId: c.instanceId!,
      async status() {
        const s = await readClusterStatus(manager.buckets, c.partitions, now());
        return { ...s, self: manager.local() };
      },
      joined: () => manager.local().lastRoundAt !== null,
    },
    stop: () => manager.stop(),
  };
}
