// The participant portal's shell: sign-in, the navigation (a distributor gets its own pages
// too), and the page the location's hash names (#/overview, #/history, ...): one HTML file, so
// the engine serves no route per page. Everything it shows comes from GET /v1/me/...
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { signOut, signedIn, whenUnauthorized, me, type Json } from "./api.js";
import { HistoryPage } from "./pages/history.js";
import { OverviewPage } from "./pages/overview.js";
import { ProfilePage } from "./pages/profile.js";
import { ProgressPage } from "./pages/progress.js";
import { RewardsPage } from "./pages/rewards.js";
import { SalesPage } from "./pages/sales.js";
import { SignIn } from "./pages/signin.js";
import { VouchersPage } from "./pages/vouchers.js";
import { t, type StringKey } from "./strings.js";
import { Loading, Shell, uiConfig, useHashPath, useLoad } from "../../shared/ui.js";
import "../../shared/base.css";
import "./portal.css";

uiConfig.appName = t("appName");

/** What every page gets: the customer as GET /v1/me answers it, and a way to read it again after a change. */
export interface PageProps {
  customer: Json;
  reload: () => void;
}

interface PageDef {
  path: string;
  label: StringKey;
  view: (p: PageProps) => preact.JSX.Element;
  distributor?: boolean;
}

const PAGES: PageDef[] = [
  { path: "overview", label: "navOverview", view: OverviewPage },
  { path: "history", label: "navHistory", view: HistoryPage },
  { path: "vouchers", label: "navVouchers", view: VouchersPage },
  { path: "rewards", label: "navRewards", view: RewardsPage },
  { path: "sales", label: "navSales", view: SalesPage, distributor: true },
  { path: "progress", label: "navProgress", view: ProgressPage, distributor: true },
  { path: "profile", label: "navProfile", view: ProfilePage },
];


function App() {
  const [session, setSession] = useState(signedIn());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const path = useHashPath("overview");
  useEffect(() => {
    whenUnauthorized(() => {
      setNotice(t("errSession"));
      setSession(false);
    });
  }, []);
  if (!session) return <SignIn notice={notice} onSignedIn={() => (setNotice(undefined), setSession(true))} />;
  return <SignedIn path={path} onSignOut={() => signOut().finally(() => setSession(false))} />;
}

function SignedIn(props: { path: string; onSignOut: () => void }) {
  const state = useLoad(() => me(""), []);
  const customer = state.data;
  if (!customer) return <main id="main"><Loading state={state} /></main>;
  const distributor = customer.kind === "distributor";
  const pages = PAGES.filter((p) => !p.distributor || distributor);
  const page = pages.find((p) => p.path === props.path) ?? pages[0]!;
  const View = page.view;
  const name = customer.company?.name ?? customer.profile?.firstName ?? customer.profile?.name;
  return (
    <Shell
      text={{ appName: t("appName"), skipToContent: t("skipToContent"), mainNav: t("mainNav"), signOut: t("signOut") }}
      pages={pages.map((p) => ({ path: p.path, label: t(p.label) }))}
      current={page.path}
      who={name ? String(name) : null}
      onSignOut={props.onSignOut}
    >
      <View key={page.path} customer={customer} reload={state.reload} />
    </Shell>
  );
}

render(<App />, document.getElementById("app")!);
