// A partition's micro-batch as the worker applies it: raw request bytes in, encoded
// replies out. Decoding, validation, content hashing and reply encoding all happen
// here, on the partition's thread, so the main thread does no per-event parsing.
import { contentHash, decodeBytes, encodeReply, validate, type Encoding } from "../codec/codec.js";
import type { Verb } from "../codec/schema.js";
import { LoyaltyError, failure, storageRefusal, toWireError, type WireError } from "../errors.js";
import type { Command, Ledger, Notification } from "../ledger/ledger.js";
import { limits } from "../limits.js";
import { isStorageRefusal } from "../ledger/store.js";
import { VERB_TABLE, type CommandVerb } from "../verbs.js";

export type Reply = Record<string, unknown>;

export interface RawRequest {
  verb: CommandVerb;
  bytes: Uint8Array;
  encoding: Encoding;
  /** The store of the stream subject an event came on: the event's storeId must match it. */
  subjectStore?: string | null;
  /** The store of the terminal credential an HTTP request came with (config terminalAuth). */
  credentialStore?: string | null;
  /** Cluster mode: where the command is in its virtual partition's log (see Command.logged). */
  logged?: Command["logged"] | null;
  /** Cluster mode, a read: the virtual partition it is answered for (Command.readIn). */
  readIn?: number;
  /** Cluster mode, a redemption: the reward units its owner reserved in the cluster's count, and how many were left (cluster/stock.ts). */
  stock?: [reserved: number, left: number] | null;
}

/** Why a request was refused, for the main thread's log. */
export interface Refusal {
  error: WireError;
  ids: Reply;
  /** The unexpected exception's text and stack (INTERNAL), for the error log. */
  internal?: string;
}

export interface Handled {
  /** The reply, encoded in the request's encoding. */
  bytes: Uint8Array;
  /** "ok", "duplicate" or the error code. */
  outcome: string;
  /** The metrics label of the request: the event type for accrue, else the verb. */
  label: string;
  notifications: Notification[];
  refusal: Refusal | null;
  /** Account units the command moved, for loyalty_points_total (see pointsMoved); 0 for most. */
  points: number;
  /** Cluster mode: answered by the partition's owner on another instance (cluster/gate.ts forward). */
  forwarded?: true;
}

const EVENT_TYPES = new Set(["sale", "return", "void"]);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The decoded value validated into a command; throws the refusal. */
function commandOf(req: RawRequest, value: unknown): Command {
  const command = plainCommandOf(req, value);
  if (req.logged) command.logged = req.logged;
  if (req.readIn !== undefined) command.readIn = req.readIn;
  return command;
}

function plainCommandOf(req: RawRequest, value: unknown): Command {
  const spec = VERB_TABLE[req.verb];
  // The engine's own commands are not validated; an idempotent one carries its content hash (ledger/merge-steps.ts).
  if (spec.exposure === "internal") return { verb: req.verb, input: value, hash: str((value as { hash?: unknown } | null)?.hash) };
  const input = validate(req.verb as Verb, value) as Record<string, unknown>;
  if (req.verb === "accrue") {
    if (req.subjectStore && input.storeId !== undefined && input.storeId !== req.subjectStore) {
      throw new LoyaltyError("VALIDATION", `storeId ${String(input.storeId)} differs from the subject's store ${req.subjectStore}`, "storeId");
    }
  }
  const store = req.credentialStore ?? null;
  if (store !== null) checkCredentialStore(req.verb, input, store);
  // An event's storeId, checked above, already binds its id to the store: its hash stays
  // the plain content's, so the same sale sent over the stream and over HTTP is one event.
  const scope = spec.idempotency === "request" ? store : null;
  return { verb: req.verb, input, hash: spec.idempotency ? contentHash(req.verb, input, scope) : "", scope: store };
}

/** Verbs whose body names its store: accrue (sales, returns, voids) and quote. */
const STORE_VERBS: ReadonlySet<CommandVerb> = new Set(["accrue", "quote"]);

/**
 * A terminal credential acts for its own store only. A return or void, whose storeId is
 * optional, must name it: its eventId is then bound to the store like a sale's.
 */
function checkCredentialStore(verb: CommandVerb, input: Record<string, unknown>, store: string): void {
  if (!STORE_VERBS.has(verb)) return;
  if (input.storeId === undefined) throw new LoyaltyError("VALIDATION", "storeId: is required with a terminal credential", "storeId");
  if (input.storeId !== store) throw new LoyaltyError("FORBIDDEN", `the credential acts for store ${store}, not ${String(input.storeId)}`, "storeId");
}

function labelOf(verb: CommandVerb, value: unknown): string {
  if (verb !== "accrue") return verb;
  const t = (value as { type?: unknown } | null)?.type;
  return typeof t === "string" && EVENT_TYPES.has(t) ? t : "unknown";
}

/** Echo the caller's ids on failures so a POS can match the reply to its request. */
function idsOf(value: unknown): Reply {
  if (typeof value !== "object" || value === null) return {};
  const v = value as Record<string, unknown>;
  const out: Reply = {};
  if (typeof v.eventId === "string" && v.eventId.length <= limits.idLengthMax) out.eventId = v.eventId;
  if (typeof v.requestId === "string" && v.requestId.length <= limits.idLengthMax) out.requestId = v.requestId;
  return out;
}

/** A request refused before the ledger; `value` is what it decoded to (undefined: undecodable). */
function refusedReply(req: RawRequest, value: unknown, err: unknown): Handled {
  const error = toWireError(err);
  const ids = idsOf(value);
  const internal = err instanceof LoyaltyError ? undefined : String((err as Error)?.stack ?? err);
  return {
    bytes: encodeReply({ ...failure(error), ...ids }, req.encoding),
    outcome: error.code,
    label: labelOf(req.verb, value),
    notifications: [],
    refusal: { error, ids, ...(internal ? { internal } : {}) },
    points: 0,
  };
}

const finite = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
/** The account loyalty_points_total follows: the one every programme credits unless it names another. */
const POINTS_ACCOUNT = "points";

/**
 * The points (of the `points` account) an applied command moved, as its own reply states
 * them: a sale's earned (> 0), a return's or void's (< 0), a capture's `captured`, an
 * approved voucher purchase's `pointsCost`, a conversion's points taken. A repeat moves nothing.
 */
export function pointsMoved(label: string, reply: Reply): number {
  if (reply.ok !== true || reply.duplicate === true) return 0;
  switch (label) {
    case "sale":
    case "return":
    case "void": {
      const accounts = Array.isArray(reply.accounts) ? (reply.accounts as Reply[]) : [];
      return finite(accounts.find((a) => a.account === POINTS_ACCOUNT)?.earned);
    }
    case "capture":
      return reply.account === POINTS_ACCOUNT ? finite(reply.captured) : 0;
    case "buyVoucher":
      return reply.approved === true && reply.account === POINTS_ACCOUNT ? finite(reply.pointsCost) : 0;
    case "convert": {
      const from = reply.from as Reply | undefined;
      return reply.approved === true && from?.account === POINTS_ACCOUNT ? -finite(from.amount) : 0;
    }
    default:
      return 0;
  }
}

/**
 * Applies a partition's batch: every request decoded and validated here, the valid
 * ones applied in one transaction (in arrival order), every reply encoded. Resolves
 * once the batch is committed, with a promise for when it is durable.
 */
export async function processBatch(ledger: Ledger, requests: RawRequest[]): Promise<{ handled: Handled[]; durable: Promise<unknown> }> {
  const handled: Handled[] = new Array(requests.length);
  const commands: Command[] = [];
  const at: number[] = [];
  requests.forEach((req, i) => {
    let value: unknown;
    try {
      value = decodeBytes(req.bytes, req.encoding, VERB_TABLE[req.verb].exposure === "internal" ? limits.internalPayloadBytesMax : limits.payloadBytesMax);
      commands.push(commandOf(req, value));
      at.push(i);
    } catch (err) {
      handled[i] = refusedReply(req, value, err);
    }
  });
  let committed: Awaited<ReturnType<Ledger["commitBatch"]>>;
  try {
    committed = await ledger.commitBatch(commands);
  } catch (err) {
    if (!isStorageRefusal(err)) throw err;
    // The storage refused the commit (disk full): nothing of the batch was written; every
    // command is refused as UNAVAILABLE, to be retried, and the engine stays up.
    const unavailable = storageRefusal((err as Error).message);
    at.forEach((i, k) => (handled[i] = refusedReply(requests[i]!, commands[k]!.input, unavailable)));
    return { handled, durable: Promise.resolve() };
  }
  const { outcomes, durable } = committed;
  outcomes.forEach((o, k) => {
    const i = at[k]!;
    const req = requests[i]!;
    const reply = o.reply;
    const outcome = reply.ok === false ? (reply.error as WireError).code : reply.duplicate === true ? "duplicate" : "ok";
    const refusal = reply.ok === false ? { error: reply.error as WireError, ids: idsOf(commands[k]!.input) } : null;
    const label = labelOf(req.verb, commands[k]!.input);
    handled[i] = { bytes: encodeReply(reply, req.encoding), outcome, label, notifications: o.notifications, refusal, points: pointsMoved(label, reply) };
  });
  return { handled, durable };
}

// ---- packing for the thread hop: one transferred buffer each way -----------------------------

export interface PackedRequests {
  verbs: CommandVerb[];
  /** 1 = MessagePack, 0 = JSON. */
  encodings: Uint8Array;
  stores: (string | null)[];
  /** Each request's credentialStore (null: none). */
  scopes: (string | null)[];
  offsets: Uint32Array;
  data: Uint8Array;
  /** Cluster mode only: each request's Command.logged (null: none). */
  logged: (Command["logged"] | null)[] | null;
  /** Cluster mode only: each read's partition (Command.readIn; -1: none). */
  readIn: Int32Array | null;
  /** How many requests, at the head, someone waits for (rpc, HTTP); the rest are bulk (the stream). */
  urgent: number;
}

export interface PackedHandled {
  offsets: Uint32Array;
  data: Uint8Array;
  outcomes: string[];
  labels: string[];
  notifications: (Notification[] | null)[];
  refusals: (Refusal | null)[];
  points: Float64Array;
  /** Times the batch was applied again (Committed.reapplied). */
  reapplied: number;
  /** Committed.transactionCommands: the commands of the transaction it shared, on its first batch; else 0. */
  transaction: number;
}

export function packRequests(requests: RawRequest[], urgent = requests.length): PackedRequests {
  const n = requests.length;
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + requests[i]!.bytes.length;
  const data = new Uint8Array(offsets[n]!);
  const encodings = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    data.set(requests[i]!.bytes, offsets[i]!);
    encodings[i] = requests[i]!.encoding === "msgpack" ? 1 : 0;
  }
  const scopes = requests.map((r) => r.credentialStore ?? null);
  const logged = requests.some((r) => r.logged) ? requests.map((r) => r.logged ?? null) : null;
  const readIn = requests.some((r) => r.readIn !== undefined) ? Int32Array.from(requests, (r) => r.readIn ?? -1) : null;
  return { verbs: requests.map((r) => r.verb), encodings, stores: requests.map((r) => r.subjectStore ?? null), scopes, offsets, data, logged, readIn, urgent };
}

export function unpackRequests(p: PackedRequests): RawRequest[] {
  return p.verbs.map((verb, i) => ({
    verb,
    bytes: p.data.subarray(p.offsets[i]!, p.offsets[i + 1]!),
    encoding: p.encodings[i] === 1 ? "msgpack" : "json",
    subjectStore: p.stores[i] ?? null,
    credentialStore: p.scopes[i] ?? null,
    logged: p.logged?.[i] ?? null,
    ...(p.readIn && p.readIn[i]! >= 0 ? { readIn: p.readIn[i]! } : {}),
  }));
}

export function packHandled(handled: Handled[], reapplied = 0, transaction = handled.length): PackedHandled {
  const n = handled.length;
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + handled[i]!.bytes.length;
  const data = new Uint8Array(offsets[n]!);
  for (let i = 0; i < n; i++) data.set(handled[i]!.bytes, offsets[i]!);
  return {
    offsets,
    data,
    outcomes: handled.map((h) => h.outcome),
    labels: handled.map((h) => h.label),
    notifications: handled.map((h) => (h.notifications.length ? h.notifications : null)),
    refusals: handled.map((h) => h.refusal),
    points: Float64Array.from(handled, (h) => h.points),
    reapplied,
    transaction,
  };
}

export function unpackHandled(p: PackedHandled): Handled[] {
  return p.outcomes.map((outcome, i) => ({
    bytes: p.data.subarray(p.offsets[i]!, p.offsets[i + 1]!),
    outcome,
    label: p.labels[i]!,
    notifications: p.notifications[i] ?? [],
    refusal: p.refusals[i] ?? null,
    points: p.points[i] ?? 0,
  }));
}
