// Adjustments waiting for a second operator (admin.approvalAbove): approve (it is applied)
// or reject. The API refuses the requester's own approval and an operator without money.
import { call, type Json } from "../api.js";
import { num, when } from "../format.js";
import { t } from "../strings.js";
import { Loading, Page, Result, useAction, useConfirm, useLoad } from "../ui.js";

export function ApprovalsPage() {
  const list = useLoad(() => call<{ approvals: Json[] }>("/v1/admin/approvals"));
  const act = useAction();
  const { ask, dialog } = useConfirm();
  const decide = async (a: Json, verb: "approve" | "reject") => {
    if (verb === "approve" && !(await ask(t("approveAdjustConfirm", { id: a.approvalId, amount: num(a.amountMax) })))) return;
    act.run(async () => {
      await call(`/v1/admin/approvals/${encodeURIComponent(a.approvalId)}/${verb}`, { method: "POST" });
      list.reload();
      return t(verb === "approve" ? "approvalApplied" : "approvalRejected", { id: a.approvalId });
    });
  };
  return (
    <Page title={t("approvalsTitle")} actions={<button type="button" onClick={list.reload}>{t("refresh")}</button>}>
      <p class="help">{t("approvalsHelp")}</p>
      <Result outcome={act.outcome} />
      <Loading state={list} />
      {list.data && list.data.approvals.length === 0 && <p>{t("nothing")}</p>}
      {list.data && list.data.approvals.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">{t("id")}</th><th scope="col">{t("kind")}</th><th scope="col">{t("requestedBy")}</th><th scope="col">{t("amount")}</th><th scope="col">{t("reason")}</th><th scope="col">{t("expiresAt")}</th><th scope="col"><span class="sr-only">{t("decide")}</span></th></tr></thead>
            <tbody>
              {list.data.approvals.map((a) => (
                <tr key={a.approvalId}>
                  <td>{a.approvalId}</td><td>{a.kind}</td><td>{a.requestedBy}</td><td class="num">{num(a.amountMax)}</td><td>{String(a.body.reason ?? "–")}</td><td>{when(a.expiresAt)}</td>
                  <td class="row">
                    <button type="button" class="small primary" disabled={act.busy} onClick={() => decide(a, "approve")} aria-label={`${t("approve")} ${a.approvalId}`}>{t("approve")}</button>
                    <button type="button" class="small danger" disabled={act.busy} onClick={() => decide(a, "reject")} aria-label={`${t("reject")} ${a.approvalId}`}>{t("reject")}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {dialog}
    </Page>
  );
}
