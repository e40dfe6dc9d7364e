// Small building blocks both web apps use: a labelled field, a result line, a loader hook, an
// action hook, a confirmation dialog and a page frame. Native elements first (label, button,
// dialog): they come with the keyboard handling and the semantics screen readers expect.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "./http.js";
import { t } from "./strings.js";

export type Outcome = { ok: true; text: string } | { ok: false; error: unknown } | null;

/** The app's name, after each page's title in the browser's tab; set once by the app. */
export const uiConfig = { appName: "loyaltyd" };

/** An error as the engine says it: the API's code, message and field. */
export function errorText(err: unknown): string {
  // The engine's validation messages usually start with their field already.
  if (err instanceof ApiError) return `${err.code}: ${err.message}${err.field && !err.message.startsWith(err.field) ? ` (${t("errorField", { field: err.field })})` : ""}`;
  return err instanceof Error ? err.message : String(err);
}

/** A success (role status) or an error (role alert) under a form; `describe` words an error for its reader. */
export function Result({ outcome, describe = errorText }: { outcome: Outcome; describe?: (err: unknown) => string }) {
  if (outcome === null) return null;
  if (outcome.ok) return <p class="result ok" role="status">{outcome.text}</p>;
  return <p class="result error" role="alert">{t("errorPrefix")}: {describe(outcome.error)}</p>;
}

export function Field(props: { label: string; help?: string; children: (id: string, describedBy: string | undefined) => ComponentChildren }) {
  const id = useId();
  const helpId = props.help ? `${id}-help` : undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id, helpId)}
      {props.help && <small id={helpId}>{props.help}</small>}
    </div>
  );
}

/** Runs `load` on mount and when `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => setState({ data, error: null, loading: false }),
      (error: unknown) => setState({ data: null, error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

export function Loading({ state }: { state: { loading: boolean; error: unknown } }) {
  if (state.error) return <Result outcome={{ ok: false, error: state.error }} />;
  return state.loading ? <p aria-live="polite">{t("loading")}</p> : null;
}

/** Runs `act` and turns its answer or its error into an outcome for <Result>. */
export function useAction() {
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  const run = async (act: () => Promise<string>) => {
    setBusy(true);
    setOutcome(null);
    try {
      setOutcome({ ok: true, text: await act() });
    } catch (error) {
      setOutcome({ ok: false, error });
    } finally {
      setBusy(false);
    }
  };
  return { outcome, busy, run, setOutcome };
}

/**
 * A modal confirmation (the native dialog: focus stays inside, Escape cancels). `open`
 * shows it; the promise resolves true on Confirm.
 */
export function useConfirm() {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState("");
  const resolver = useRef<(yes: boolean) => void>(() => undefined);
  const ask = (question: string) =>
    new Promise<boolean>((resolve) => {
      setText(question);
      resolver.current = resolve;
      ref.current?.showModal();
    });
  const close = (yes: boolean) => {
    ref.current?.close();
    resolver.current(yes);
    resolver.current = () => undefined;
  };
  const dialog = (
    <dialog ref={ref} aria-labelledby="confirm-text" onCancel={() => close(false)}>
      <p id="confirm-text">{text}</p>
      <div class="row">
        <button type="button" class="danger" onClick={() => close(true)}>{t("confirm")}</button>
        <button type="button" onClick={() => close(false)} autofocus>{t("cancel")}</button>
      </div>
    </dialog>
  );
  return { ask, dialog };
}

export function Page(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · ${uiConfig.appName}`;
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1}>{props.title}</h1>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** The frame of both apps: a skip link, the header with the app's name, its pages' nav and who is signed in, then the page. */
export function Shell(props: {
  text: { appName: string; skipToContent: string; mainNav: string; signOut: string };
  pages: { path: string; label: string }[];
  current: string;
  /** Who is signed in, as the header shows it (null: nothing shown). */
  who: string | null;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const { text } = props;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>{text.skipToContent}</a>
      <header class="top">
        <span class="brand">{text.appName}</span>
        <nav aria-label={text.mainNav}>
          <ul>
            {props.pages.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === props.current ? "page" : undefined}>{p.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="session">
          {props.who !== null && <span>{props.who}</span>}
          <button type="button" onClick={props.onSignOut}>{text.signOut}</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

/**
 * The page the URL's hash names (`#/<path>`, `fallback` when none), followed as it changes;
 * on a change, focus moves to the new page's heading as a page load would (keyboard and
 * screen-reader users), and the nav's current link is kept in view (on a phone it scrolls sideways).
 */
export function useHashPath(fallback: string): string {
  const pathOfHash = () => location.hash.replace(/^#\/?/, "").split("?")[0] || fallback;
  const [path, setPath] = useState(pathOfHash());
  useEffect(() => {
    const onHash = () => {
      setPath(pathOfHash());
      requestAnimationFrame(() => {
        document.getElementById("page-title")?.focus();
        document.querySelector("nav [aria-current=page]")?.scrollIntoView({ block: "nearest", inline: "nearest" });
      });
    };
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  return path;
}
