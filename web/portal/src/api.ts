// The portal's only way to the engine: the public participant API, `/v1/me/...` (docs/protocol.md,
// Participant portal), with the session token as `Authorization: Bearer`. Never an admin route.
import { ApiError, errorOf, type Json } from "../../shared/http.js";

export { ApiError, type Json };

const TOKEN_KEY = "loyaltyd.portal.token";

/** Kept for the browser tab only (sessionStorage): closing the tab signs out. */
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let onUnauthorized: () => void = () => undefined;

export function setToken(next: string | null): void {
  token = next;
  if (next === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, next);
}

export const signedIn = (): boolean => token !== null;

export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** A `/v1/me` route: JSON in, JSON out, the API's typed error thrown. */
export async function me<T = Json>(path: string, method = "GET", body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`/v1/me${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (!res.ok && res.status !== 202) {
    const err = await errorOf(res);
    // A session that ended (expired, signed out elsewhere, the engine restarted): back to sign-in.
    if (res.status === 401 && token !== null && !path.startsWith("/session")) onUnauthorized();
    throw err;
  }
  return (await res.json()) as T;
}

/** A request id for a write: unique per click, so a retry of the same click could reuse it. */
export function requestId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function signOut(): Promise<void> {
  try {
    if (token !== null) await me("/logout", "POST");
  } finally {
    setToken(null);
  }
}
