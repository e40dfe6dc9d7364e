// Every bound in one place (TigerBeetle style): queues, batches, payloads, TTLs.
// Units go last in names.

export const limits = {
  /** Largest NATS or HTTP payload accepted, bytes. */
  payloadBytesMax: 64 * 1024,
  /** Lines in one basket. */
  basketLinesMax: 500,
  /** Tenders in one basket. */
  basketTendersMax: 32,
  /** Offers a basket names for itself (offerIds; each line may name one more). */
  basketOffersMax: 32,
  /** Length of any id (event, request, customer, card, sku...). */
  idLengthMax: 128,
  /** Commands waiting per partition before new ones are refused with OVERLOADED. */
  partitionQueueMax: 8192,
  /**
   * Default of config admission.queueWaitMs: once the oldest request someone waits for (rpc,
   * HTTP) that a partition has not answered yet (queued, or in a batch its executor holds)
   * has waited this long, new ones are refused with OVERLOADED at once (while
   * admissionBacklogMin or more such requests are unanswered), ms.
   */
  queueWaitMsMax: 100,
  /**
   * Default of config admission.backlogMin: requests someone waits for a partition must hold
   * unanswered (queued or in its executor) before queueWaitMsMax refuses any: a few requests
   * held up by a stall (a cold worker, a merge holding the writer) are answered when it ends,
   * and a refusal would only send their tills back into it. About 16 ms of work at the
   * worker's ~250 us per command.
   */
  admissionBacklogMin: 64,
  /**
   * Default of config watchdogMs: a batch running this long means its partition is wedged
   * (a full batch takes tens of ms), ms.
   */
  watchdogMsDefault: 10_000,
  /** Commands handed to a worker in one micro-batch (one LMDB write transaction). */
  batchSizeMax: 512,
  /**
   * Batches holding bulk work (stream events, sweeps) a partition may have in its executor
   * at once (partition/partitions.ts): a request someone waits for, queued behind them,
   * waits for them all. Two keep the worker fed (one applies while the next is sent).
   */
  bulkBatchesInFlight: 2,
  /** Bulk commands a batch may carry while requests someone waits for are coming in (a worker takes ~130 us per event). */
  bulkBatchShared: 64,
  /** How long after the last urgent request (rpc, HTTP) a partition's batches still carry at most bulkBatchShared bulk commands, ms. */
  urgentRecentMs: 1000,
  /** JetStream messages fetched per pull. */
  streamFetchMax: 1024,
  /** JetStream messages delivered and not yet acknowledged. */
  streamAckPendingMax: 8192,
  /** JetStream ack wait before redelivery (of what a run that died had in flight), ms; config events.ackWaitMs. */
  streamAckWaitMs: 30_000,
  /** Delay before JetStream redelivers an event refused with OVERLOADED or INTERNAL, ms. */
  streamRetryDelayMs: 500,
  /** Deliveries of an event that keeps failing with INTERNAL before its error result is published and it is acked. */
  streamInternalRetriesMax: 5,
  /** Times the process may die while applying one event alone before it is dead-lettered untried. */
  streamCrashesMax: 3,
  /** How often the disk's free space is read and, after a refused write, a probe write is tried, ms. */
  storageCheckMs: 1000,
  /** Free bytes the data directory's filesystem needs before a refused ledger is probed again. */
  storageRecoverFreeBytes: 1024 * 1024,
  /** How often the consumer's lag and ack floor are read (the floor is then recorded in the ledger), ms. */
  streamInfoMs: 2000,
  /** Default hold lifetime, ms. */
  holdTtlMsDefault: 120_000,
  /** Longest hold lifetime a request may ask for, ms. */
  holdTtlMsMax: 24 * 3600_000,
  /** How often the sweeper looks for holds past their expiry, ms. */
  holdSweepMs: 1000,
  /** Holds expired per sweep at most. */
  holdSweepBatchMax: 1000,
  /** Customers whose points expiry is swept per sweep at most. */
  expirySweepCustomersMax: 2000,
  /**
   * A sweep's commands handed to the partitions at once (points expiry, vouchers, birthdays):
   * the next chunk goes once this one is answered, so the stream's events, which share the
   * bulk lane with them, wait behind at most one chunk, not the whole sweep.
   */
  sweepChunkMax: 64,
  /** Distinct expiry instants listed in a balance's `expiring`. */
  expiringListedMax: 20,
  /** Items in one bulk job given explicitly (a conversion over every customer is not bounded by it). */
  bulkItemsMax: 100_000,
  /** Items of a bulk job in flight at once. */
  bulkConcurrencyMax: 256,
  /** Failures listed in a bulk job's reply (all are counted). */
  bulkFailuresListedMax: 100,
  /** Times a bulk item refused with OVERLOADED is resent. */
  bulkRetriesMax: 20,
  /** Statement entries per request. */
  statementLimitMax: 1000,
  /** Entries a statement reads at most (its from/to window filters them); past it the reply says `truncated: true`. */
  statementScanMax: 100_000,
  /** Items in one list of a segment filter (ids, sub-filters). */
  segmentListMax: 1000,
  /** Customers a segment query returns per page at most (default 100). */
  segmentPageMax: 1000,
  /** Saved segments at most. */
  segmentsMax: 10_000,
  /** Segment queries and exports running at once (each on segmentThreadsPerJob threads). */
  segmentJobsMax: 2,
  /** Threads one segment query or export splits its customers between, by key range (bench/RESULTS.md 2026-11-30: two halve a scan on two idle cores). */
  segmentThreadsPerJob: 2,
  /**
   * CSV chunks a later range's export thread may have made while an earlier range is still
   * being sent (so both threads work at once): at most this many × rowsPerChunk rows held.
   */
  segmentExportChunksAhead: 32,
  /** Rows per CSV chunk an export's thread sends. */
  segmentExportRowsPerChunk: 2000,
  /** CSV chunks sent by an export's thread and not yet read by the client. */
  segmentExportChunksInFlight: 4,
  // Customers (enroll, updateCustomer): what one record may carry. A customer's record is
  // read by every sale, so its size is bounded like any payload.
  /** Groups of one customer at most. */
  customerGroupsMax: 100,
  /** Free attributes of one customer at most. */
  customerAttributesMax: 100,
  /** Characters of an attribute's name. */
  attributeKeyLengthMax: 64,
  /** Characters of an attribute's string value. */
  attributeValueLengthMax: 256,
  /** Consent channels one customer may record (email, sms, post and any a v1 enrolment named). */
  consentChannelsMax: 16,
  /** Days of daily turnover kept per customer (covers the longest tier window). */
  turnoverDaysKept: 400,
  // Purchase knowledge (ledger/purchases.ts, purchase-book.ts): each customer's lists are
  // bounded; a full list drops the entry bought or visited longest ago. The record lives in
  // the wallet, which every accrual reads and writes: at these bounds it is at most 926
  // bytes (a test pins it). Sized in docs/operations.md. At most 255 each.
  /** Months of visits and spend kept per customer: the newest month with a sale and the 12 before it. */
  purchaseMonthsKept: 13,
  /** Skus kept per customer. */
  purchaseSkusKept: 16,
  /** Categories kept per customer. */
  purchaseCategoriesKept: 10,
  /** Stores kept per customer. */
  purchaseStoresKept: 5,
  /** Channels kept per customer. */
  purchaseChannelsKept: 3,
  /** Rows in one product-card CSV import. */
  productImportRowsMax: 200_000,
  /** Largest admin import body, bytes. */
  importBytesMax: 32 * 1024 * 1024,
  /** Data rows in one spreadsheet import (CSV or XLSX; admin/sheets), whatever imports it. */
  sheetRowsMax: 200_000,
  /** Columns in one spreadsheet's header row. */
  sheetColumnsMax: 200,
  /** Characters in one cell. */
  sheetCellLengthMax: 4096,
  /** An XLSX's parts, uncompressed, at most, bytes (read from the archive's directory before anything is inflated). */
  sheetUnzippedBytesMax: 256 * 1024 * 1024,
  /** Spreadsheet files read at once, each on a thread of its own (OVERLOADED beyond). */
  sheetReadsMax: 2,
  /** Heap of a thread reading a spreadsheet, MB: a file that needs more is PAYLOAD_TOO_LARGE. */
  sheetThreadHeapMb: 2048,
  /** Raw rows per message from the reading thread (the main thread decodes one message at a time). */
  sheetRowsPerMessage: 5000,
  /** Rows validated between two yields to the event loop. */
  sheetRowsPerYield: 2000,
  /** Row errors an import keeps in its error report (all of them are counted). */
  sheetErrorsKeptMax: 10_000,
  /** Row errors an import's reply lists (the report has the rest). */
  sheetErrorsListedMax: 100,
  /** Import error reports kept; the oldest go first. */
  importReportsKeptMax: 1000,
  /** Saved column mappings. */
  importMappingsMax: 1000,
  /** Programmes installed at once. */
  programmesMax: 1000,
  /** Rules per programme. */
  rulesPerProgrammeMax: 200,
  /** Rows one admin listing (products, rewards, voucher offers) returns at most. */
  adminListMax: 10_000,
  /** Rewards in the catalogue. */
  rewardsMax: 100_000,
  /** Seasonal price windows per reward. */
  seasonalPricesMax: 50,
  /** Points price of a reward or product, and points cost of a voucher offer, at most. */
  pointsPriceMax: 1_000_000_000,
  /** Units of one reward in one redemption. */
  rewardQtyMax: 1000,
  /** Stock of one reward at most. */
  rewardStockMax: 1_000_000_000,
  /** Voucher offers installed at once. */
  voucherOffersMax: 10_000,
  /** Longest voucher validity, days. */
  voucherValidDaysMax: 3660,
  /** Characters of a voucher code (Crockford base32, 5 bits each: 12 -> 60 random bits). */
  voucherCodeLength: 12,
  /** Fresh codes drawn before giving up on a collision (a broken random source, not bad luck). */
  voucherCodeAttemptsMax: 8,
  /** Vouchers one `vouchers` request lists at most. */
  vouchersListMax: 1000,
  /** How far in the past a redeemVoucher `at` may lie (a till that was offline), ms. */
  voucherUseLateMsMax: 7 * 86_400_000,
  /** Vouchers noticed or expired per sweep at most. */
  voucherSweepBatchMax: 2000,

  // Notifications (src/emit/notify.ts): JetStream publishes to LOYALTY_NOTIFY and their acks.
  /** Notifications published and not yet acknowledged by JetStream; past it they wait for the next resend. */
  notifyInFlightMax: 8192,
  /** A notification not acknowledged this long after it was sent (or written) is sent again, ms. */
  notifyRetryMs: 2000,
  /** Notifications sent again per resend pass at most. */
  notifyResendMax: 2000,
  /** With notify.outbox off: notifications kept in memory until acknowledged; past it the oldest is dropped. */
  notifyPendingMax: 100_000,
  /**
   * How often the outbox records of acknowledged notifications are removed, in one write
   * transaction, ms. Each is a durable commit besides the partitions' own: measured
   * (bench/notify-outbox.ts), a removal per batch of 256 sales cost ~25 % of a partition's
   * throughput, one per ten batches was within noise.
   */
  notifyOutboxDeleteMs: 1000,
  /** How long a clean stop waits for outstanding acknowledgements, ms. */
  notifyStopWaitMs: 2000,
  /** Customers the birthday sweeper hands to their partitions per pass at most. */
  birthdaySweepBatchMax: 2000,
  /** Index entries the birthday sweeper reads per pass at most (a day's range: about customers / 366). */
  birthdayScanMax: 200_000,
  /** Customers read per write transaction while the birthday index is built for an older ledger. */
  birthdayBackfillChunk: 1000,

  // Business bounds on money and points: far below 2^53, so sums of many of them stay
  // exact, and a typo or a hostile value is refused (LIMIT_EXCEEDED) before it is booked.
  /** One sale line (its amount, or qty x unitPrice), minor units: 10^10 = 100 million in major units. */
  lineAmountMax: 10_000_000_000,
  /** One basket (the sum of its line amounts, its total, any one tender), minor units. */
  basketTotalMax: 100_000_000_000,
  /** One article's unit price, minor units (a line of qty 1 at most). */
  unitPriceMax: 10_000_000_000,
  /** Balance of any account, points or minor units, either sign (for the ledger to enforce). */
  balanceMax: 1_000_000_000_000,
  /** One manual adjustment, either sign, points or minor units. */
  adjustmentMax: 1_000_000_000,
  /** Points converted by one convert request. */
  conversionMax: 1_000_000_000,
  /** One authorize `amount` (points) or `value` (minor units), or one capture `amount`. */
  pointsRequestMax: 1_000_000_000,
  /** How far before the engine's clock an event's `at` may lie by default (a till that was offline), ms. */
  eventLateMsDefault: 30 * 86_400_000,
  /** How far after the engine's clock an event's `at` may lie by default (a till's clock running fast), ms. */
  eventFutureMsDefault: 5 * 60_000,

  // HTTP listeners (config http.*): how long each phase of a request may take, and how
  // many sockets are open at once. Defaults; the configuration may change them.
  /** Time to receive a request's headers (the slow-loris bound), ms. */
  httpHeadersTimeoutMsDefault: 10_000,
  /** Time to receive a whole request, headers and body (a 32 MiB admin import at ~1 MB/s fits), ms. */
  httpRequestTimeoutMsDefault: 60_000,
  /** An idle keep-alive socket is closed after this long; above the 60 s of common load balancers, ms. */
  httpKeepAliveTimeoutMsDefault: 72_000,
  /** A socket with no traffic either way for this long is closed (long admin jobs lift it for their request), ms. */
  httpConnectionTimeoutMsDefault: 120_000,
  /** Sockets open at once per listener; further connections are closed on arrival. */
  httpConnectionsMaxDefault: 10_000,
  /** Longest wait between the server's checks for requests past their headers or request timeout, ms. */
  httpTimeoutCheckMsMax: 1000,
  /** Credentials in a terminal keys file or an operators file. */
  credentialsMax: 100_000,

  // Rate limits (config rateLimits.*): token buckets per credential and per client address.
  /** Lookups (verbs that resolve a card, phone or customer id) per minute, per bucket. */
  rateLookupsPerMinuteDefault: 6000,
  /** Lookups a bucket holds at most: how many may come at once after a quiet spell. */
  rateLookupBurstDefault: 600,
  /** Enrolments per minute, per bucket (each may send an SMS or e-mail). */
  rateEnrolmentsPerMinuteDefault: 60,
  rateEnrolmentBurstDefault: 30,
  /** Buckets one limiter keeps; past it, full (idle) buckets and then the oldest are dropped. */
  rateBucketsMax: 100_000,

  // Admin: four-eyes approvals and the audit table.
  /** How long a money adjustment waits for its second operator, ms. */
  approvalTtlMs: 24 * 3600_000,
  /** Approvals pending at once. */
  approvalsPendingMax: 1000,
  /** Audit records one `GET /v1/admin/audit` returns at most (default 100). */
  auditListMax: 1000,
  /** Customer ids merged into one survivor, over all its merges (each merge re-points them all: one hop each). */
  mergedIdsMax: 100,
  /** Lots, open holds and vouchers one merge moves at most, in one write transaction: ~0.1 s of write lock (bench/merge.ts). */
  mergeRecordsMax: 5_000,
  /** A merge across a cluster's partitions carries the merged-away customer's records in one log message (MessagePack bytes, under NATS's 1 MB). */
  mergeParcelBytesMax: 512 * 1024,
  /** The engine's own commands (a merge's steps carry its parcel): decoded up to this, not payloadBytesMax. */
  internalPayloadBytesMax: 1024 * 1024,
  // Retention (config `retention.*`): idempotency records, closed holds and sale records
  // are deleted by a background scan once past their windows. Long by default: a retry
  // after its request's window is applied again.
  /** How long a requestId's idempotency record is kept by default, ms. */
  retentionRequestsMsDefault: 30 * 86_400_000,
  /** How long a closed hold is kept after its expiry time by default, ms. */
  retentionHoldsMsDefault: 30 * 86_400_000,
  /** How long after its `at` an event record is kept by default (and at least events.lateMsMax), ms. */
  retentionSalesMsDefault: 400 * 86_400_000,
  /** The shortest request or event window an operator may set (0 aside: keep for ever), ms. */
  retentionWindowMsMin: 3_600_000,
  /** How often the retention scan takes a step by default, ms. */
  retentionSweepMsDefault: 1000,
  /** Records read per table per step by default (and deleted at most, in one small write transaction). */
  retentionScanMaxDefault: 250,
  /** Records read per table per step at most, whatever the configuration says. */
  retentionScanMaxCeiling: 10_000,
  /** How often the scan's position is saved when a step deletes nothing, ms. */
  retentionCursorPersistMs: 60_000,
  /** Lines of one sales report (a report fits one 64 KiB request with room to spare). */
  reportLinesMax: 500,
  /** Users (people who submit reports) of one distributor. */
  customerUsersMax: 100,
  /** Dated group membership changes kept per customer (ledger/groups.ts). */
  groupChangesMax: 500,
  /** Approved report lines a distributor's plausibility history keeps (the most recent ones). */
  reportHistoryMax: 1000,
  /** Day aggregates (a distributor's approved sales of one date) one ranking reads at most. */
  rankingScanMax: 2_000_000,
  /** Reports one sales-report import may hold. */
  reportImportReportsMax: 10_000,
  // Cluster mode (config `cluster.*`, docs/operations.md, Scale-out).
  /** Virtual partitions a cluster may have (config cluster.partitions): every instance reads every lease each round. */
  clusterPartitionsMax: 1024,
  /** Instances one round reads at most. */
  clusterInstancesMax: 256,
  /**
   * Default lease lifetime, ms: longer than a NATS stream leader election (4 to 9 s in
   * nats-server 2.9) would keep ownership through a NATS node's death; shorter keeps a
   * dead engine's partitions idle for less. 6 s puts takeover at about 8 s.
   */
  clusterLeaseTtlMsDefault: 6_000,
  /** Default interval of renewals, heartbeats and rebalancing rounds, ms: five chances per lease lifetime. */
  clusterRenewMsDefault: 1_000,
  /** How long joining the cluster may take (creating the buckets, their first leader), ms. */
  clusterSetupMsMax: 20_000,
  /** How long an instance waits for the engine to let go of a partition before it stops renewing that lease anyway, ms. */
  clusterReleaseMsMax: 30_000,
  /** Commands one append to a partition's log carries at most (one JetStream message; see Command.logged). */
  clusterAppendMax: 512,
  /**
   * How long a request for a partition no instance serves yet (its owner died, or is
   * replaying its log) is retried before it is refused with UNAVAILABLE, ms: past a lease
   * lifetime plus a replay. Default of config cluster.forwardMsMax.
   */
  clusterForwardMsMax: 15_000,
  /** The pause between tries of a forward or an append that NATS did not answer, ms. */
  clusterRetryMs: 100,
  /** Commands a served partition applies between two snapshots (config cluster.snapshotEveryCommands). */
  clusterSnapshotCommandsDefault: 100_000,
  /** At most this long between two snapshots of a partition that changed (config cluster.snapshotEveryMs). */
  clusterSnapshotMsDefault: 600_000,
  /** Customers one round of the identity directory's repair looks at (cluster/identities.ts sweep). */
  identitySweepBatch: 5000,
  /** How often the identity directory's repair runs by default (config cluster.directorySweepMs), ms. */
  identitySweepMsDefault: 60_000,
  /** After a round that stored no snapshot of a partition, how long before it is tried again, ms. */
  clusterSnapshotRetryMs: 60_000,
  /** How often the snapshotter looks for partitions due, ms. */
  clusterSnapshotCheckMs: 1_000,
  /**
   * The identity directory (cluster/directory.ts): how long one claim, release, move or
   * sync may take in all, ms. Covers a stream leader election (4 to 9 s in nats-server
   * 2.9) so a NATS node's death delays claims instead of failing them.
   */
  identityTimeoutMsDefault: 15_000,
  /**
   * One JetStream request of the directory, ms: a request lost to a leader election is
   * sent again (with the same operation id) rather than waited on for the whole timeout.
   */
  identityTryMs: 2_000,
  /**
   * How long each pull of the directory's follower waits, ms; the server sends a heartbeat
   * every half of it, and two missed ones (its node died) make nats.js recreate the
   * follower elsewhere. nats.js's 30 s default would leave the cache that long behind.
   */
  identityFollowExpiresMs: 2_000,
  /** Heartbeats (one per half of identityFollowExpiresMs) the follower may miss in a row before it is started anew. */
  identityFollowMissedMax: 3,
  /** Messages each pull of the follower asks for: a start reads every key, and nats.js's 100 made that 16k keys/s here. */
  identityFollowBatchMax: 1000,
  /**
   * How long a claim that lost a race waits for its cache to show the winner's append, ms,
   * before it reads the key from the stream's leader instead (one more round trip): a
   * follower that is well delivers it within a millisecond or two.
   */
  identityCatchUpMs: 100,
  /**
   * Tries of one claim, release or move (appends refused because another instance appended
   * first, NATS errors); past it, or past its timeout, UNAVAILABLE. High: instances take
   * turns on one stream, and one writing back to back (a bulk import) wins every turn
   * until it pauses, since its cache is never behind; the timeout ends the wait first.
   */
  identityRetriesMax: 1_000,
  /** Claims, releases and moves one instance has waiting (they go one at a time); past it OVERLOADED. */
  identityQueueMax: 1024,
  /** How long the stream remembers an operation's id (Nats-Msg-Id) to answer its retry as a duplicate, ms. */
  identityDuplicateWindowMsDefault: 120_000,
  // The operator console's built files (ingest/http/console.ts), held in memory.
  /** Files the console's build may hold (index, hashed scripts and styles, icons). */
  consoleFilesMax: 64,
  /** Bytes of those files together: a console larger than this is a build gone wrong. */
  consoleBytesMax: 4 * 1024 * 1024,

  // The participant portal's sign-in (config portal.*, docs/operations.md, Participant portal).
  /** One-time codes waiting to be used, over every customer (one per customer); past it the oldest goes. */
  portalCodesMax: 100_000,
  /** Signed-in sessions kept at once; past it the oldest is signed out. */
  portalSessionsMax: 200_000,
  /** Sessions one customer has at once (phone, tablet, laptop); a further sign-in ends its oldest. */
  portalSessionsPerCustomerMax: 10,
  /** Portal rate-limit buckets (per customer, per address) each limiter keeps. */
  portalBucketsMax: 100_000,
  /** Rewards the portal lists at most. */
  portalRewardsMax: 1000,
} as const;
