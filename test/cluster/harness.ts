// The 3-node NATS cluster of the cluster tests: the bench's (bench/nats-cluster.ts), so the
// cluster bench case and the tests run on the same thing.
export * from "../../bench/nats-cluster.js";
