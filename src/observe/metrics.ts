// Every Prometheus metric, declared once, units in names. Label values are a small fixed
// set (verb, type, outcome code, partition), never built from input.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  /** Gauges read when Prometheus scrapes, not on the hot path: each sampler sets its own. */
  const samplers: Array<() => void> = [];
  collectDefaultMetrics({ register: registry, prefix: "loyalty_" });
  const latencyBuckets = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
  return {
    registry,
    /** Runs `sample` before every scrape (a gauge of state that is cheaper to read than to track). */
    onScrape(sample: () => void): void {
      samplers.push(sample);
    },
    /** The Prometheus text of every metric, scrape-time gauges sampled first. */
    async text(): Promise<string> {
      for (const sample of samplers) sample();
      return registry.metrics();
    },
    events: new Counter({
      name: "loyalty_events_total",
      help: "Commands processed, by source (rpc, http, stream), type/verb and outcome (ok, duplicate or an error code)",
      labelNames: ["source", "type", "outcome"] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: "loyalty_rejected_total",
      help: "Requests answered with an error, by source and error code",
      labelNames: ["source", "code"] as const,
      registers: [registry],
    }),
    points: new Counter({
      name: "loyalty_points_total",
      help: "Points of the points account moved by applied commands (repeats not counted), by movement: earned (sales), taken_back (returns and voids), redeemed (captures, voucher purchases, conversions)",
      labelNames: ["movement"] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: "loyalty_request_duration_seconds",
      help: "Request/reply latency from receipt to reply, by source and verb",
      labelNames: ["source", "verb"] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    streamDuration: new Histogram({
      name: "loyalty_stream_event_duration_seconds",
      help: "JetStream event latency from the stream timestamp to the durable result",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: "loyalty_batch_size",
      help: "Commands per LMDB write transaction: one micro-batch, or the micro-batches of a partition that waited for its worker and shared one",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    batchesReapplied: new Counter({
      name: "loyalty_batch_reapplied_total",
      help: "Write transactions (micro-batches, or micro-batches that shared one) applied a second time, each command in a child transaction, because one of their commands failed after writing",
      registers: [registry],
    }),
    commitDuration: new Histogram({
      name: "loyalty_lmdb_commit_duration_seconds",
      help: "Time to apply and durably commit one micro-batch",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "loyalty_partition_queue_depth",
      help: "Commands waiting per partition",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    workerBusy: new Counter({
      name: "loyalty_partition_busy_seconds_total",
      help: "Time each partition spent applying batches (rate() of it is the partition's utilisation)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    partitionCommands: new Counter({
      name: "loyalty_partition_commands_total",
      help: "Commands each partition committed (its share of the load: a hot partition shows here)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    partitionBatchAge: new Gauge({
      name: "loyalty_partition_batch_age_seconds",
      help: "How long each partition's oldest batch in flight has run, 0 when idle (the watchdog's measure; past watchdogMs the process restarts)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    partitionUnansweredAge: new Gauge({
      name: "loyalty_partition_unanswered_age_seconds",
      help: "How long the oldest rpc or HTTP request each partition has not answered (queued, or in a batch its worker holds) has waited, 0 when none: new ones are refused OVERLOADED past admission.queueWaitMs while admission.backlogMin or more are unanswered",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    partitionUnanswered: new Gauge({
      name: "loyalty_partition_unanswered_requests",
      help: "rpc and HTTP requests each partition has not answered yet (queued, or in a batch its worker holds): what admission.backlogMin is compared with",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    partitionQueueAge: new Gauge({
      name: "loyalty_partition_queue_age_seconds",
      help: "How long the oldest command waiting in each partition's queue has waited, 0 when the queue is empty",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: "loyalty_stream_consumer_pending_messages",
      help: "JetStream messages not yet delivered to the engine's consumer",
      registers: [registry],
    }),
    consumerAckPending: new Gauge({
      name: "loyalty_stream_consumer_ack_pending_messages",
      help: "JetStream messages delivered and not yet acknowledged",
      registers: [registry],
    }),
    streamOldestAge: new Gauge({
      name: "loyalty_stream_oldest_unprocessed_age_seconds",
      help: "Age of the oldest LOYALTY_EVENTS event not yet acknowledged (the lag in seconds), 0 when none waits",
      registers: [registry],
    }),
    deadLetterMessages: new Gauge({
      name: "loyalty_dead_letter_messages",
      help: "Messages held in LOYALTY_DLQ (events that failed on every delivery allowed), until an operator removes them",
      registers: [registry],
    }),
    ready: new Gauge({
      name: "loyalty_ready",
      help: "1 while /readyz answers 200 (every check true), else 0",
      registers: [registry],
    }),
    readinessCheck: new Gauge({
      name: "loyalty_readiness_check",
      help: "Each /readyz check: 1 true, 0 false (nats, stream, lmdb, storage, partitions, programmes)",
      labelNames: ["check"] as const,
      registers: [registry],
    }),
    partitionWedged: new Counter({
      name: "loyalty_partition_wedged_total",
      help: "Times the watchdog found a partition's batch running past watchdogMs (the process then restarts)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "loyalty_dead_letters_total",
      help: "Stream events moved to LOYALTY_DLQ after failing with INTERNAL on every delivery allowed",
      registers: [registry],
    }),
    notifications: new Counter({
      name: "loyalty_notifications_total",
      help: "Notifications published, by kind (the first send of each; resends are counted in loyalty_notify_resent_total)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    notifyAcked: new Counter({
      name: "loyalty_notify_acked_total",
      help: "Notification publishes LOYALTY_NOTIFY acknowledged, by outcome (stored, duplicate: already stored under its id)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    notifyFailures: new Counter({
      name: "loyalty_notify_publish_failures_total",
      help: "Notification publishes JetStream refused or left unacknowledged past limits.notifyRetryMs; each is sent again",
      registers: [registry],
    }),
    notifyResent: new Counter({
      name: "loyalty_notify_resent_total",
      help: "Notifications sent again: unacknowledged in time, or found in the outbox at start",
      registers: [registry],
    }),
    notifyPending: new Gauge({
      name: "loyalty_notify_pending",
      help: "Notifications this process knows of that LOYALTY_NOTIFY has not acknowledged yet (in flight or waiting to be sent again)",
      registers: [registry],
    }),
    notifyOutboxRecords: new Gauge({
      name: "loyalty_notify_outbox_records",
      help: "Outbox records (the notifications of one committed batch each) not yet removed; 0 with notify.outbox off",
      registers: [registry],
    }),
    notifyDropped: new Counter({
      name: "loyalty_notify_dropped_total",
      help: "Notifications given up unacknowledged (only with notify.outbox off, past limits.notifyPendingMax)",
      registers: [registry],
    }),
    programmesLoaded: new Gauge({
      name: "loyalty_programmes_loaded",
      help: "Programmes currently installed",
      registers: [registry],
    }),
    retentionPruned: new Counter({
      name: "loyalty_retention_pruned_total",
      help: "Records deleted past their retention window, by kind (event, request, hold)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    retentionScanned: new Counter({
      name: "loyalty_retention_scanned_total",
      help: "Records the retention scan read, by kind (event, request, hold)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    retentionPasses: new Counter({
      name: "loyalty_retention_passes_total",
      help: "Times the retention scan reached the end of a table and started over, by kind",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    imports: new Counter({
      name: "loyalty_imports_total",
      help: "Spreadsheet imports, by what they import and outcome (imported, refused: row errors, or the error code of a file that could not be read or written)",
      labelNames: ["target", "outcome"] as const,
      registers: [registry],
    }),
    retentionWriteDuration: new Histogram({
      name: "loyalty_retention_write_duration_seconds",
      help: "Time one retention write transaction took, LMDB's write lock included: what it may hold up the partitions' commits",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    clusterPartitionsOwned: new Gauge({
      name: "loyalty_cluster_partitions_owned",
      help: "Virtual partitions whose lease this instance holds (cluster mode; 0 otherwise)",
      registers: [registry],
    }),
    clusterInstances: new Gauge({
      name: "loyalty_cluster_instances",
      help: "Live instances this instance sees in LOYALTY_INSTANCES (cluster mode)",
      registers: [registry],
    }),
    clusterLeaseChanges: new Counter({
      name: "loyalty_cluster_lease_changes_total",
      help: "Leases taken and given up by this instance, by change (acquired, released, lost: someone else wrote it or it expired in NATS, expired: not renewed in time here)",
      labelNames: ["change"] as const,
      registers: [registry],
    }),
    clusterLeaseRenewals: new Counter({
      name: "loyalty_cluster_lease_renewals_total",
      help: "Lease renewals by outcome (ok, lost, error: NATS did not answer in time)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    clusterLogAppends: new Counter({
      name: "loyalty_cluster_log_appends_total",
      help: "Appends to the partitions' command logs by outcome (ok, fenced: another instance appended first, error: NATS did not answer; retried)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    clusterLogAppendDuration: new Histogram({
      name: "loyalty_cluster_log_append_duration_seconds",
      help: "Time from a state-changing command's arrival to its log append being replicated (before it is applied)",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    clusterLoggedCommands: new Counter({
      name: "loyalty_cluster_logged_commands_total",
      help: "State-changing commands appended to the partitions' command logs by this instance",
      registers: [registry],
    }),
    clusterReplayed: new Counter({
      name: "loyalty_cluster_replayed_commands_total",
      help: "Commands applied from a partition's log when this instance took it over (or caught up after another appended)",
      registers: [registry],
    }),
    clusterForwarded: new Counter({
      name: "loyalty_cluster_forwarded_total",
      help: "Requests this instance passed to their partition's owner, by outcome (ok, unavailable: no owner served it in time)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    clusterPartitionsServing: new Gauge({
      name: "loyalty_cluster_partitions_serving",
      help: "Virtual partitions this instance owns and serves (log replayed); below partitions_owned while a takeover replays",
      registers: [registry],
    }),
    clusterIdentityConflicts: new Counter({
      name: "loyalty_cluster_identity_conflicts_total",
      help: "Identifiers (card, phone, loyalty id) that two partitions gave to two customers at once; the identity directory keeps the first (cluster mode)",
      registers: [registry],
    }),
    clusterLogPosition: new Gauge({
      name: "loyalty_cluster_log_sequence",
      help: "The last log sequence this instance appended or applied, per virtual partition it serves",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    clusterPartitionLag: new Gauge({
      name: "loyalty_cluster_partition_lag",
      help: "Per virtual partition this instance owns: log messages it knows of and has not applied yet (above 0 while a takeover replays)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    clusterSnapshots: new Counter({
      name: "loyalty_cluster_snapshots_total",
      help: "Partition snapshots this instance took, by outcome (ok: stored; superseded: the bucket already held one as far along; error)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    clusterSnapshotDuration: new Histogram({
      name: "loyalty_cluster_snapshot_duration_seconds",
      help: "One round of snapshots: reading the partitions out of the ledger and storing them in the bucket",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    clusterSnapshotBytes: new Gauge({
      name: "loyalty_cluster_snapshot_bytes",
      help: "Size of the last snapshot this instance stored, per virtual partition (gzip)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    clusterSnapshotAge: new Gauge({
      name: "loyalty_cluster_snapshot_age_seconds",
      help: "Per virtual partition served here: how long ago its latest snapshot was taken (what a takeover would replay after)",
      labelNames: ["partition"] as const,
      registers: [registry],
    }),
    clusterRestores: new Counter({
      name: "loyalty_cluster_restores_total",
      help: "Partitions restored from their snapshot at a takeover, by outcome (ok, error)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    clusterRestoreDuration: new Histogram({
      name: "loyalty_cluster_restore_duration_seconds",
      help: "Restoring one partition from its snapshot: download and write into the ledger",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    clusterLogTrimmed: new Counter({
      name: "loyalty_cluster_log_trimmed_messages_total",
      help: "Command log messages dropped after a snapshot held them (cluster.trimLog)",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
