// The participant portal in a real browser (Debian's chromium) against a real engine and NATS:
// a shopper signs in with the code read from loyalty.notify.otp as the SMS connector would (a
// wrong code first), sees the balance and statement follow a sale, updates a consent; a
// distributor registers a sale and follows its status through an operator's approval. A
// screenshot of each page under test-output/portal/ (gitignored), one at a phone's width.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { B2B_PROGRAMME, BASE_PROGRAMME } from "../fixtures.js";
import { B2B_PRODUCTS, send as admin } from "../e2e/b2b-helpers.js";
import { ROOT, sale, startTestEnv, type TestEnv } from "../e2e/harness.js";
import { OtpInbox } from "../e2e/portal-helpers.js";
import { accessibilityViolations, openBrowser, type Browser } from "./browser.js";

const SHOTS = join(ROOT, "test-output", "portal");
const WAIT = { timeout: 10_000 };
const BRUSHES = { kind: "target", id: "brushes", metric: "qty", skus: ["BRUSH"], from: Date.now() - 30 * 86_400_000, to: Date.now() + 30 * 86_400_000, goal: 8, points: 100 };
/** The points' redemption rate (2 cents a point) and a prepaid account in EUR, for conversion. */
const BASE = { ...BASE_PROGRAMME, expiry: { afterDays: 365 }, redemption: { pointValue: 2, currency: "EUR" } };
const PREPAID = { id: "prepaid", account: "prepaid", unit: "money", currency: "EUR", scope: { stores: ["none"] }, rules: [{ kind: "spend", per: 100, points: 1 }], redemption: { pointValue: 1, currency: "EUR" } };
const SALE = (eventId: string, unitPrice: number) => ({ ...sale(eventId, { card: "C-100" }, [{ lineId: "1", sku: "A1", qty: 1, unitPrice, category: "drinks" }]), at: Date.now() - 60_000 });

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe("the participant portal in chromium", () => {
  let t: TestEnv;
  let b: Browser;
  let inbox: OtpInbox;
  let ada: string;
  let north: string;
  const url = () => `${t.http}/me`;

  /** Asks for a code on the page and reads it from loyalty.notify.otp as the connector would. */
  async function askCode(page: Page, who: string, customerId: string): Promise<string> {
    const since = inbox.messages.length;
    await page.getByLabel("Card, phone or e-mail").fill(who);
    await page.getByRole("button", { name: "Send me a code" }).click();
    await page.getByRole("status").filter({ hasText: "a code is on its way" }).waitFor(WAIT);
    return String((await inbox.next(customerId, since)).payload.code);
  }

  beforeAll(async () => {
    t = await startTestEnv({ "reports.currency": "PLN", "reports.autoApprove": false, "portal.otpPerHourPerCustomer": 2 }, [BASE, PREPAID, { ...B2B_PROGRAMME, rules: [...B2B_PROGRAMME.rules, BRUSHES] }]);
    inbox = new OtpInbox(t);
    for (const [sku, body] of Object.entries(B2B_PRODUCTS)) expect((await admin(t, "PUT", `/v1/admin/products/${sku}`, body)).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/rewards/MUG", { name: "Mug", pointsPrice: 40, stock: 10 })).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/rewards/BIKE", { name: "Bike", pointsPrice: 5000 })).status).toBe(200);
    expect((await admin(t, "PUT", "/v1/admin/voucher-offers/TEN", { name: "10 EUR off", pointsCost: 50, kind: "amount", value: 1000, currency: "EUR", validDays: 60 })).status).toBe(200);
    ada = (await t.rpc("enroll", { requestId: "e-ada", card: "C-100", profile: { name: "Ada Lovelace", firstName: "Ada", email: "ada@example.com", phone: "+48601000001", consents: { email: true } } })).customerId;
    expect((await t.rpc("enroll", { requestId: "e-grace", card: "C-200", profile: { name: "Grace", phone: "+48601000002" } })).ok).toBe(true);
    north = (await t.rpc("enroll", { requestId: "e-n", kind: "distributor", company: { name: "Farby Północ", taxId: "PL0001" }, users: ["anna"], profile: { email: "biuro@farby.example" } })).customerId;
    b = await openBrowser();
  });
  afterAll(async () => {
    inbox?.close();
    await b?.close();
    await t?.stop();
  });

  it("serves the pages beside the /v1/me routes", async () => {
    const index = await fetch(url());
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
    const script = /src="(\/me\/assets\/[^"]+\.js)"/.exec(await index.text())![1]!;
    expect((await fetch(t.http + script)).headers.get("cache-control")).toContain("immutable");
  });

  it("refuses a wrong code, then signs in with the one loyalty.notify.otp carried", async () => {
    const { page } = b;
    await page.goto(url());
    const code = await askCode(page, "C-100", ada);
    expect(code).toMatch(/^\d{6}$/);
    const wrong = code === "000000" ? "111111" : "000000";
    await page.getByLabel("One-time code").fill(wrong);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("That code is not right");
    await shot(page, "01-sign-in-wrong-code");
    // With the keyboard: the code field has the focus back, Enter submits.
    await page.getByLabel("One-time code").fill("");
    await page.keyboard.type(code);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor(WAIT);
  });

  it("shows the balance, what expires and the statement after a sale", async () => {
    const { page } = b;
    expect((await t.rpc("accrue", SALE("s-1", 12_000))).ok).toBe(true);
    const balance = (await t.rpc("balance", { customer: { card: "C-100" } })).accounts[0];
    expect(balance.balance).toBeGreaterThan(0);
    await page.reload();
    const card = page.getByRole("region", { name: "Balance: points" });
    await expect.poll(() => card.locator(".balance").textContent(), WAIT).toContain(`${balance.available} points`);
    await card.getByText(/expire on/).waitFor(WAIT);
    await page.getByRole("region", { name: "Rewards you can have now" }).getByText("Mug").waitFor(WAIT);
    await shot(page, "02-overview");
    await page.getByRole("link", { name: "History" }).click();
    const statement = page.getByRole("region", { name: "Statement" });
    await statement.getByRole("cell", { name: "sale s-1 at s01" }).waitFor(WAIT);
    await expect.poll(() => statement.getByRole("row").nth(1).textContent(), WAIT).toContain(`+${balance.balance} points`);
    await page.getByRole("region", { name: "Purchases" }).getByText("sale s-1 at s01").waitFor(WAIT);
    await shot(page, "03-history");
  });

  it("redeems an affordable reward and updates a consent", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "Rewards" }).click();
    await page.getByRole("button", { name: "Redeem Mug" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: "Redeemed Mug" }).waitFor(WAIT);
    // The bike costs more than the points: listed only when asked for everything, and not redeemable.
    await page.getByLabel("Only what I can afford").uncheck();
    await expect.poll(() => page.getByRole("button", { name: "Redeem Bike" }).isDisabled(), WAIT).toBe(true);
    await shot(page, "04-rewards");

    // A voucher bought with points, listed with its days left as the engine counts them.
    await page.getByRole("link", { name: "Vouchers" }).click();
    await page.getByRole("button", { name: "Buy 10 EUR off" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    const bought = await page.getByRole("status").filter({ hasText: "Bought: voucher" }).textContent(WAIT);
    const voucher = (await t.rpc("vouchers", { customer: { customerId: ada } })).vouchers[0];
    expect(bought).toContain(voucher.code);
    const row = page.getByRole("row").filter({ hasText: voucher.code });
    await expect.poll(() => row.textContent(), WAIT).toContain(`${voucher.daysLeft} days left`);
    await shot(page, "05-vouchers");

    // The rest of the points to prepaid money: 10 points at 2 cents.
    await page.getByRole("link", { name: "Rewards" }).click();
    await page.getByLabel("Points to convert").fill("10");
    await page.getByRole("button", { name: "Convert", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Converted 10 points into €0.20 on prepaid" }).waitFor(WAIT);
    const accounts = (await t.rpc("balance", { customer: { customerId: ada } })).accounts as { account: string; balance: number }[];
    expect(accounts.find((a) => a.account === "prepaid")?.balance).toBe(20);
    expect(accounts.find((a) => a.account === "points")?.balance).toBe(20);
    await page.getByRole("link", { name: "Overview" }).click();
    await expect.poll(() => page.getByRole("region", { name: "Balance: prepaid" }).locator(".balance").textContent(), WAIT).toContain("0.20");

    await page.getByRole("link", { name: "Profile" }).click();
    await page.getByLabel("Offers by SMS").check();
    await page.getByLabel("Offers by e-mail").uncheck();
    await page.getByRole("button", { name: "Save choices" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor(WAIT);
    const consents = (await t.rpc("customer", { customer: { customerId: ada } })).consents;
    expect(consents.sms.granted).toBe(true);
    expect(consents.email.granted).toBe(false);
    await page.getByText(/agreed on/).first().waitFor(WAIT);
    await shot(page, "05-profile-consents");
  });

  it("passes axe-core's WCAG 2.1 AA checks on a shopper's pages", async () => {
    const { page } = b;
    for (const hash of ["overview", "history", "vouchers", "rewards", "profile"]) {
      await page.goto(`${url()}#/${hash}`);
      await page.locator("h1").waitFor(WAIT);
      await page.waitForLoadState("networkidle");
      expect(await accessibilityViolations(page), hash).toEqual([]);
    }
  });

  it("fits a phone's width: no sideways scrolling, the navigation within reach", async () => {
    const { page } = b;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor(WAIT);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(page, "06-overview-phone");
    await page.getByRole("link", { name: "History" }).click();
    await page.getByRole("region", { name: "Statement" }).getByText("sale s-1 at s01").waitFor(WAIT);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(page, "07-history-phone");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Card, phone or e-mail").waitFor(WAIT);
    expect(await accessibilityViolations(page), "sign-in").toEqual([]);
  });

  it("says when a code is locked after wrong tries, and when codes are rate-limited", async () => {
    const { page } = b;
    const grace = (await t.rpc("customer", { customer: { card: "C-200" } })).customerId;
    const code = await askCode(page, "+48 601 000 002", grace);
    const wrong = code === "000000" ? "111111" : "000000";
    const alert = page.getByRole("alert");
    for (let i = 1; i <= 5; i++) {
      await page.getByLabel("One-time code").fill(wrong);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => alert.textContent(), WAIT).toContain(i < 5 ? `(try ${i})` : "this code is locked");
    }
    // The engine locked it too: the right code is refused now.
    await page.getByLabel("One-time code").fill(code);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => alert.textContent(), WAIT).toContain("this code is locked");
    // A new code is allowed (the second this hour); a third is over portal.otpPerHourPerCustomer.
    await page.getByRole("button", { name: "Send a new code" }).click();
    await page.getByRole("status").filter({ hasText: "a code is on its way" }).waitFor(WAIT);
    await page.getByRole("button", { name: "Send a new code" }).click();
    await expect.poll(() => alert.textContent(), WAIT).toMatch(/Too many codes or tries for now\. Please wait \d+ min/);
    await shot(page, "08-sign-in-rate-limited");
    await page.getByRole("button", { name: "Use another card, phone or e-mail" }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("name")), WAIT).toBe("who");
  });

  it("a distributor registers a sale, sees each check's reason, and follows its status to approved", async () => {
    const { page } = b;
    const code = await askCode(page, "biuro@farby.example", north);
    await page.getByLabel("One-time code").fill(code);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Register sales" }).click();
    const line = (n: number) => page.getByRole("group", { name: `Line ${n}` });
    await line(1).getByLabel("Invoice").fill("F-1");
    await line(1).getByLabel("Product code (SKU)").fill("PAINT-10L");
    await line(1).getByLabel("Quantity").fill("3");
    await line(1).getByLabel("Amount").fill("300.00");
    await page.getByRole("button", { name: "Add a line" }).click();
    await line(2).getByLabel("Product code (SKU)").fill("BRUSH");
    await line(2).getByLabel("Quantity").fill("5");
    await line(2).getByLabel("Amount").fill("100,00");
    await page.getByRole("button", { name: "Add a line" }).click();
    await line(3).getByLabel("Product code (SKU)").fill("GHOST");
    await line(3).getByLabel("Amount").fill("1");
    await page.getByLabel("Submitted by (user)").fill("anna");
    await page.getByRole("button", { name: "Submit report" }).click();
    const done = await page.getByRole("status").filter({ hasText: "waiting for review" }).textContent(WAIT);
    const reportId = /Report (\S+):/.exec(done!)![1]!;
    expect(reportId).toMatch(new RegExp(`^me:${north}:`));
    await page.getByText("UNKNOWN_PRODUCT (line 3)").waitFor(WAIT);
    const report = (await admin(t, "GET", `/v1/admin/reports/${encodeURIComponent(reportId)}`)).body;
    expect(report).toMatchObject({ status: "pending", checks: [expect.objectContaining({ code: "UNKNOWN_PRODUCT", line: 2 })] });
    expect(report.lines.map((l: { amount: number }) => l.amount)).toEqual([30_000, 10_000, 100]);
    await shot(page, "09-sales-registered");

    const approved = await admin(t, "POST", `/v1/admin/reports/${encodeURIComponent(reportId)}/approve`, { operator: "olga" });
    expect(approved.body).toMatchObject({ status: "approved" });
    await page.getByRole("button", { name: "Refresh" }).click();
    const row = page.getByRole("row").filter({ hasText: reportId });
    await expect.poll(() => row.textContent(), WAIT).toContain("approved");
    expect(await row.textContent()).toContain(String(approved.body.points));
    await row.getByRole("button", { name: reportId }).click();
    await page.getByRole("region", { name: `Details of ${reportId}` }).getByText("PAINT-10L").waitFor(WAIT);
    await shot(page, "10-sales-approved");

    await page.getByRole("link", { name: "Targets & ranking" }).click();
    await page.getByRole("status").filter({ hasText: "You are number 1 of 1" }).waitFor(WAIT);
    // The approved brushes count towards the target: 5 of 8, as the targets verb says.
    const target = (await t.rpc("targets", { customer: { customerId: north } })).targets[0];
    expect(target).toMatchObject({ targetId: "brushes", achieved: 5, goal: 8 });
    await page.getByText("brushes · 5 of 8").waitFor(WAIT);
    expect(await page.getByRole("progressbar").getAttribute("value")).toBe("5");
    await shot(page, "11-targets-ranking");
    expect(await accessibilityViolations(page), "progress").toEqual([]);
    await page.getByRole("link", { name: "Register sales" }).click();
    await page.getByRole("group", { name: "Line 1" }).waitFor(WAIT);
    await page.waitForLoadState("networkidle");
    expect(await accessibilityViolations(page), "sales").toEqual([]);
  });
});
