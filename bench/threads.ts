// CPU time per thread of a process, the machine's idle time and nats-server's CPU, read
// from /proc (Linux): what the probes print to find which stage of the engine is the limit.
import { readdirSync, readFileSync, statSync } from "node:fs";

/** Per thread of `pid` ("tid:name"): user + system CPU in clock ticks (1/100 s). */
export function threadTimes(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(f[11]) + Number(f[12]);
      out.set(`${tid}:${name}`, ticks);
    } catch { /* thread gone */ }
  }
  return out;
}

/** The machine's idle and total CPU ticks since boot (/proc/stat): two readings give the idle share between them. */
export function cpuIdle(): [number, number] {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return [f[3]! + f[4]!, f.reduce((a, b) => a + b, 0)];
}

/** CPU ticks of every nats-server process on the machine. */
export function natsTicks(): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(nats-server)")) continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return total;
}

/** Per thread, the CPU seconds spent between two threadTimes readings, busiest first. */
export function threadSeconds(before: Map<string, number>, after: Map<string, number>, atLeast = 0.05): [string, number][] {
  return [...after].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / 100] as [string, number]).filter(([, s]) => s > atLeast).sort((a, b) => b[1] - a[1]);
}

/**
 * Bytes `pid` has dirtied in the page cache (/proc/<pid>/io write_bytes). Not what reaches
 * the device: the kernel counts a whole page-cache folio each time one of its blocks is
 * dirtied, and ext4 on kernels with large folios (6.16 on) holds a file in folios of up to
 * megabytes, so one 4 KiB page LMDB writes can count as 1 MiB (measured: 60 MB of 4 KiB
 * pwrites counted as 9 GB, while the device took 126 MB). See deviceWrittenBytes.
 */
export function writtenBytes(pid: number): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/**
 * Bytes written to the block device holding `path`, by everything on the machine
 * (/sys/dev/block/<major>:<minor>/stat, sectors written × 512): the device's real traffic.
 * Null when the path is not on a block device (tmpfs, overlay without one).
 */
export function deviceWrittenBytes(path: string): number | null {
  const dev = statSync(path).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 4096) & ~0xff) >>> 0);
  try {
    const f = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, "utf8").trim().split(/\s+/);
    return Number(f[6]) * 512;
  } catch {
    return null;
  }
}
