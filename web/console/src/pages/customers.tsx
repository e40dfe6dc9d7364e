// Customers: find one by card, phone, id or loyalty id; profile, balances with expiring
// lots, statement and vouchers; a manual adjustment, a merge and an erase, each confirmed.
import { useState } from "preact/hooks";
import { call, lookup, requestId, withOperator, type Json } from "../api.js";
import { day, num, when } from "../format.js";
import { t } from "../strings.js";
import { Field, Page, Result, useAction, useConfirm, type Outcome } from "../ui.js";
import { Cards } from "./customer-cards.js";

type RefKind = "card" | "phone" | "email" | "customerId" | "loyaltyId";
const KINDS: { kind: RefKind; label: "byCard" | "byPhone" | "byEmail" | "byCustomerId" | "byLoyaltyId" }[] = [
  { kind: "card", label: "byCard" },
  { kind: "phone", label: "byPhone" },
  { kind: "email", label: "byEmail" },
  { kind: "customerId", label: "byCustomerId" },
  { kind: "loyaltyId", label: "byLoyaltyId" },
];

interface Found {
  customer: Json;
  balance: Json;
  statement: Json;
  vouchers: Json;
}

async function find(ref: Json): Promise<Found> {
  const customer = await lookup("customer", { customer: ref });
  const byId = { customerId: customer.customerId as string };
  const [balance, statement, vouchers] = await Promise.all([
    lookup("balance", { customer: byId }),
    lookup("statement", { customer: byId, limit: 100 }),
    lookup("vouchers", { customer: byId, limit: 100 }),
  ]);
  return { customer, balance, statement, vouchers };
}

export function CustomersPage() {
  const [kind, setKind] = useState<RefKind>("card");
  const [value, setValue] = useState("");
  const [found, setFound] = useState<Found | null>(null);
  /** Several customers share the e-mail searched for: the operator picks one. */
  const [matches, setMatches] = useState<Json[] | null>(null);
  const [searchOutcome, setSearchOutcome] = useState<Outcome>(null);
  const open = async (ref: Json) => {
    setSearchOutcome(null);
    setMatches(null);
    try {
      setFound(await find(ref));
    } catch (error) {
      setFound(null);
      setSearchOutcome({ ok: false, error });
    }
  };
  const search = async (e?: Event) => {
    e?.preventDefault();
    if (kind !== "email") return open({ [kind]: value.trim() });
    setFound(null);
    try {
      const { customers } = await call<{ customers: Json[] }>(`/v1/admin/customers/by-email?email=${encodeURIComponent(value.trim())}&limit=50`);
      if (customers.length === 1) return open({ customerId: customers[0]!.customerId });
      setMatches(customers.length > 1 ? customers : null);
      setSearchOutcome(customers.length === 0 ? { ok: false, error: new Error(t("noEmailMatch", { email: value.trim() })) } : null);
    } catch (error) {
      setSearchOutcome({ ok: false, error });
    }
  };
  const refresh = async () => setFound(await find({ customerId: found!.customer.customerId }));
  return (
    <Page title={t("customersTitle")}>
      <form class="card search" onSubmit={search} role="search">
        <Field label={t("searchBy")}>
          {(id) => (
            <select id={id} name="ref-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as RefKind)}>
              {KINDS.map((k) => <option key={k.kind} value={k.kind}>{t(k.label)}</option>)}
            </select>
          )}
        </Field>
        <Field label={t("searchValue")}>
          {(id) => <input id={id} name="ref-value" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />}
        </Field>
        <button type="submit" class="primary">{t("search")}</button>
      </form>
      <Result outcome={searchOutcome} />
      {matches && (
        <section class="card" aria-labelledby="matches-title">
          <h2 id="matches-title">{t("emailMatches", { count: matches.length })}</h2>
          <ul class="plain">
            {matches.map((m) => (
              <li key={m.customerId}>
                <button type="button" class="link" onClick={() => open({ customerId: m.customerId })}>{m.customerId}</button> {m.name ?? "–"}
              </li>
            ))}
          </ul>
        </section>
      )}
      {found && <CustomerView found={found} refresh={refresh} onGone={(text) => (setFound(null), setSearchOutcome({ ok: true, text }))} />}
    </Page>
  );
}

/** `onGone`: the customer was merged away or erased; the page says so in place of the view. */
function CustomerView({ found, refresh, onGone }: { found: Found; refresh: () => Promise<void>; onGone: (text: string) => void }) {
  const c = found.customer;
  const profile = (c.profile ?? {}) as Json;
  return (
    <div class="grid">
      <section class="card" aria-labelledby="profile-title">
        <h2 id="profile-title">{t("profile")}: {c.customerId}</h2>
        <dl>
          <dt>{t("name")}</dt><dd>{profile.name ?? "–"}</dd>
          <dt>{t("email")}</dt><dd>{profile.email ?? "–"}</dd>
          <dt>{t("phone")}</dt><dd>{profile.phone ?? "–"}</dd>
          <dt>{t("tier")}</dt><dd>{c.tier?.id ?? "–"}</dd>
          <dt>{t("groups")}</dt><dd>{(c.groups as string[]).join(", ") || "–"}</dd>
          <dt>{t("consents")}</dt><dd>{Object.entries(c.consents ?? {}).map(([ch, v]) => `${ch}: ${(v as Json).granted ? t("yes") : t("no")}`).join(", ") || "–"}</dd>
          <dt>{t("createdAt")}</dt><dd>{day(c.createdAt)}</dd>
        </dl>
      </section>
      <Adjust customerId={c.customerId} refresh={refresh} />
      <Cards customerId={c.customerId} cards={c.cards as Json[]} refresh={refresh} />
      <section class="card wide" aria-labelledby="balances-title">
        <h2 id="balances-title">{t("balances")}</h2>
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("account")}</th><th scope="col">{t("balance")}</th><th scope="col">{t("held")}</th><th scope="col">{t("available")}</th><th scope="col">{t("expiring")}</th></tr></thead>
            <tbody>
              {(found.balance.accounts as Json[]).map((a) => (
                <tr key={a.account}>
                  <td>{a.account}</td><td class="num" data-testid={`balance-${a.account}`}>{num(a.balance)}</td><td class="num">{num(a.held)}</td><td class="num">{num(a.available)}</td>
                  <td>{(a.expiring as Json[]).map((x) => t("expiresOn", { amount: num(x.amount), date: day(x.at) })).join("; ") || "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card wide" aria-labelledby="statement-title">
        <h2 id="statement-title">{t("statement")}</h2>
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("at")}</th><th scope="col">{t("kind")}</th><th scope="col">{t("account")}</th><th scope="col">{t("amount")}</th><th scope="col">{t("cause")}</th></tr></thead>
            <tbody>
              {(found.statement.entries as Json[]).map((e) => (
                <tr key={e.seq}><td class="nowrap">{when(e.at)}</td><td>{e.kind}</td><td>{e.account}</td><td class="num">{num(e.amount)}</td><td>{e.cause}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card" aria-labelledby="vouchers-title">
        <h2 id="vouchers-title">{t("vouchers")}</h2>
        {((found.vouchers.vouchers as Json[] | undefined) ?? []).length === 0 ? <p>{t("nothing")}</p> : (
          <ul>{(found.vouchers.vouchers as Json[]).map((v) => <li key={v.code}>{v.code}: {v.status}</li>)}</ul>
        )}
      </section>
      <Dangerous customerId={c.customerId} onGone={onGone} />
    </div>
  );
}

function Adjust({ customerId, refresh }: { customerId: string; refresh: () => Promise<void> }) {
  const [account, setAccount] = useState("points");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const act = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    act.run(async () => {
      const body = withOperator({ requestId: requestId("adj"), customer: { customerId }, account, amount: Number(amount), reason });
      const r = await call<Json>("/v1/admin/adjustments", { body });
      if (r.status === "pending") return t("pendingApproval", { id: r.approvalId });
      await refresh();
      return t("adjusted", { balance: num(r.balance) });
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="adjust-title">
      <h2 id="adjust-title">{t("adjustTitle")}</h2>
      <p class="help">{t("adjustHelp")}</p>
      <Field label={t("account")}>{(id) => <input id={id} name="account" required value={account} onInput={(e) => setAccount(e.currentTarget.value)} />}</Field>
      <Field label={t("amount")}>{(id) => <input id={id} name="amount" type="number" step="1" required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}</Field>
      <Field label={t("reason")}>{(id) => <input id={id} name="reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}</Field>
      <button type="submit" class="primary" disabled={act.busy}>{t("adjust")}</button>
      <Result outcome={act.outcome} />
    </form>
  );
}

function Dangerous({ customerId, onGone }: { customerId: string; onGone: (text: string) => void }) {
  const [into, setInto] = useState("");
  const [reason, setReason] = useState("");
  const act = useAction();
  const { ask, dialog } = useConfirm();
  const merge = async (e: Event) => {
    e.preventDefault();
    if (!(await ask(t("mergeConfirm", { from: customerId, into })))) return;
    act.run(async () => {
      const r = await call<Json>("/v1/admin/customers/merge", { body: withOperator({ requestId: requestId("merge"), from: customerId, into: into.trim(), reason }) });
      const text = t("merged", { from: r.from, into: r.into });
      onGone(text);
      return text;
    });
  };
  const erase = async () => {
    if (!reason.trim()) return act.setOutcome({ ok: false, error: new Error(t("rejectReasonRequired")) });
    if (!(await ask(t("eraseConfirm", { id: customerId })))) return;
    act.run(async () => {
      await call(`/v1/admin/customers/${encodeURIComponent(customerId)}/erase`, { body: withOperator({ reason }) });
      const text = t("erased", { id: customerId });
      onGone(text);
      return text;
    });
  };
  return (
    <form class="card danger-zone" onSubmit={merge} aria-labelledby="merge-title">
      <h2 id="merge-title">{t("mergeTitle")} / {t("eraseTitle")}</h2>
      <Field label={t("reason")}>{(id) => <input id={id} name="danger-reason" maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}</Field>
      <Field label={t("mergeInto")}>{(id) => <input id={id} name="merge-into" value={into} onInput={(e) => setInto(e.currentTarget.value)} />}</Field>
      <div class="row">
        <button type="submit" class="danger" disabled={act.busy || !into.trim() || !reason.trim()}>{t("merge")}</button>
        <button type="button" class="danger" disabled={act.busy} onClick={erase}>{t("erase")}</button>
      </div>
      <Result outcome={act.outcome} />
      {dialog}
    </form>
  );
}
