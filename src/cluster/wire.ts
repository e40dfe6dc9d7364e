// Cluster mode's parts, opened for an engine (src/engine.ts): the identity directory, the
// gate with its snapshots, the shared back office, the cluster's reward stock and the
// locator. The engine wires the rest once its handler and notifications exist
// (wireRequests).
import type { NatsConnection } from "nats";
import type { Config } from "../config/config.js";
import type { Store } from "../ledger/store.js";
import type { Logger } from "../observe/logger.js";
import type { Metrics } from "../observe/metrics.js";
import type { Partitions } from "../partition/partitions.js";
import type { Handled } from "../partition/batch.js";
import { ReplicatedBackOffice, type BackOfficeWriter } from "./backoffice.js";
import { IdentityDirectory } from "./directory.js";
import { ClusterGate } from "./gate.js";
import { IdentitySync } from "./identities.js";
import { Locator } from "./locator.js";
import { crossPartitionMerges } from "./merge.js";
import { SnapshotStore, SnapshotThread, Snapshotter } from "./snapshots.js";
import { ClusterStock, withClusterStock } from "./stock.js";

export interface ClusterDeps {
  config: Config;
  nc: NatsConnection;
  store: Store;
  partitions: Partitions;
  metrics: Metrics;
  log: Logger;
  ledgerPath: string;
  now: () => number;
  /** Whether this instance holds a partition's lease now (the member joins after the gate exists). */
  isOwner: (vp: number) => boolean;
  /** After the back office applied a change: the programmes' count for the metrics. */
  onBackOfficeApplied: () => void;
}

export interface ClusterParts {
  directory: IdentityDirectory;
  gate: ClusterGate;
  /** Where the admin routes write the back office: through the cluster's stream, with the reward stock counted once. */
  backOffice: BackOfficeWriter;
  /** After the instance left the cluster: the gate (its partitions let go), snapshots, the back office's follower, the directory. */
  close(): Promise<void>;
}

export async function openCluster(d: ClusterDeps): Promise<ClusterParts> {
  const { config, nc, store, metrics, now } = d;
  const c = config.cluster;
  const log = d.log.child({ instanceId: c.instanceId });
  // Cards, phones, loyalty ids, vouchers and merged ids of every partition, whoever serves it (cluster/directory.ts).
  const directory = await IdentityDirectory.open(nc, { replicas: c.replicas, log, now });
  // Requests route to virtual partitions, each served by its owner (cluster/gate.ts).
  const gate = new ClusterGate(nc, store, d.partitions, metrics, log, {
    instanceId: c.instanceId!,
    partitions: c.partitions,
    local: config.partitions,
    replicas: c.replicas,
    isOwner: d.isOwner,
    now,
    snapshotEveryCommands: c.snapshotEveryCommands,
    snapshotEveryMs: c.snapshotEveryMs,
    trimLog: c.trimLog,
    forwardMsMax: c.forwardMsMax,
  });
  // Each served partition's snapshots in NATS Object Store (cluster/snapshots.ts).
  const snapshots = await SnapshotStore.open(nc, { replicas: c.replicas });
  const snapshotter = new Snapshotter(snapshots, new SnapshotThread(d.ledgerPath, c.partitions), metrics, log, { instanceId: c.instanceId!, dataDir: config.dataDir, now, trim: (vp, pos) => gate.trimLog(vp, pos) });
  gate.useSnapshots(snapshotter);
  // Programmes, products, rewards and voucher offers: every instance's (cluster/backoffice.ts).
  const backOffice = await ReplicatedBackOffice.open(nc, store, { replicas: c.replicas, log, onApplied: d.onBackOfficeApplied });
  // Reward stock counted once for the cluster (cluster/stock.ts).
  const stock = await ClusterStock.open(nc, { replicas: c.replicas });
  gate.backOffice = backOffice;
  gate.stock = stock;
  gate.locator = new Locator(nc, store, c.partitions, (vp) => gate.serves(vp), d.log);
  return {
    directory,
    gate,
    backOffice: withClusterStock(backOffice, stock, store),
    async close() {
      await gate.close();
      await snapshotter.close();
      backOffice.close();
      await directory.close();
    },
  };
}

/** Once the engine has its notifications: what the gate publishes for forwarded commands, the identity directory kept in step, merges across partitions. */
export function wireRequests(parts: ClusterParts, publishNotifications: (n: Handled["notifications"]) => void, metrics: Metrics, log: Logger, directorySweepMs: number): void {
  const { gate, directory } = parts;
  gate.onNotifications = publishNotifications;
  gate.identities = new IdentitySync(directory, metrics, log);
  gate.merges = crossPartitionMerges(gate, directory, log);
  gate.startDirectorySweep(directorySweepMs);
}
