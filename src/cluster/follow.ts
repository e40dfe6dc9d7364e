// Follows a JetStream stream in order, from the next sequence its owner wants, for as long
// as it is open and through the death of NATS nodes: an ordered consumer, started anew
// from that sequence whenever it stops delivering. nats.js recreates an ordered consumer
// the server deleted, but not one whose node died (its checks time out and it waits on),
// so missed heartbeats, a reconnection (perhaps to another node) or the owner noticing it
// is behind (restart()) make a new one.
import { ConsumerEvents, DeliverPolicy, Events, type ConsumerMessages, type JetStreamClient, type NatsConnection, type Status } from "nats";
import type { Logger } from "../observe/logger.js";

export interface FollowerOptions {
  stream: string;
  filterSubject: string;
  /** The first sequence the owner lacks (1: from the start). */
  nextSeq: () => number;
  /** Each message, in stream order. */
  onMessage: (subject: string, data: Uint8Array, seq: number) => void;
  /** How long starting a consumer may take before it is tried again, ms. */
  startMs: number;
  /** Each pull's wait, ms; the server sends a heartbeat every half of it. */
  expiresMs: number;
  /** Messages one pull asks for. */
  batchMax: number;
  /** Heartbeats missed in a row before following anew. */
  missedMax: number;
  log?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StreamFollower {
  /** Each start's number: messages and events of an older consumer are ignored. */
  private generation = 0;
  private messages: ConsumerMessages | null = null;
  private restarting = false;
  private closed = false;
  /** The connection's events; nats.js's iterator has stop() (which ends the loop over it), its type does not say so. */
  private connectionStatus: (AsyncIterable<Status> & { stop?: () => void }) | null = null;
  /** Times it followed anew after the first start. */
  restarts = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly o: FollowerOptions,
  ) {}

  start(): void {
    void this.restart(null);
    void this.watchConnection();
  }

  /** Follows anew from the owner's next sequence (`reason` logged); nothing while a start is under way. */
  async restart(reason: string | null): Promise<void> {
    if (this.closed || this.restarting) return;
    this.restarting = true;
    const generation = ++this.generation;
    this.messages?.stop();
    this.messages = null;
    if (reason) {
      this.restarts++;
      this.o.log?.warn({ stream: this.o.stream, reason, from: this.o.nextSeq() }, "following the stream anew");
    }
    try {
      for (let attempt = 0; !this.closed && generation === this.generation; attempt++) {
        try {
          await this.begin(generation);
          return;
        } catch (err) {
          this.o.log?.warn({ err, stream: this.o.stream, attempt }, "cannot follow the stream yet");
          await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
        }
      }
    } finally {
      this.restarting = false;
    }
  }

  close(): void {
    this.closed = true;
    this.generation++;
    this.messages?.stop();
    this.messages = null;
    this.connectionStatus?.stop?.();
  }

  private async begin(generation: number): Promise<void> {
    const from = this.o.nextSeq();
    // Getting and starting a consumer may wait long while NATS elects leaders (nats.js
    // retries inside): give up on this try after a while; one that starts late is stopped.
    const pending = (async () => {
      const consumer = await this.js.consumers.get(this.o.stream, {
        filterSubjects: this.o.filterSubject,
        ...(from > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : {}),
      });
      return consumer.consume({ max_messages: this.o.batchMax, expires: this.o.expiresMs, idle_heartbeat: this.o.expiresMs / 2 });
    })();
    let timer: NodeJS.Timeout | undefined;
    const messages = await Promise.race([pending, new Promise<null>((r) => (timer = setTimeout(() => r(null), this.o.startMs)))]).finally(() => clearTimeout(timer));
    if (!messages) {
      void pending.then((m) => m.stop(), () => undefined);
      throw new Error(`no consumer on ${this.o.stream} within ${this.o.startMs} ms`);
    }
    if (this.closed || generation !== this.generation) {
      messages.stop();
      return;
    }
    this.messages = messages;
    if (this.generation > 1) this.o.log?.info({ stream: this.o.stream, from }, "following the stream again");
    void this.watch(messages, generation);
    void this.deliver(messages, generation);
  }

  private async deliver(messages: ConsumerMessages, generation: number): Promise<void> {
    try {
      for await (const m of messages) {
        if (generation !== this.generation) break;
        this.o.onMessage(m.subject, m.data, m.info.streamSequence);
      }
    } catch (err) {
      if (generation === this.generation) this.o.log?.warn({ err, stream: this.o.stream }, "the stream's consumer failed");
    }
    if (!this.closed && generation === this.generation) void this.restart("its consumer ended");
  }

  private async watch(messages: ConsumerMessages, generation: number): Promise<void> {
    for await (const s of await messages.status()) {
      if (generation !== this.generation) return;
      if (s.type === ConsumerEvents.HeartbeatsMissed && Number(s.data) >= this.o.missedMax) {
        void this.restart(`${String(s.data)} heartbeats missed`);
        return;
      }
    }
  }

  private async watchConnection(): Promise<void> {
    this.connectionStatus = this.nc.status();
    for await (const s of this.connectionStatus) {
      if (s.type === Events.Reconnect) void this.restart("the connection moved");
    }
  }
}
