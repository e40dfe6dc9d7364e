// Sign-in in two steps: who (card, phone or e-mail) -> a one-time code goes out as a
// loyalty.notify.otp notification, which the SMS / e-mail connector delivers -> the code.
// A refused code is worded by refusalOf (input.ts): expired, locked or wrong.
import { useRef, useState } from "preact/hooks";
import { when } from "../../../shared/format.js";
import { ApiError, me, setToken } from "../api.js";
import { referenceOf, refusalOf } from "../input.js";
import { t } from "../strings.js";
import { Field, Result, type Outcome } from "../../../shared/ui.js";

interface Sent {
  customer: Record<string, string>;
  expiresAt: number;
}

/** The two steps' state: the code asked for (and when it expires), the refused tries, the last outcome. */
function useSignIn(onSignedIn: () => void, notice: string | undefined, focus: { who: () => void; code: () => void; codeSelect: () => void }) {
  const [sent, setSent] = useState<Sent | null>(null);
  const [tries, setTries] = useState(0);
  const [outcome, setOutcome] = useState<Outcome>(notice ? { ok: true, text: notice } : null);
  const [busy, setBusy] = useState(false);
  const ask = async (who: string) => {
    const customer = referenceOf(who);
    if (customer === null) return setOutcome({ ok: false, error: new Error(t("errWho")) });
    setBusy(true);
    setOutcome(null);
    try {
      const answer = await me<{ expiresInMs: number }>("/otp", "POST", { customer });
      const expiresAt = Date.now() + answer.expiresInMs;
      setSent({ customer, expiresAt });
      setTries(0);
      setOutcome({ ok: true, text: t("codeSent", { time: when(expiresAt) }) });
      requestAnimationFrame(focus.code);
    } catch (error) {
      setOutcome({ ok: false, error });
    } finally {
      setBusy(false);
    }
  };
  const verify = async (code: string) => {
    if (!sent) return;
    setBusy(true);
    setOutcome(null);
    try {
      const session = await me<{ token: string }>("/session", "POST", { customer: sent.customer, code: code.trim() });
      setToken(session.token);
      onSignedIn();
    } catch (error) {
      const wrong = error instanceof ApiError && error.status === 401;
      if (wrong) setTries((n) => n + 1);
      setOutcome({ ok: false, error: wrong ? new Error(signInRefusal(sent, tries + 1)) : error });
      setBusy(false);
      requestAnimationFrame(focus.codeSelect);
    }
  };
  const restart = () => {
    setSent(null);
    setOutcome(null);
    requestAnimationFrame(focus.who);
  };
  return { sent, outcome, busy, ask, verify, restart };
}

export function SignIn(props: { onSignedIn: () => void; notice?: string }) {
  const [who, setWho] = useState("");
  const [code, setCode] = useState("");
  const codeInput = useRef<HTMLInputElement>(null);
  const whoInput = useRef<HTMLInputElement>(null);
  const { sent, outcome, busy, ask: askFor, verify: verifyCode, restart } = useSignIn(props.onSignedIn, props.notice, {
    who: () => whoInput.current?.focus(),
    code: () => codeInput.current?.focus(),
    codeSelect: () => codeInput.current?.select(),
  });
  const ask = (e?: Event) => {
    e?.preventDefault();
    setCode("");
    void askFor(who);
  };
  const verify = (e: Event) => {
    e.preventDefault();
    void verifyCode(code);
  };
  return (
    <main id="main" class="signin">
      <form onSubmit={sent ? verify : ask} aria-labelledby="signin-title" noValidate>
        <h1 id="signin-title">{t("appName")}</h1>
        <h2>{t("signInTitle")}</h2>
        <p>{t("signInHelp")}</p>
        <Field label={t("who")} help={t("whoHelp")}>
          {(id, help) => (
            <input ref={whoInput} id={id} name="who" autocomplete="username" required aria-describedby={help} readOnly={sent !== null} value={who} onInput={(e) => setWho(e.currentTarget.value)} />
          )}
        </Field>
        {sent && (
          <Field label={t("code")} help={t("codeHelp")}>
            {(id, help) => (
              <input
                ref={codeInput} id={id} name="code" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required
                aria-describedby={help} value={code} onInput={(e) => setCode(e.currentTarget.value.replace(/\D/g, ""))}
              />
            )}
          </Field>
        )}
        <div class="row">
          {sent ? (
            <>
              <button type="submit" class="primary" disabled={busy || code.length !== 6}>{busy ? t("verifying") : t("verify")}</button>
              <button type="button" onClick={() => ask()} disabled={busy}>{t("newCode")}</button>
              <button type="button" class="link" onClick={restart}>{t("otherAccount")}</button>
            </>
          ) : (
            <button type="submit" class="primary" disabled={busy}>{busy ? t("sending") : t("sendCode")}</button>
          )}
        </div>
        <Result outcome={outcome} describe={describeSignInError} />
      </form>
    </main>
  );
}

function signInRefusal(sent: Sent, tries: number): string {
  const refusal = refusalOf(sent.expiresAt, tries, Date.now());
  return refusal === "expired" ? t("errExpired") : refusal === "locked" ? t("errLocked") : t("errWrongCode", { tries });
}

function describeSignInError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return t("errRateLimited", { minutes: Math.max(1, Math.ceil((err.retryAfterSec ?? 60) / 60)) });
    if (err.code === "VALIDATION" && err.field === "code") return t("errCodeFormat");
    if (err.code === "VALIDATION" && err.field?.startsWith("customer")) return t("errWho");
    return `${err.code}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
