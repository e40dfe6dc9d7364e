// Two writer threads on one LMDB env, each committing batches of N "sales" (5 puts into 5 tables at random keys):
// full-sync transactions (flags 3) against NOSYNC ones on an overlappingSync env (flags 0x10003), whose commit
// releases the write lock before the fsync when the txn is small.
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { open } from "lmdb";
import { mkdtempSync } from "node:fs";
const N = +(process.env.N || 20), FLAGS = +(process.env.FLAGS || 3), THREADS = +(process.env.THREADS || 2), SECS = 5;
if (isMainThread) {
  const dir = mkdtempSync("/tmp/lm/two-");
  const env = open({ path: dir, maxDbs: 8, mapSize: 8 * 1024 ** 3 });
  const dbs = [0,1,2,3,4].map(i => env.openDB({ name: "t" + i }));
  env.transactionSync(() => { for (let i = 0; i < 100000; i++) for (const db of dbs) db.put("k" + i, { a: i, b: "x".repeat(80) }); });
  await env.flushed;
  const ws = Array.from({ length: THREADS }, (_, i) => new Worker(new URL(import.meta.url), { workerData: { dir, i } }));
  const counts = await Promise.all(ws.map(w => new Promise(r => w.on("message", r))));
  const total = counts.reduce((a, b) => a + b, 0);
  console.log(`threads ${THREADS} N ${N} flags 0x${FLAGS.toString(16)}: ${(total * N / SECS).toFixed(0)} sales/s (${counts.join(", ")} txns)`);
  process.exit(0);
} else {
  const env = open({ path: workerData.dir, maxDbs: 8, mapSize: 8 * 1024 ** 3 });
  const dbs = [0,1,2,3,4].map(i => env.openDB({ name: "t" + i }));
  const end = performance.now() + SECS * 1000; let txns = 0;
  while (performance.now() < end) {
    env.transactionSync(() => {
      for (let i = 0; i < N; i++) {
        // ~100 us of CPU per sale, as the engine's worker spends
        const t = performance.now(); while (performance.now() - t < 0.1);
        for (const db of dbs) db.put("k" + Math.floor(Math.random() * 100000), { a: i, b: "x".repeat(80) });
      }
    }, FLAGS);
    txns++;
  }
  parentPort.postMessage(txns);
}
