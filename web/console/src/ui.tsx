// The console's own building blocks (a field that follows its value, JSON editors); the
// rest is web/shared/ui.tsx, which the participant portal uses too.
import { useEffect, useState } from "preact/hooks";
import { type Outcome, uiConfig } from "../../shared/ui.js";
import { t } from "./strings.js";

export { errorText, Field, Loading, Page, Result, useAction, useConfirm, useLoad, type Outcome } from "../../shared/ui.js";

uiConfig.appName = t("appName");

/**
 * Runs `query(value)` a moment after `value` last changed (as the operator types) and keeps
 * its answer or error; an answer for an older value that arrives late is dropped.
 */
export function useFollow<V, T>(value: V, query: (value: V) => Promise<T>, delayMs = 400) {
  const [state, setState] = useState<{ data: T | null; outcome: Outcome }>({ data: null, outcome: null });
  useEffect(() => {
    let current = true;
    const timer = setTimeout(async () => {
      try {
        const data = await query(value);
        if (current) setState({ data, outcome: null });
      } catch (error) {
        if (current) setState({ data: null, outcome: { ok: false, error } });
      }
    }, delayMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return state;
}

/** JSON for an editor: two-space indentation. */
export const pretty = (v: unknown): string => JSON.stringify(v, null, 2);

/** Parses an editor's JSON, or throws an error saying where it is broken. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(t("badJson", { message: (err as Error).message }));
  }
}
