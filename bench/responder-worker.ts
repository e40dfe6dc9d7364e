// A raw-limit responder on its own thread (own event loop, like the engine's own process):
// NATS echo, NATS echo after one durable LMDB write, or an HTTP echo server.
import { createServer, type Server } from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import { connect, type NatsConnection } from "nats";
import { commitBatch, openModel, type LedgerModel } from "./lmdb-model.js";

export type ResponderMode = "echo" | "lmdb" | "http";

export interface ResponderConfig {
  mode: ResponderMode;
  natsUrl?: string;
  subject?: string;
  /** LMDB dir for mode "lmdb". */
  dir?: string;
}

export interface ResponderReady {
  ready: true;
  /** The HTTP port in mode "http". */
  port?: number;
}

const cfg = workerData as ResponderConfig;

async function serveNats(): Promise<{ nc: NatsConnection; model: LedgerModel | null }> {
  const nc = await connect({ servers: cfg.natsUrl! });
  const model = cfg.mode === "lmdb" ? openModel(cfg.dir!) : null;
  let n = 0;
  nc.subscribe(cfg.subject!, {
    callback: (err, msg) => {
      if (err) return;
      if (!model) return void msg.respond(msg.data);
      // One durable read-modify-write per request: the floor under a durable rpc.accrue.
      const customer = `C-${1 + (n++ % 1000)}`;
      commitBatch(model, [{ customer, amount: 1, eventId: `e${n}`, at: n }]).then(
        () => msg.respond(msg.data),
        () => msg.respond(new Uint8Array(0)),
      );
    },
  });
  await nc.flush();
  return { nc, model };
}

async function serveHttp(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function main(): Promise<void> {
  if (cfg.mode === "http") {
    const server = await serveHttp();
    const addr = server.address();
    parentPort!.postMessage({ ready: true, port: typeof addr === "object" && addr ? addr.port : 0 } satisfies ResponderReady);
    parentPort!.once("message", () => server.close(() => process.exit(0)));
    return;
  }
  const { nc, model } = await serveNats();
  parentPort!.postMessage({ ready: true } satisfies ResponderReady);
  parentPort!.once("message", () => {
    void (async () => {
      await nc.drain();
      await model?.close();
      process.exit(0);
    })();
  });
}

void main();
