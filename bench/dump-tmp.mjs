import { mkdtempSync } from "node:fs"; import { join } from "node:path"; import { tmpdir } from "node:os";
const { sideAt } = await import("/work/main/dist/bench/hot-side.js");
const { benchProgrammes } = await import("/work/main/dist/bench/engine.js");
const { LEDGER_OPTIONS } = await import("/work/main/dist/bench/scale.js");
const { createBasketGenerator, enrolRequests } = await import("/work/main/dist/src/simulator/baskets.js");
const side = await sideAt("/work/main");
const dir = mkdtempSync(join(tmpdir(), "dump-"));
const store = side.openStore(join(dir, "ledger"));
let now = Date.UTC(2025, 5, 1);
const ledger = new side.Ledger(store, { ...LEDGER_OPTIONS, timeZone: "Europe/Warsaw" }, () => now, true);
for (const p of benchProgrammes()) await side.installProgramme(store, p.id, p, Date.UTC(2025,0,1));
const gen = createBasketGenerator({ seed: 3, customers: 500, linesMin: 1, linesMax: 20, clock: () => (now += 1000), rates: { phone: 0 } });
const reqs = [...enrolRequests(500)].map((e) => ({ verb: "enroll", bytes: Buffer.from(JSON.stringify(e)), encoding: "json" }));
{ const r = await side.processBatch(ledger, reqs); await r.durable; }
for (let k = 0; k < 10; k++) {
const batch = [];
for (let i = 0; i < 250; i++) { const e = gen.next().event; batch.push({ verb: "accrue", bytes: Buffer.from(JSON.stringify(e)), encoding: "json" }); }
const r = await side.processBatch(ledger, batch); await r.durable;
}
const S = Symbol.for("loyaltyd.structures");
for (const t of ["events", "wallets", "entries", "expiryDue", "customers"]) {
  const db = store[t]; const st = db.get(S);
  const vals = []; for (const { key, value } of db.getRange({ limit: 2000 })) if (typeof key !== "symbol") vals.push(value);
  const enc = db.encoder;
  let t0 = performance.now(); let bytes = 0; const N = 20;
  for (let j = 0; j < N; j++) for (const v of vals) bytes += enc.encode(v).length;
  const us = (performance.now() - t0) * 1000 / (N * vals.length);
  t0 = performance.now();
  for (let j = 0; j < N; j++) for (const v of vals) JSON.stringify(v);
  const js = (performance.now() - t0) * 1000 / (N * vals.length);
  console.log(t, "structures", Array.isArray(st) ? st.length : st, "records", vals.length, "encode us", us.toFixed(2), "bytes", (bytes / N / vals.length).toFixed(0), "json.stringify us", js.toFixed(2));
}
const { Packr } = await import("msgpackr");
for (const t of ["events", "entries", "customers"]) {
  const db = store[t];
  const vals = []; for (const { key, value } of db.getRange({ limit: 2000 })) if (typeof key !== "symbol") vals.push(value);
  const enc = db.encoder;
  console.log(t, Object.keys(enc).filter(k => typeof enc[k] !== "function").map(k => k + "=" + (typeof enc[k] === "object" ? (Array.isArray(enc[k]) ? "arr" + enc[k].length : "obj") : enc[k])).join(" "));
  const p = new Packr({ structures: [], useRecords: true });
  const N = 20; let t0 = performance.now();
  for (let j = 0; j < N; j++) for (const v of vals) p.pack(v);
  console.log(t, "plain Packr us", ((performance.now() - t0) * 1000 / (N * vals.length)).toFixed(2));
  // profile the lmdb encoder: repeated with timing of first vs later
  t0 = performance.now();
  for (let j = 0; j < N; j++) for (const v of vals) enc.encode(v, 0x800);
  console.log(t, "enc REUSE us", ((performance.now() - t0) * 1000 / (N * vals.length)).toFixed(2));
}
{
  const db = store.events; const enc = db.encoder;
  let saves = 0; const orig = enc.saveStructures; enc.saveStructures = function (...a) { saves++; return orig.apply(this, a); };
  const vals = []; for (const { key, value } of db.getRange({ limit: 2000 })) if (typeof key !== "symbol") vals.push(value);
  for (const v of vals) enc.encode(v, 0x800);
  console.log("saveStructures calls", saves, "for", vals.length, "structures", enc.structures.length, enc.structures.sharedLength);
  // shapes
  const shapes = new Map(); for (const v of vals) { const k = Object.keys(v).join(",") + "|" + (v.s ? Object.keys(v.s).join(",") : ""); shapes.set(k, (shapes.get(k) ?? 0) + 1); }
  console.log(shapes);
  const t = {}; for (const v of vals) { const k = Object.keys(v).join(",") + "|" + (v.s ? Object.keys(v.s).join(",") : ""); const t0 = performance.now(); for (let i = 0; i < 50; i++) enc.encode(v, 0x800); t[k] = (t[k] ?? 0) + (performance.now() - t0) * 1000 / 50 / shapes.get(k); }
  console.log(t);
}
