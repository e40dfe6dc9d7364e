// The sign-in form: an operator token (and a name, for the shared admin token), checked
// against the API before the console opens.
import { useState } from "preact/hooks";
import type { Session } from "../api.js";
import { t } from "../strings.js";
import { Field, Result, type Outcome } from "../ui.js";

export function SignIn(props: { onSignedIn: (s: Session) => void; check: (s: Session) => Promise<void> }) {
  const [token, setToken] = useState("");
  const [operator, setOperator] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const s = { token: token.trim(), operator: operator.trim() };
    setBusy(true);
    setOutcome(null);
    try {
      await props.check(s);
      props.onSignedIn(s);
    } catch (error) {
      setOutcome({ ok: false, error });
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">{t("appName")}</h1>
        <h2>{t("signInTitle")}</h2>
        <p>{t("signInHelp")}</p>
        <Field label={t("token")}>
          {(id) => <input id={id} name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />}
        </Field>
        <Field label={t("operatorName")} help={t("operatorNameHelp")}>
          {(id, help) => <input id={id} name="operator" autocomplete="username" aria-describedby={help} value={operator} onInput={(e) => setOperator(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="primary" disabled={busy}>{busy ? t("checking") : t("signIn")}</button>
        <Result outcome={outcome} />
      </form>
    </main>
  );
}
