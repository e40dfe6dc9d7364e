// `loyaltyd cluster status`: reads the cluster buckets straight from NATS (nats.url, the
// engine's credentials), whether or not an engine runs here.
import { connect } from "nats";
import type { Config } from "../config/config.js";
import { natsConnectOptions, redactUrl } from "../ingest/nats-connect.js";
import { bindBuckets } from "./kv.js";
import { formatClusterStatus, readClusterStatus } from "./status.js";

const TIMEOUT_MS = 5000;

/** Prints the status; exit 0, 78 without nats.url, 69 when NATS or the buckets cannot be read. */
export async function clusterStatusCommand(config: Config, json: boolean): Promise<number> {
  const url = config.nats.url;
  if (url === null) {
    console.error("cluster status needs nats.url: the NATS cluster the instances share");
    return 78;
  }
  let nc;
  try {
    nc = await connect({ ...natsConnectOptions({ ...config.nats, url }), name: "loyaltyd-cluster-status", timeout: TIMEOUT_MS });
  } catch (err) {
    console.error(`cannot reach NATS at ${redactUrl(url)}: ${(err as Error).message}`);
    return 69;
  }
  try {
    const b = await bindBuckets(nc, TIMEOUT_MS);
    const status = await readClusterStatus(b, config.cluster.partitions, Date.now());
    console.log(json ? JSON.stringify({ ok: true, enabled: true, ...status }, null, 2) : formatClusterStatus(status));
    return 0;
  } catch (err) {
    const missing = /stream not found/.test(String((err as Error).message));
    console.error(missing ? "no cluster state in NATS: no instance ran with cluster.enabled on it yet" : `cannot read the cluster state: ${(err as Error).message}`);
    return 69;
  } finally {
    await nc.close();
  }
}
