// A refusal of the engine's HTTP API as the pages handle it: the envelope's typed error
// (code, message, field), whichever app asked. Shared by the console and the portal.

export type Json = Record<string, any>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The whole answer (a refused import's row errors are in it). */
    readonly body: Json = {},
    /** Seconds, from a 429's Retry-After. */
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

/** The API's error from a response that is not ok (the envelope's `error`, else the status). */
export async function errorOf(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get("retry-after"));
  const retryAfterSec = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  try {
    const body = (await res.json()) as Json;
    const e = body.error ?? {};
    return new ApiError(res.status, String(e.code ?? "INTERNAL"), String(e.message ?? res.statusText), e.field, body, retryAfterSec);
  } catch {
    return new ApiError(res.status, "INTERNAL", res.statusText || `HTTP ${res.status}`, undefined, {}, retryAfterSec);
  }
}
