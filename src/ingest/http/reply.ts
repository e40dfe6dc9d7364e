// What every HTTP route answers with: the contract's envelope, the status its code maps
// to, and the request's credential as the headers present it.
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import { decodeBytes } from "../../codec/codec.js";
import { LoyaltyError, failure, httpStatusOf, toWireError, type ErrorCode, type WireError } from "../../errors.js";
import { limits } from "../../limits.js";
import { isStorageRefusal } from "../../ledger/store.js";
import type { Logger } from "../../observe/logger.js";

export type Reply = Record<string, unknown>;

export function sendReply(res: FastifyReply, reply: Reply): FastifyReply {
  const code = reply.ok === false ? ((reply.error as { code: ErrorCode }).code ?? "INTERNAL") : null;
  return res.code(code ? httpStatusOf(code) : 200).send(reply);
}

/**
 * Any thrown value -> wire error: typed errors as they are; the web server's own errors
 * (a body too large, a malformed request) by their status; anything else INTERNAL.
 */
export function wireErrorOf(err: unknown): WireError {
  if (err instanceof LoyaltyError) return err.toWire();
  if (isStorageRefusal(err)) return { code: "UNAVAILABLE", message: "the ledger cannot write now (disk full?); retry later" };
  const status = (err as { statusCode?: number } | null)?.statusCode ?? 500;
  if (status === 413) return { code: "PAYLOAD_TOO_LARGE", message: (err as Error).message };
  if (status < 500) return { code: "BAD_REQUEST", message: (err as Error).message };
  return toWireError(err);
}

/**
 * What the web server answers for a value thrown while serving a request: a typed error as
 * it is; anything unexpected logged, and answered INTERNAL without its message.
 */
export function answerable(err: unknown, log: Logger): LoyaltyError {
  const wire = wireErrorOf(err);
  if (wire.code === "INTERNAL") log.error({ err }, "http error");
  return new LoyaltyError(wire.code, wire.code === "INTERNAL" ? undefined : wire.message);
}

export function sendError(res: FastifyReply, err: unknown): FastifyReply {
  const wire = wireErrorOf(err);
  return res.code(httpStatusOf(wire.code)).send(failure(wire));
}

export function jsonBody(req: FastifyRequest, bytesMax: number = limits.payloadBytesMax): unknown {
  return decodeBytes((req.body as Buffer | undefined) ?? Buffer.alloc(0), "json", bytesMax);
}

/** `?limit=` of an admin listing, clamped to 1..adminListMax (default 1000). */
export function listLimit(query: { limit?: string }): number {
  return Math.min(Math.max(Number(query.limit ?? 1000) || 1000, 1), limits.adminListMax);
}

/** What the credential helpers read of a request: its headers (fastify's request or node:http's). */
type Headed = { headers: IncomingHttpHeaders };

/** The bearer token of `Authorization: Bearer <secret>`, if any. */
export function bearerOf(req: Headed): string | null {
  const header = req.headers.authorization;
  return typeof header === "string" && header.startsWith("Bearer ") && header.length > 7 ? header.slice(7) : null;
}

/** A terminal's key: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function apiKeyOf(req: Headed): string | null {
  const key = req.headers["x-api-key"];
  return bearerOf(req) ?? (typeof key === "string" && key.length > 0 ? key : null);
}

/** Whether the body is declared JSON: `application/json`, parameters (charset) allowed. */
export function isJsonContentType(req: Headed): boolean {
  const type = req.headers["content-type"];
  if (typeof type !== "string") return false;
  const semi = type.indexOf(";");
  return (semi === -1 ? type : type.slice(0, semi)).trim().toLowerCase() === "application/json";
}
