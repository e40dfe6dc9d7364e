// NATS request/reply: `loyalty.rpc.<verb>`, JSON or plain MessagePack, the reply in the
// request's encoding. A queue group lets several instances share the load.
import type { NatsConnection, Subscription } from "nats";
import { encodingOf } from "../codec/codec.js";
import type { Metrics } from "../observe/metrics.js";
import type { Logger } from "../observe/logger.js";
import { TERMINAL_VERBS } from "../verbs.js";
import type { Handler } from "./handler.js";

export const RPC_PREFIX = "loyalty.rpc.";
const QUEUE_GROUP = "loyaltyd";

export function startRpc(nc: NatsConnection, handler: Handler, metrics: Metrics, log: Logger): Subscription[] {
  return TERMINAL_VERBS.map((verb) => {
    const histogram = metrics.requestDuration.labels("rpc", verb);
    return nc.subscribe(`${RPC_PREFIX}${verb}`, {
      queue: QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) {
          log.error({ err, verb }, "rpc subscription error");
          return;
        }
        if (!msg.reply) return;
        const started = performance.now();
        void handler.handle("rpc", verb, msg.data, encodingOf(msg.data)).then((handled) => {
          msg.respond(handled.bytes);
          histogram.observe((performance.now() - started) / 1000);
        });
      },
    });
  });
}
