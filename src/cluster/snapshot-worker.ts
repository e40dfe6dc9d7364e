// The snapshot thread: reads partitions out of the ledger into snapshot files, and writes
// a snapshot file back in (cluster/partition-data.ts). Its long read transaction and its
// restore's synchronous write transactions block this thread only; a restore writes in
// chunks, so the partitions' workers commit in between.
import { workerData } from "node:worker_threads";
import { openStore } from "../ledger/store.js";
import { exportPartitions, importPartition } from "./partition-data.js";

export interface SnapshotWorkerData {
  ledgerPath: string;
  partitions: number;
}

export type SnapshotTask = { op: "export"; vps: number[]; dir: string; now: number } | { op: "import"; vp: number; file: string };

const data = workerData as SnapshotWorkerData;
const store = openStore(data.ledgerPath);

export default async function run(task: SnapshotTask): Promise<unknown> {
  if (task.op === "export") return exportPartitions(store, data.partitions, task.vps, task.dir, task.now);
  const { header, records, removed } = await importPartition(store, data.partitions, task.vp, task.file);
  return { pos: header.pos, at: header.at, records, removed };
}
