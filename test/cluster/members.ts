// Lease managers for the cluster tests: in this process (each on its own connection) or
// in a child process (for kill -9 and SIGSTOP), with what they said and did recorded.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { LeaseManager, type ReleaseReason } from "../../src/cluster/leases.js";
import { fairShares } from "../../src/cluster/share.js";
import { INSTANCES_BUCKET, LEASES_BUCKET } from "../../src/cluster/kv.js";
import { createLogger } from "../../src/observe/logger.js";
import type { NatsCluster } from "./harness.js";

export interface LeaseEvent {
  t: number;
  ev: "acquire" | "release";
  p: number;
  reason?: ReleaseReason;
}

export interface Member {
  id: string;
  m: LeaseManager;
  nc: NatsConnection;
  events: LeaseEvent[];
  stop(): Promise<void>;
}

export interface Timing {
  partitions: number;
  leaseTtlMs: number;
  renewMs: number;
}

let nextServer = 0;

/** A manager on its own connection, first to the next server in turn, to all three for failover. */
export async function startMember(cluster: NatsCluster, id: string, timing: Timing, releaseDelayMs = 0): Promise<Member> {
  const first = nextServer++ % cluster.servers.length;
  const servers = [...cluster.servers.slice(first), ...cluster.servers.slice(0, first)];
  const nc = await connect({ servers, noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const events: LeaseEvent[] = [];
  const m = await LeaseManager.start(nc, {
    instanceId: id,
    ...timing,
    replicas: 3,
    log: createLogger("silent"),
    onAcquire: (p) => void events.push({ t: Date.now(), ev: "acquire", p }),
    // The engine letting go: `releaseDelayMs` stands for draining a partition's queue.
    onRelease: async (p, reason) => {
      events.push({ t: Date.now(), ev: "release", p, reason });
      if (releaseDelayMs > 0) await sleep(releaseDelayMs);
    },
  });
  let stopped = false;
  return {
    id,
    m,
    nc,
    events,
    async stop() {
      if (stopped) return;
      stopped = true;
      await m.stop();
      await nc.close();
    },
  };
}

/**
 * Empties both cluster buckets, so that the next test starts from nothing. (Deleting
 * and at once re-creating them is slow on nats-server 2.9: meta-layer work.)
 */
export async function emptyBuckets(cluster: NatsCluster): Promise<void> {
  const nc = await connect({ servers: cluster.servers });
  const jsm = await nc.jetstreamManager({ timeout: 10_000 });
  for (const b of [INSTANCES_BUCKET, LEASES_BUCKET]) {
    await jsm.streams.purge(`KV_${b}`).catch((err) => {
      if (!/not found/.test(String(err))) throw err;
    });
  }
  await nc.close();
}

/**
 * Samples every 10 ms that no partition has two members for which isOwner() is true;
 * `extra` adds owners this process cannot ask (a child's last report).
 */
export function watchExclusive(members: () => Member[], partitions: number, extra: () => Map<number, string> = () => new Map()) {
  const violations: string[] = [];
  const timer = setInterval(() => {
    const others = extra();
    for (let p = 0; p < partitions; p++) {
      const owners = members().filter((x) => x.m.isOwner(p)).map((x) => x.id);
      const child = others.get(p);
      if (child) owners.push(child);
      if (owners.length > 1) violations.push(`partition ${p}: ${owners.join(", ")} at ${Date.now()}`);
    }
  }, 10);
  return {
    violations,
    stop: () => clearInterval(timer),
  };
}

/** Each member's owned count when every partition has exactly one owner among `members`, else null. */
export function split(members: Member[], partitions: number): Map<string, number> | null {
  const counts = new Map(members.map((x) => [x.id, 0]));
  for (let p = 0; p < partitions; p++) {
    const owners = members.filter((x) => x.m.isOwner(p));
    if (owners.length !== 1) return null;
    counts.set(owners[0]!.id, counts.get(owners[0]!.id)! + 1);
  }
  return counts;
}

/** True once every partition has one owner and every member owns its fair share. */
export function isEven(members: Member[], partitions: number): boolean {
  const counts = split(members, partitions);
  if (!counts) return false;
  const shares = fairShares(members.map((x) => x.id), partitions);
  return members.every((x) => counts.get(x.id) === shares.get(x.id));
}

/** A lease manager in a child process (test/cluster/fixtures/lease-child.mjs), its output parsed as it comes. */
export interface ChildMember {
  id: string;
  child: ChildProcess;
  lines: { t: number; ev: string; p?: number; reason?: string; owned?: number[] }[];
  /** Its last report of the partitions it believes it owns. */
  owned(): number[];
}

export async function spawnMember(cluster: NatsCluster, id: string, timing: Timing): Promise<ChildMember> {
  const script = join(import.meta.dirname, "fixtures/lease-child.mjs");
  const child = spawn(process.execPath, [script, cluster.url, id, String(timing.partitions), String(timing.leaseTtlMs), String(timing.renewMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const member: ChildMember = {
    id,
    child,
    lines: [],
    owned: () => [...member.lines].reverse().find((l) => l.ev === "owned")?.owned ?? [],
  };
  let buf = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const l of parts) {
        const line = JSON.parse(l);
        member.lines.push(line);
        if (line.ev === "ready") resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`lease child exited with ${code}: ${err}`)));
  });
  return member;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `what` holds; throws after `timeoutMs`, saying what was awaited. */
export async function until(label: string, what: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!what()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(20);
  }
  return Date.now() - t0;
}
