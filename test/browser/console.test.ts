// The operator console in a real browser (Debian's chromium) against a real engine and NATS:
// sign in, edit a programme and see the engine's validation and the quote preview change,
// find a customer and adjust, approve a distributor's report and see its points arrive,
// count, save and export a segment, the Live panel; a screenshot of each page.
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { B2B_PROGRAMME, BASE_PROGRAMME } from "../fixtures.js";
import { B2B_PRODUCTS, line, send } from "../e2e/b2b-helpers.js";
import { ADMIN_TOKEN, sale, startTestEnv, type TestEnv } from "../e2e/harness.js";
import { accessibilityViolations, openBrowser, shot, type Browser } from "./browser.js";

/** How long a figure on the page may take to follow the engine (queries run on their own threads; the machine may be busy). */
const WAIT = { timeout: 10_000 };
const BASKET = (eventId: string) => ({ ...sale(eventId, { card: "C-100" }, [{ lineId: "1", sku: "A1", qty: 3, unitPrice: 1000, category: "drinks" }]), at: Date.now() });

describe("the operator console in chromium", () => {
  let t: TestEnv;
  let b: Browser;
  let distributor: string;
  const url = () => `${t.http}/console`;

  beforeAll(async () => {
    t = await startTestEnv({ "reports.currency": "PLN" }, [BASE_PROGRAMME, B2B_PROGRAMME]);
    for (const [sku, body] of Object.entries(B2B_PRODUCTS)) expect((await send(t, "PUT", `/v1/admin/products/${sku}`, body)).status).toBe(200);
    const shopper = await t.rpc("enroll", { requestId: "e-1", card: "C-100", profile: { name: "Ada Lovelace", email: "ada@example.com", consents: { email: true } } });
    expect(shopper.ok).toBe(true);
    expect((await t.rpc("accrue", BASKET("s-1"))).ok).toBe(true);
    distributor = (await t.rpc("enroll", { requestId: "e-d", kind: "distributor", company: { name: "Farby Północ", taxId: "PL0001" } })).customerId;
    const report = await t.rpc("submitReport", { requestId: "q-1", customer: { customerId: distributor }, reportId: "R-1", lines: [line("F-1", "PAINT-10L", 3, 30_000), line("F-2", "GHOST", 1, 100)] });
    expect(report).toMatchObject({ ok: true, status: "pending" });
    b = await openBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await t?.stop();
  });

  it("serves the page and its hashed assets with their types and cache headers", async () => {
    const index = await fetch(url());
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await index.text())![1]!;
    const js = await fetch(t.http + script);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
  });

  it("refuses a wrong token and signs in with the keyboard", async () => {
    const { page } = b;
    await page.goto(url());
    await page.getByLabel("Operator token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("UNAUTHORIZED");
    await shot(page, "01-sign-in");
    await page.getByLabel("Operator token").fill("");
    await page.getByLabel("Operator token").focus();
    await page.keyboard.type(ADMIN_TOKEN);
    await page.keyboard.press("Tab");
    await page.keyboard.type("olga");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Programmes", level: 1 }).waitFor();
    await page.getByRole("button", { name: "base", exact: true }).waitFor();
  });

  it("shows the engine's validation of a programme, installs it, and the preview follows", async () => {
    const { page } = b;
    const preview = async () => {
      await page.getByRole("button", { name: "Preview" }).click();
      return Number(/Earns (\d+) points/.exec((await page.getByRole("status").filter({ hasText: "Earns" }).textContent({ timeout: 10_000 }))!)![1]);
    };
    await page.getByLabel("Basket (a sale event, JSON)").fill(JSON.stringify(BASKET("q-1"), null, 2));
    const before = await preview();
    const quoted = await t.rpc("quote", BASKET("q-2"));
    expect(before).toBe(quoted.earned);

    await page.getByRole("button", { name: "base", exact: true }).click();
    const editor = page.getByLabel("Programme (JSON)");
    const programme = JSON.parse(await editor.inputValue());
    await editor.fill(JSON.stringify({ ...programme, rules: [{ kind: "spend", per: -5, points: 1 }] }, null, 2));
    // The engine checks the draft as it is typed, and installs nothing.
    await expect.poll(() => page.getByTestId("programme-check").textContent(), WAIT).toContain("VALIDATION: rules[0].per");
    expect(await editor.getAttribute("aria-invalid")).toBe("true");
    expect((await send(t, "GET", "/v1/admin/programmes/base")).body.version).toBe(1);
    await page.getByRole("button", { name: "Install" }).click();
    const refusal = await page.getByRole("alert").textContent();
    expect(refusal).toContain("VALIDATION");
    expect(refusal).toContain("rules[0].per");
    await shot(page, "02-programmes-validation");

    // Twice the points: one per 0.50 EUR.
    await editor.fill(JSON.stringify({ ...programme, rules: [{ kind: "spend", per: 50, points: 1 }] }, null, 2));
    await expect.poll(() => page.getByTestId("programme-check").textContent(), WAIT).toContain("The engine accepts this programme");
    await page.getByRole("button", { name: "Install" }).click();
    await page.getByRole("status").filter({ hasText: "Installed base, version 2." }).waitFor();
    const after = await preview();
    expect(after).toBe((await t.rpc("quote", BASKET("q-3"))).earned);
    expect(after).toBeGreaterThan(before);
    await shot(page, "03-programmes-preview");
  });

  it("finds a customer by card and adjusts the balance with a reason", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Value").fill("C-100");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: /Profile: / }).waitFor();
    const balance = (await t.rpc("balance", { customer: { card: "C-100" } })).accounts[0].balance as number;
    expect(await page.getByTestId("balance-points").textContent(), WAIT).toBe(String(balance));
    await page.getByLabel("Amount").fill("7");
    await page.getByLabel("Reason", { exact: true }).first().fill("goodwill");
    await page.getByRole("button", { name: "Adjust" }).click();
    await page.getByRole("status").filter({ hasText: "Adjusted" }).waitFor();
    expect((await t.rpc("balance", { customer: { card: "C-100" } })).accounts[0].balance).toBe(balance + 7);
    expect(await page.getByTestId("balance-points").textContent(), WAIT).toBe(String(balance + 7));
    await page.getByRole("cell", { name: /adjustment .* by olga: goodwill/ }).waitFor();
    await shot(page, "04-customer");
    // By e-mail, whatever its case: one match opens the customer.
    await page.getByLabel("Search by").selectOption("email");
    await page.getByLabel("Value").fill("ADA@example.com");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: `Profile: ${(await t.rpc("customer", { customer: { card: "C-100" } })).customerId}` }).waitFor();
    await page.getByLabel("Search by").selectOption("card");
  });

  it("blocks a customer's card and unblocks it", async () => {
    const { page } = b;
    const card = page.locator("li[data-card='C-100']");
    await card.getByRole("button", { name: "Block" }).click();
    await card.getByText("(blocked)").waitFor();
    expect((await t.rpc("balance", { customer: { card: "C-100" } })).error.code).toBe("CARD_BLOCKED");
    await card.getByRole("button", { name: "Unblock" }).click();
    await card.getByText("(active)").waitFor();
    expect((await t.rpc("balance", { customer: { card: "C-100" } })).ok).toBe(true);
  });

  it("merges a customer into another and erases one, each after a confirmation", async () => {
    const { page } = b;
    const into = (await t.rpc("customer", { customer: { card: "C-100" } })).customerId as string;
    const twin = await t.rpc("enroll", { requestId: "e-twin", card: "C-200" });
    const gone = await t.rpc("enroll", { requestId: "e-gone", card: "C-300", profile: { name: "Gone Person", email: "gone@example.com" } });
    const find = async (card: string) => {
      await page.getByLabel("Search by").selectOption("card");
      await page.getByLabel("Value").fill(card);
      await page.getByRole("button", { name: "Search" }).click();
      await page.getByRole("heading", { name: /Profile: / }).waitFor();
    };
    await find("C-200");
    await page.getByLabel("Reason").last().fill("same person, two cards");
    await page.getByLabel("Merge this customer into (customer id)").fill(into);
    await page.getByRole("button", { name: "Merge" }).click();
    // Cancelled: nothing happens.
    await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    expect((await t.rpc("customer", { customer: { card: "C-200" } })).customerId).toBe(twin.customerId);
    await page.getByRole("button", { name: "Merge" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: `Merged ${twin.customerId} into ${into}.` }).waitFor();
    expect((await t.rpc("customer", { customer: { card: "C-200" } })).customerId).toBe(into);

    await find("C-300");
    await page.getByLabel("Reason").last().fill("GDPR request 17");
    await page.getByRole("button", { name: "Erase" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: `Erased ${gone.customerId}.` }).waitFor();
    const erased = await t.rpc("customer", { customer: { customerId: gone.customerId } });
    expect(JSON.stringify(erased)).not.toContain("gone@example.com");
  });

  it("lists a pending report with its check's reason, approves it, and the points arrive", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Reports", exact: true }).click();
    const card = page.locator("article[data-report='R-1']");
    await card.getByText("UNKNOWN_PRODUCT").waitFor();
    await shot(page, "05-reports-queue");
    await card.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    const decided = await page.getByRole("status").filter({ hasText: "Report R-1" }).textContent();
    const points = Number(/approved, (\d+) points/i.exec(decided!)![1]);
    expect(points).toBeGreaterThan(0);
    expect((await t.rpc("balance", { customer: { customerId: distributor } })).accounts[0].balance).toBe(points);
    // The points as the console shows them on the distributor's page.
    await page.getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Search by").selectOption("customerId");
    await page.getByLabel("Value").fill(distributor);
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.getByTestId("balance-points").textContent(), WAIT).toBe(String(points));
  });

  it("counts a segment as the filter changes, saves it and exports its CSV", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Segments" }).click();
    const filter = { all: [{ balance: { gte: 1 } }, { consent: "email" }] };
    await page.getByLabel("Filter (JSON)").fill(JSON.stringify(filter));
    const count = (await send(t, "POST", "/v1/admin/segments/query", { filter })).body.count as number;
    expect(count).toBe(1);
    await expect.poll(() => page.getByTestId("segment-count").textContent(), WAIT).toBe("Matching customers: 1");
    await page.getByLabel("Filter (JSON)").fill(JSON.stringify({ balance: { gte: 1 } }));
    await expect.poll(() => page.getByTestId("segment-count").textContent(), WAIT).toBe("Matching customers: 2");
    await page.getByLabel("Filter (JSON)").fill(JSON.stringify(filter));
    await expect.poll(() => page.getByTestId("segment-count").textContent(), WAIT).toBe("Matching customers: 1");
    await page.getByLabel("Segment id").fill("mailable");
    await page.getByLabel("Segment name").fill("Mailable holders");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved mailable." }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV mailable" }).click()]);
    expect(download.suggestedFilename()).toBe("mailable-email.csv");
    const rows = parse(readFileSync((await download.path())!), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.email)).toEqual(["ada@example.com"]);
    await shot(page, "06-segments");
  });

  it("shows the refused rows of an import, the catalogue and the rankings", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Imports" }).click();
    await page.getByLabel("File (CSV or XLSX)").setInputFiles({ name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("reportId,customerId,invoice,date,sku,qty,amount\nR-9,nobody,F-9,2026-13-40,BRUSH,x,1\n") });
    await page.getByRole("button", { name: "Import", exact: true }).click();
    await page.getByRole("heading", { name: /Refused: \d+ errors in the file/ }).waitFor();
    await shot(page, "07-imports");
    await page.getByRole("link", { name: "Rewards", exact: true }).click();
    await page.getByRole("heading", { name: "Voucher offers" }).waitFor();
    expect((await send(t, "PUT", "/v1/admin/voucher-offers/TEN", { name: "10 EUR off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 })).status).toBe(200);
    // A reward with a seasonal price in force now: refused while its window is backwards, then saved.
    const now = Date.now();
    const mug = (from: number, to: number) => ({ name: "Mug", pointsPrice: 40, stock: 25, seasonalPrices: [{ from, to, pointsPrice: 30 }] });
    await page.getByRole("button", { name: "New reward" }).click();
    await page.getByLabel("Id", { exact: true }).fill("MUG");
    await page.getByLabel("Item (JSON)").fill(JSON.stringify(mug(now + 86_400_000, now - 86_400_000)));
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("VALIDATION");
    expect(await page.getByRole("alert").textContent()).toContain("seasonalPrices[0].to");
    await page.getByLabel("Item (JSON)").fill(JSON.stringify(mug(now - 86_400_000, now + 86_400_000)));
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved MUG." }).waitFor();
    const stored = (await send(t, "GET", "/v1/admin/rewards/MUG")).body.reward;
    expect(stored.priceNow).toBe(30);
    await page.reload();
    await page.locator("tr[data-reward='MUG']").getByRole("cell", { name: String(stored.priceNow), exact: true }).first().waitFor();
    await page.getByRole("cell", { name: "10 EUR off" }).waitFor();
    await shot(page, "08-catalogue");
    await page.getByRole("link", { name: "Rankings" }).click();
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByRole("cell", { name: "Farby Północ" }).waitFor();
    await shot(page, "09-rankings");
  });

  it("shows live figures from the engine's metrics", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Live" }).click();
    // Some sales while the page samples, so that its figures move.
    for (let i = 0; i < 40; i++) await t.rpc("accrue", BASKET(`live-${i}`));
    const tile = page.locator(".tile", { hasText: "Events per second" }).locator("dd");
    await expect.poll(async () => Number(await tile.textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    await shot(page, "10-live");
  });

  it("passes axe-core's WCAG 2.1 AA checks on every page", async () => {
    const { page } = b;
    for (const hash of ["programmes", "customers", "reports", "approvals", "segments", "catalogue", "imports", "rankings", "live"]) {
      await page.goto(`${url()}#/${hash}`);
      await page.locator("h1").waitFor();
      await page.waitForLoadState("networkidle");
      expect(await accessibilityViolations(page), hash).toEqual([]);
    }
    // A customer's page, with its forms and tables filled.
    await page.goto(`${url()}#/customers`);
    await page.getByLabel("Value").fill("C-100");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: /Profile: / }).waitFor();
    expect(await accessibilityViolations(page), "customer").toEqual([]);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Operator token").waitFor();
    expect(await accessibilityViolations(page), "sign-in").toEqual([]);
    // The checker sees what it should: an input with no label is a violation.
    await page.evaluate(() => document.body.append(document.createElement("input")));
    expect((await accessibilityViolations(page)).map((v) => v.id)).toContain("label");
    await page.reload();
    await page.getByLabel("Operator token").fill(ADMIN_TOKEN);
    await page.getByLabel("Your operator name").fill("olga");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Customers", level: 1 }).waitFor();
  });

  it("fits a phone's width without scrolling sideways", async () => {
    const { page } = b;
    await page.setViewportSize({ width: 390, height: 844 });
    for (const hash of ["programmes", "customers", "segments", "reports"]) {
      await page.goto(`${url()}#/${hash}`);
      await page.locator("h1").waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
    }
    await page.getByRole("button", { name: "Approved" }).click();
    await page.locator("article[data-report='R-1']").waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "11-phone-reports");
    // A found customer, with its tables: they scroll inside their boxes, the page does not.
    await page.goto(`${url()}#/customers`);
    await page.getByLabel("Value").fill("C-100");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: "Statement" }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, "14-phone-customer");
    await shot(page, "15-phone-statement", page.locator("section[aria-labelledby='statement-title']"));
  });
});
