// The disk under the ledger: free space as a gauge, and whether the ledger can write.
// A write the storage refused (disk full) marks it unavailable: readiness goes false and
// the engine probes with a tiny write until one succeeds, then it is ready again by itself.
import { statfsSync } from "node:fs";
import { Gauge, type Registry } from "prom-client";
import { limits } from "../limits.js";
import type { Logger } from "./logger.js";

export class StorageHealth {
  private failingSince = 0;
  private probing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly free: Gauge;
  private readonly size: Gauge;
  private readonly available: Gauge;

  constructor(
    private readonly dataDir: string,
    /** A tiny durable write: resolves once the ledger can write again. */
    private readonly probe: () => Promise<unknown>,
    registry: Registry,
    private readonly log: Logger,
  ) {
    this.free = new Gauge({ name: "loyalty_disk_free_bytes", help: "Bytes free for the ledger on the data directory's filesystem", registers: [registry] });
    this.size = new Gauge({ name: "loyalty_disk_size_bytes", help: "Size of the data directory's filesystem, bytes (with loyalty_disk_free_bytes: the share left)", registers: [registry] });
    this.available = new Gauge({ name: "loyalty_storage_available", help: "1 while the ledger can write, 0 after a write the storage refused (disk full) until a probe write succeeds", registers: [registry] });
    this.available.set(1);
  }

  get ok(): boolean {
    return this.failingSince === 0;
  }

  /** A write was refused with UNAVAILABLE. */
  failed(): void {
    if (this.failingSince !== 0) return;
    this.failingSince = Date.now();
    this.available.set(0);
    this.log.error({ dataDir: this.dataDir, freeBytes: this.freeBytes() }, "the ledger cannot write (disk full?); not ready until a write succeeds");
  }

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), limits.storageCheckMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private freeBytes(): number | null {
    try {
      const s = statfsSync(this.dataDir);
      this.size.set(s.blocks * s.bsize);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }

  private check(): void {
    const free = this.freeBytes();
    if (free !== null) this.free.set(free);
    // A small write can succeed on pages the failed commit freed while the disk is still
    // full: wait for some room before probing, so that readiness does not flap.
    if (this.failingSince === 0 || this.probing || (free !== null && free < limits.storageRecoverFreeBytes)) return;
    this.probing = true;
    this.probe()
      .then(() => {
        this.log.warn({ dataDir: this.dataDir, downMs: Date.now() - this.failingSince, freeBytes: free }, "the ledger can write again; ready");
        this.failingSince = 0;
        this.available.set(1);
      })
      .catch(() => undefined)
      .finally(() => (this.probing = false));
  }
}
