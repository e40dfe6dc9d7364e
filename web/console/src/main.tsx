// The console's shell: sign-in, the navigation, and the page the location's hash names
// (#/programmes, #/customers, ...): one HTML file, so the engine serves no route per page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, currentSession, setSession, whenUnauthorized, type Session } from "./api.js";
import { ApprovalsPage } from "./pages/approvals.js";
import { CataloguePage } from "./pages/catalogue.js";
import { CustomersPage } from "./pages/customers.js";
import { ImportsPage } from "./pages/imports.js";
import { LivePage } from "./pages/live.js";
import { ProgrammesPage } from "./pages/programmes.js";
import { RankingsPage } from "./pages/rankings.js";
import { ReportsPage } from "./pages/reports.js";
import { SegmentsPage } from "./pages/segments.js";
import { SignIn } from "./pages/signin.js";
import { t, type StringKey } from "./strings.js";
import { Shell, useHashPath } from "../../shared/ui.js";
import "../../shared/base.css";

const PAGES: { path: string; label: StringKey; view: () => preact.JSX.Element }[] = [
  { path: "programmes", label: "navProgrammes", view: ProgrammesPage },
  { path: "customers", label: "navCustomers", view: CustomersPage },
  { path: "reports", label: "navReports", view: ReportsPage },
  { path: "approvals", label: "navApprovals", view: ApprovalsPage },
  { path: "segments", label: "navSegments", view: SegmentsPage },
  { path: "catalogue", label: "navCatalogue", view: CataloguePage },
  { path: "imports", label: "navImports", view: ImportsPage },
  { path: "rankings", label: "navRankings", view: RankingsPage },
  { path: "live", label: "navLive", view: LivePage },
];


function App() {
  const [session, setState] = useState<Session | null>(currentSession());
  const path = useHashPath("programmes");
  const signIn = (s: Session | null) => {
    setSession(s);
    setState(s);
  };
  useEffect(() => {
    whenUnauthorized(() => signIn(null));
  }, []);
  if (!session) return <SignIn onSignedIn={signIn} check={(s) => checkToken(s)} />;
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0]!;
  const View = page.view;
  return (
    <Shell
      text={{ appName: t("appName"), skipToContent: t("skipToContent"), mainNav: t("mainNav"), signOut: t("signOut") }}
      pages={PAGES.map((p) => ({ path: p.path, label: t(p.label) }))}
      current={page.path}
      who={t("signedInAs", { name: session.operator ? `: ${session.operator}` : "" })}
      onSignOut={() => signIn(null)}
    >
      <View key={page.path} />
    </Shell>
  );
}

/** A token is good when the API answers an operator's read with it (401: unknown; 403: no read role). */
async function checkToken(s: Session): Promise<void> {
  const res = await fetch("/v1/admin/programmes", { headers: { authorization: `Bearer ${s.token}` }, cache: "no-store" });
  if (res.ok) return;
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string; code?: string } };
  throw new Error(`${body.error?.code ?? res.status}: ${body.error?.message ?? res.statusText}`);
}

render(<App />, document.getElementById("app")!);
