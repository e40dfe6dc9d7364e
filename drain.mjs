import { startNatsServer } from '/work/main/dist/src/ingest/nats-server.js';
import { loadConfig } from '/work/main/dist/src/config/config.js';
import { startEngine } from '/work/main/dist/src/engine.js';
import { createLogger } from '/work/main/dist/src/observe/logger.js';
import { connect, headers } from 'nats';
import { mkdtempSync, writeFileSync, mkdirSync } from 'fs';
const dir = mkdtempSync('/tmp/drain-');
const nats = await startNatsServer({ storeDir: dir + '/js' });
mkdirSync(dir + '/p');
writeFileSync(dir + '/p/base.json', JSON.stringify({ id: 'base', name: 'Base', currency: 'EUR', rules: [{ kind: 'spend', per: 100, points: 1 }] }));
const executor = process.env.EXEC ?? 'inline';
const cfg = loadConfig({ env: {}, overrides: { 'nats.url': nats.url, dataDir: dir + '/data', programmesDir: dir + '/p', 'http.port': 0, logLevel: 'silent', executor, stream: true } });
const nc = await connect({ servers: nats.url });
const N = Number(process.env.N ?? 20000), C = 1000;
// pre-publish before the engine starts
const engine0 = await startEngine(cfg, createLogger('silent'));
for (let c = 0; c < C; c++) await nc.request('loyalty.rpc.enroll', JSON.stringify({ requestId: 'e' + c, card: 'C-' + c }));
await engine0.close();
for (let i = 0; i < N; i++) {
  const h = headers(); h.set('Nats-Msg-Id', 'ev' + i);
  const ev = { type: 'sale', eventId: 'ev' + i, at: Date.now(), storeId: 's01', customer: { card: 'C-' + (i % C) }, currency: 'EUR', lines: [1,2,3,4,5].map(l => ({ lineId: String(l), sku: 'SKU' + l, qty: 1, unitPrice: 100 * l, category: 'drinks' })) };
  nc.publish('loyalty.events.s01', JSON.stringify(ev), { headers: h });
}
await nc.flush();
let results = 0;
nc.subscribe('loyalty.results.>', { callback: () => results++ });
const t0 = performance.now();
const engine = await startEngine(cfg, createLogger('silent'));
while (results < N) await new Promise(r => setTimeout(r, 5));
const s = (performance.now() - t0) / 1000;
console.log(executor, 'drained', N, 'in', s.toFixed(2), 's =', Math.round(N / s), 'events/s');
const m = await (await fetch(`http://127.0.0.1:${engine.httpPort}/metrics`)).text(); console.log(m.split('\n').filter(l => /^loyalty_(batch_size|lmdb_commit_duration_seconds)_(sum|count)/.test(l)).join('\n'));
await engine.close(); await nc.close(); await nats.stop();
