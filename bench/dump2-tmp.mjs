import { Packr } from "msgpackr";
const p = new Packr({ structures: [], useRecords: true });
const v = {"h":"ZdXN8EVqIjTp5wUKm3FFiDyEH3M","s":{"customerId":"cu_00000d","at":1748736100000,"storeId":"s01","currency":"EUR","li":["1","2","3"],"lq":[1,5,1],"la":[669,6595,969],"pg":[["drinks",1,"drinks",156,0,[0,156,0]],["base",1,"points",92,10,[7,66,9]]],"lots":[[1780272100000,158],[1780272100000,159]],"channel":"store","items":[628650078,4131937263,659297106,2818609350,2457704739,4131937263]},"f":[248,494,494,["drinks",156,328,328,"points",92,494,494],[[0,0,131,"category",[1]],[0,1,25,"sku",[1]],[1,0,82,"spend",[0,1,2]],[1,1,10,"visit",null]]]};
const small = { at: 1748736100000, kind: "accrual", eventId: "sim3-s100", st: "s01", p: [["points", 92, "base", 1]] };
for (const [name, val] of [["event", v], ["small", small]]) {
  for (let round = 0; round < 3; round++) {
    const N = 200000; let t0 = performance.now();
    for (let i = 0; i < N; i++) p.pack(val);
    const a = (performance.now() - t0) * 1000 / N;
    t0 = performance.now();
    for (let i = 0; i < N; i++) JSON.stringify(val);
    const b = (performance.now() - t0) * 1000 / N;
    console.log(name, "pack us", a.toFixed(2), "stringify us", b.toFixed(2), p.pack(val).length);
  }
}
