// Notifications for the SMS / e-mail connectors: `loyalty.notify.<kind>`, JSON.
import type { NatsConnection } from "nats";
import type { Notification } from "../ledger/ledger.js";
import type { Metrics } from "../observe/metrics.js";

export const NOTIFY_PREFIX = "loyalty.notify.";

export function notifier(nc: NatsConnection, metrics: Metrics): (ns: Notification[]) => void {
  return (ns) => {
    for (const n of ns) {
      nc.publish(NOTIFY_PREFIX + n.kind, JSON.stringify({ kind: n.kind, ...n.payload }));
      metrics.notifications.labels(n.kind).inc();
    }
  };
}
