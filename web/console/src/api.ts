// The console's only way to the engine: its public HTTP API, with the operator's token as
// `Authorization: Bearer`. A refusal comes back as the API's typed error (code, message, field;
// web/shared/http.ts).
import { errorOf, type Json } from "../../shared/http.js";

export { ApiError, type Json } from "../../shared/http.js";

const TOKEN_KEY = "loyaltyd.console.token";
const OPERATOR_KEY = "loyaltyd.console.operator";

export interface Session {
  token: string;
  /** Put in the bodies that name an operator; empty with an operator's own token (the engine fills it in). */
  operator: string;
}

/** Kept for the browser tab only (sessionStorage): closing the tab signs out. */
export function loadSession(): Session | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { token, operator: sessionStorage.getItem(OPERATOR_KEY) ?? "" } : null;
}

export function saveSession(s: Session | null): void {
  if (s === null) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(OPERATOR_KEY);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, s.token);
  sessionStorage.setItem(OPERATOR_KEY, s.operator);
}

interface Request {
  method?: string;
  body?: unknown;
  /** A raw body (an uploaded file) with its content type. */
  raw?: { data: Blob; type: string };
  /** Resolve to the response itself (a CSV download), not to JSON. */
  response?: boolean;
}

let session: Session | null = loadSession();
let onUnauthorized: () => void = () => undefined;

export function setSession(s: Session | null): void {
  session = s;
  saveSession(s);
}

export function currentSession(): Session | null {
  return session;
}

export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** The body with `operator` set when the operator gave a name (the shared admin token needs one). */
export function withOperator(body: Json): Json {
  return session?.operator ? { operator: session.operator, ...body } : body;
}

export async function call(path: string, req: Request & { response: true }): Promise<Response>;
export async function call<T = Json>(path: string, req?: Request): Promise<T>;
export async function call(path: string, req: Request = {}): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (session) headers.authorization = `Bearer ${session.token}`;
  let body: BodyInit | undefined;
  if (req.raw) {
    headers["content-type"] = req.raw.type;
    body = req.raw.data;
  } else if (req.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.body);
  }
  const res = await fetch(path, { method: req.method ?? (body === undefined ? "GET" : "POST"), headers, body, cache: "no-store" });
  if (res.status === 401) onUnauthorized();
  // 202: an adjustment waiting for a second operator is an answer, not an error.
  if (!res.ok && res.status !== 202) throw await errorOf(res);
  return req.response ? res : res.json();
}

/** A read of one customer (or a quote) on the admin API: POST /v1/admin/lookup/<verb>, role read. */
export function lookup<T = Json>(verb: "customer" | "balance" | "statement" | "vouchers" | "quote" | "targets", body: Json): Promise<T> {
  return call<T>(`/v1/admin/lookup/${verb}`, { body });
}

/** A request id for an idempotent admin call: unique per click. */
export function requestId(prefix: string): string {
  return `console-${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Downloads a CSV answer of an admin route (a link cannot carry the bearer token). */
export async function download(path: string, fileName: string): Promise<void> {
  const res = await call(path, { response: true });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
