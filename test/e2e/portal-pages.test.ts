// portal.enabled off takes the portal's pages away with its API; the console stays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send, startTestEnv, type TestEnv } from "./harness.js";

describe("portal.enabled: off", () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await startTestEnv({ "portal.enabled": false });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("serves neither /me nor /v1/me, and still /console", async () => {
    for (const path of ["/me", "/me/", "/me/index.html"]) {
      const res = await fetch(`${t.http}${path}`);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(`no route GET ${path}`);
    }
    expect((await send(t, "POST", "/v1/me/otp", { customer: { card: "C-1" } })).status).toBe(400);
    expect((await fetch(`${t.http}/console`)).status).toBe(200);
  });
});
