// The thread that reads a spreadsheet's raw rows: a bounded number at once, a bounded heap
// each, and the engine's thread never the one that runs out of memory.
import { describe, expect, it } from "vitest";
import { readRawOffThread } from "../../../src/admin/sheets/thread.js";
import { LoyaltyError } from "../../../src/errors.js";
import { limits } from "../../../src/limits.js";

const csvJob = (rows: number) => ({
  bytes: Buffer.from("sku,name,qty\n" + Array.from({ length: rows }, (_, i) => `S${i},Product number ${i},${i % 9}`).join("\n")),
  format: "csv" as const,
  layout: null,
  rowsMax: rows + 2,
});

describe("readRawOffThread", () => {
  it("reads every row in order, in several messages", async () => {
    const n = limits.sheetRowsPerMessage * 2 + 7;
    const rows = await readRawOffThread(csvJob(n));
    expect(rows).toHaveLength(n + 1);
    expect(rows[0]).toEqual({ row: 1, cells: ["sku", "name", "qty"] });
    expect(rows[n]).toEqual({ row: n + 1, cells: [`S${n - 1}`, `Product number ${n - 1}`, String((n - 1) % 9)] });
  });

  it("keeps the reader's typed errors across the thread", async () => {
    const err = await readRawOffThread({ ...csvJob(1), format: "xlsx" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoyaltyError);
    expect((err as LoyaltyError).code).toBe("BAD_REQUEST");
  });

  it("answers PAYLOAD_TOO_LARGE when reading needs more heap than the thread has, and goes on", async () => {
    const big = csvJob(400_000);
    const err = await readRawOffThread(big, 32).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoyaltyError);
    expect((err as LoyaltyError).code).toBe("PAYLOAD_TOO_LARGE");
    expect(await readRawOffThread(csvJob(10), 32)).toHaveLength(11);
  }, 60_000);

  it("reads at most sheetReadsMax files at once: OVERLOADED beyond", async () => {
    const running = Array.from({ length: limits.sheetReadsMax }, () => readRawOffThread(csvJob(50_000)));
    const err = await readRawOffThread(csvJob(1)).catch((e: unknown) => e);
    expect((err as LoyaltyError).code).toBe("OVERLOADED");
    for (const r of await Promise.all(running)) expect(r).toHaveLength(50_001);
    expect(await readRawOffThread(csvJob(1))).toHaveLength(2);
  }, 60_000);
});
