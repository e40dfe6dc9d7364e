// The console can do no more than its operator's token: with per-operator roles, store keys
// on the terminal routes and the admin API on its own port, a read-only operator finds a
// customer but is refused an adjustment by the API, and the main port's console is told
// where the admin API is.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../../src/config/credentials.js";
import { sale, startTestEnv, tempDir, type TestEnv } from "../e2e/harness.js";
import { openBrowser, shot, type Browser } from "./browser.js";

const rita = newToken();
const anna = newToken();
const bob = newToken();
const till = newToken();
const WAIT = { timeout: 10_000 };

describe("the console under an operator's roles", () => {
  let t: TestEnv;
  let b: Browser;
  let admin: string;
  const points = async () => (await t.rpc("balance", { customer: { card: "C-1" } })).accounts[0].balance as number;

  beforeAll(async () => {
    const dir = tempDir("loyaltyd-roles-");
    writeFileSync(join(dir, "keys.json"), JSON.stringify({ keys: [{ id: "s01-tills", store: "s01", keySha256: till.sha256 }] }));
    const operators = [
      { name: "rita", tokenSha256: rita.sha256, roles: ["read"] },
      { name: "anna", tokenSha256: anna.sha256, roles: ["read", "money"] },
      { name: "bob", tokenSha256: bob.sha256, roles: ["read", "money"] },
    ];
    writeFileSync(join(dir, "operators.json"), JSON.stringify({ operators }));
    t = await startTestEnv({ "terminalAuth.keysFile": join(dir, "keys.json"), "admin.port": 0, "admin.operatorsFile": join(dir, "operators.json"), "admin.approvalAbove": 100 });
    admin = `http://127.0.0.1:${t.engine.adminPort}`;
    expect((await t.rpc("enroll", { requestId: "e-1", card: "C-1" })).ok).toBe(true);
    expect((await t.rpc("accrue", sale("s-1", { card: "C-1" }, [{ lineId: "1", sku: "A", qty: 1, unitPrice: 2500, category: "x" }]))).ok).toBe(true);
    b = await openBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await t?.stop();
  });

  it("tells the operator on the main port that the admin API is on its own listener", async () => {
    const { page } = b;
    await page.goto(`${t.http}/console`);
    await page.getByLabel("Operator token").fill(rita.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("the admin API is served on the admin listener");
  });

  it("lets a read-only operator find a customer, and shows the API's refusal of an adjustment", async () => {
    const { page } = b;
    await page.goto(`${admin}/console`);
    await page.getByLabel("Operator token").fill(rita.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Programmes", level: 1 }).waitFor();
    await page.getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Value").fill("C-1");
    await page.getByRole("button", { name: "Search" }).click();
    const before = await points();
    await expect.poll(() => page.getByTestId("balance-points").textContent(), WAIT).toBe(String(before));
    await page.getByLabel("Amount").fill("500");
    await page.getByLabel("Reason").first().fill("try");
    await page.getByRole("button", { name: "Adjust" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("FORBIDDEN: rita lacks the money role");
    expect(await points()).toBe(before);
    await shot(page, "12-read-only-operator");
  });

  it("holds a large adjustment for a second operator: the requester may not approve it, another may", async () => {
    const { page } = b;
    const signInAs = async (token: string) => {
      await page.goto(`${admin}/console`);
      if (await page.getByRole("button", { name: "Sign out" }).isVisible()) await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("Operator token").fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Programmes", level: 1 }).waitFor();
    };
    const before = await points();
    await signInAs(anna.token);
    await page.getByRole("link", { name: "Customers" }).click();
    await page.getByLabel("Value").fill("C-1");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByLabel("Amount").fill("500");
    await page.getByLabel("Reason").first().fill("lost receipt");
    await page.getByRole("button", { name: "Adjust" }).click();
    await page.getByRole("status").filter({ hasText: "Waiting for a second operator" }).waitFor();
    expect(await points()).toBe(before);

    await page.getByRole("link", { name: "Approvals" }).click();
    await page.getByRole("cell", { name: "lost receipt" }).waitFor();
    await page.getByRole("button", { name: /^Approve / }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("another operator must approve it");
    expect(await points()).toBe(before);

    await signInAs(bob.token);
    await page.getByRole("link", { name: "Approvals" }).click();
    await page.getByRole("cell", { name: "anna" }).waitFor();
    await shot(page, "13-approvals");
    await page.getByRole("button", { name: /^Approve / }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByRole("status").filter({ hasText: "applied" }).waitFor();
    expect(await points()).toBe(before + 500);
  });
});
