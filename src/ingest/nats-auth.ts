// The embedded nats-server's authorization: users with random passwords, generated at
// every start, holding the roles of config/nats/accounts.conf (engine, terminal, connector).
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NOTIFY_PREFIX, NOTIFY_STREAM } from "../emit/notify.js";
import { RPC_PREFIX } from "./rpc.js";
import { CONSUMER, DLQ_STREAM, STREAM } from "./stream.js";

/** A subject-permission block, as nats-server's `permissions` map spells it. */
interface Role {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
  allow_responses?: boolean;
}

export interface NatsUser {
  user: string;
  pass: string;
  /** The inbox prefix the user's client must use: its role may subscribe to no other inbox. */
  inboxPrefix?: string;
}

export interface EmbeddedAuth {
  /** The generated server configuration (authorization only; the rest is on the command line). */
  configFile: string;
  /** The local POS user's URL and credentials, for a newcomer's tools. */
  posFile: string;
  /** The local notification connector's URL, credentials and durable consumer name. */
  connectorFile: string;
  engine: NatsUser;
  simulator: NatsUser;
  pos: NatsUser;
  connector: NatsUser;
}

const ENGINE_USER = "loyaltyd";
const SIMULATOR_USER = "simulator";
const POS_USER = "pos-local";
const CONNECTOR_USER = "connector";
/** Streams the engine creates and keeps up to date. */
const ENGINE_STREAMS = [STREAM, DLQ_STREAM, NOTIFY_STREAM];
const PASSWORD_BYTES = 24;

/** The engine: rpc in its queue group, its streams and consumer, results, notifications, dead letters. */
function engineRole(): Role {
  const api = "$JS.API";
  return {
    publish: {
      allow: [
        "loyalty.results.>",
        `${NOTIFY_PREFIX}>`,
        "loyalty.dlq.>",
        `${api}.INFO`,
        ...ENGINE_STREAMS.flatMap((s) => ["INFO", "CREATE", "UPDATE"].map((op) => `${api}.STREAM.${op}.${s}`)),
        // The oldest unacknowledged event, for the lag in seconds (loyalty_stream_oldest_unprocessed_age_seconds).
        `${api}.STREAM.MSG.GET.${STREAM}`,
        `${api}.CONSUMER.INFO.${STREAM}.${CONSUMER}`,
        `${api}.CONSUMER.DELETE.${STREAM}.${CONSUMER}`,
        `${api}.CONSUMER.CREATE.${STREAM}.>`,
        `${api}.CONSUMER.DURABLE.CREATE.${STREAM}.${CONSUMER}`,
        `${api}.CONSUMER.MSG.NEXT.${STREAM}.${CONSUMER}`,
        `$JS.ACK.${STREAM}.${CONSUMER}.>`,
      ],
    },
    subscribe: { allow: [`${RPC_PREFIX}> ${CONSUMER}`, "_INBOX.>"] },
    allow_responses: true,
  };
}

/** A point of sale of any store (the simulator, the local POS): events and rpc out, results and its own inbox in. */
function terminalRole(user: string): Role {
  return {
    publish: { allow: ["loyalty.events.*", `${RPC_PREFIX}*`], deny: ["$JS.API.>"] },
    subscribe: { allow: ["loyalty.results.*", `_INBOX.${user}.>`], deny: [`${RPC_PREFIX}>`] },
  };
}

/**
 * A notification connector: plain subscriptions to loyalty.notify.>, or (durably) its own
 * pull consumer on LOYALTY_NOTIFY, named as the user: create, read, pull, ack. It may not
 * delete a consumer, touch another's, or read or publish anything else.
 */
export function connectorRole(user: string): Role {
  const api = "$JS.API";
  return {
    publish: {
      allow: [
        `${api}.INFO`,
        `${api}.STREAM.INFO.${NOTIFY_STREAM}`,
        `${api}.CONSUMER.INFO.${NOTIFY_STREAM}.${user}`,
        `${api}.CONSUMER.CREATE.${NOTIFY_STREAM}.${user}`,
        `${api}.CONSUMER.CREATE.${NOTIFY_STREAM}.${user}.>`,
        `${api}.CONSUMER.DURABLE.CREATE.${NOTIFY_STREAM}.${user}`,
        `${api}.CONSUMER.MSG.NEXT.${NOTIFY_STREAM}.${user}`,
        `$JS.ACK.${NOTIFY_STREAM}.${user}.>`,
      ],
    },
    subscribe: { allow: [`${NOTIFY_PREFIX}>`, `_INBOX.${user}.>`] },
  };
}

const newUser = (user: string, inbox: boolean): NatsUser => ({
  user,
  pass: randomBytes(PASSWORD_BYTES).toString("base64url"),
  ...(inbox ? { inboxPrefix: `_INBOX.${user}` } : {}),
});

/** Owner-only, and never an older file's looser mode: the file is removed, then created 0600. */
function writeSecret(path: string, text: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, text, { mode: 0o600, flag: "wx" });
}

/**
 * Generates the three users and writes `<dir>/nats-server.conf` (for `nats-server -c`)
 * and `<dir>/nats-pos.env` (the local POS user, with the server's URL).
 */
export function writeEmbeddedAuth(dir: string, url: string): EmbeddedAuth {
  const engine = newUser(ENGINE_USER, false);
  const simulator = newUser(SIMULATOR_USER, true);
  const pos = newUser(POS_USER, true);
  const connector = newUser(CONNECTOR_USER, true);
  const users = [
    { user: engine.user, password: engine.pass, permissions: engineRole() },
    { user: simulator.user, password: simulator.pass, permissions: terminalRole(simulator.user) },
    { user: pos.user, password: pos.pass, permissions: terminalRole(pos.user) },
    { user: connector.user, password: connector.pass, permissions: connectorRole(connector.user) },
  ];
  const configFile = join(dir, "nats-server.conf");
  // nats-server reads JSON as its own format; a string in quotes is never a $variable.
  writeSecret(configFile, `# Generated by loyaltyd at start; rewritten at every start.\n${JSON.stringify({ authorization: { users } }, null, 2)}\n`);
  const posFile = join(dir, "nats-pos.env");
  writeSecret(
    posFile,
    [
      "# loyaltyd's embedded nats-server: the local POS user, rewritten at every start.",
      "# It may publish loyalty.events.<store> and call loyalty.rpc.<verb>; it may read",
      "# loyalty.results.<store> and its own inbox only, so set the inbox prefix:",
      "#   set -a; . ./nats-pos.env; set +a",
      `#   nats req --inbox-prefix "$NATS_INBOX_PREFIX" loyalty.rpc.balance '{"customer":{"card":"C-1"}}'`,
      `NATS_URL=${url}`,
      `NATS_USER=${pos.user}`,
      `NATS_PASSWORD=${pos.pass}`,
      `NATS_INBOX_PREFIX=${pos.inboxPrefix}`,
      "",
    ].join("\n"),
  );
  const connectorFile = join(dir, "nats-connector.env");
  writeSecret(
    connectorFile,
    [
      "# loyaltyd's embedded nats-server: the local notification connector, rewritten at every start.",
      "# It may read loyalty.notify.> and keep its own durable pull consumer on LOYALTY_NOTIFY,",
      "# named as the user (docs/protocol.md, Notifications, has an example connector).",
      `NATS_URL=${url}`,
      `NATS_USER=${connector.user}`,
      `NATS_PASSWORD=${connector.pass}`,
      `NATS_INBOX_PREFIX=${connector.inboxPrefix}`,
      `NATS_DURABLE=${connector.user}`,
      "",
    ].join("\n"),
  );
  return { configFile, posFile, connectorFile, engine, simulator, pos, connector };
}
