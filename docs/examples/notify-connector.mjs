// An SMS / e-mail connector: consumes the stream LOYALTY_NOTIFY durably with its own pull
// consumer, hands each notification to `send` once per id, and acks it after sending.
import { AckPolicy, connect } from "nats";

export async function runConnector({ nats, durable, send, seen = new Set() }) {
  const nc = await connect(nats); // the connector role: nats.user, nats.pass, inboxPrefix "_INBOX.<user>"
  const jsm = await nc.jetstreamManager();
  // Created at the first start (from the stream's first message); later starts find it where it stopped.
  await jsm.consumers.add("LOYALTY_NOTIFY", { durable_name: durable, ack_policy: AckPolicy.Explicit });
  const messages = await (await nc.jetstream().consumers.get("LOYALTY_NOTIFY", durable)).consume();
  const done = (async () => {
    for await (const m of messages) {
      // At least once: an id may come again (a redelivery, a re-send). Keep `seen` where `send` writes.
      const id = m.headers?.get("Nats-Msg-Id");
      if (!seen.has(id)) {
        await send(m.json()); // respect its consents: {email, sms, post}
        seen.add(id);
      }
      m.ack();
    }
  })();
  return { async close() { await messages.close(); await done; await nc.close(); } };
}
