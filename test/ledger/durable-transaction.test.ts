// The partition worker's commit (ledger/store.ts durableTransaction): what it writes is
// committed and visible when it returns, a throw rolls it back whole, and an environment
// without overlappingSync gets a full-sync commit instead of the no-flush flag.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "lmdb";
import { afterAll, describe, expect, it } from "vitest";
import { durableTransaction, openStore, type Store } from "../../src/ledger/store.js";

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "loyaltyd-durable-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("durableTransaction", () => {
  it("commits on an overlappingSync environment: visible at once, to this and to a new handle in another thread's place", async () => {
    const dir = tempDir();
    const store = openStore(join(dir, "ledger"));
    expect((store.env as unknown as { overlappingSync: boolean }).overlappingSync).toBe(true);
    const seq = (store.meta.get("seq") ?? 0) + 1;
    const out = durableTransaction(store, () => {
      store.meta.put("seq", seq);
      return "done";
    });
    expect(out).toBe("done");
    expect(store.meta.get("seq")).toBe(seq);
    await store.env.close();
    const again = openStore(join(dir, "ledger"));
    expect(again.meta.get("seq")).toBe(seq);
    await again.env.close();
  });

  it("rolls back everything when the callback throws", async () => {
    const store = openStore(join(tempDir(), "ledger"));
    const before = store.meta.get("seq");
    expect(() =>
      durableTransaction(store, () => {
        store.meta.put("seq", 999_999);
        throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(store.meta.get("seq")).toBe(before);
    await store.env.close();
  });

  it("on an environment without overlappingSync, commits in full-sync mode (the no-flush flag would skip the sync there)", async () => {
    const dir = tempDir();
    const env = open({ path: dir, maxDbs: 4, overlappingSync: false });
    expect((env as unknown as { overlappingSync: boolean }).overlappingSync).toBe(false);
    const db = env.openDB<number, string>({ name: "t" });
    const calls: unknown[][] = [];
    const spied = new Proxy(env, {
      get: (target, prop, receiver) =>
        prop === "transactionSync"
          ? (...args: unknown[]) => {
              calls.push(args.slice(1));
              return (target.transactionSync as (...a: unknown[]) => unknown).apply(target, args);
            }
          : Reflect.get(target, prop, receiver),
    });
    durableTransaction({ env: spied } as unknown as Store, () => db.put("k", 1));
    expect(calls).toEqual([[]]);
    expect(db.get("k")).toBe(1);
    // Not closed: lmdb-js 3.5's close() of an environment without overlappingSync never
    // settles after a synchronous transaction (it waits on a flush that never comes).
  });
});
