// The demo's copy-paste commands: what a POSIX shell makes of them is exactly the request.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { reachableBase, shellQuote, tryRequests } from "../../src/demo/try.js";

describe("shellQuote", () => {
  it.each(["plain", "it's", "'", "''a'", '{"a":"b c"} $HOME `x` \\n', ""])("sh reads %j back unchanged", (s) => {
    expect(execFileSync("sh", ["-c", `printf %s ${shellQuote(s)}`], { encoding: "utf8" })).toBe(s);
  });
});

describe("tryRequests", () => {
  const tries = tryRequests({ baseUrl: "http://127.0.0.1:1234", card: "C-7", atMs: 1_767_614_400_000, runId: "r1" });

  it("offers a balance, a quote and an authorisation, in that order, over HTTP", () => {
    expect(tries.map((t) => t.url)).toEqual(["http://127.0.0.1:1234/v1/balance", "http://127.0.0.1:1234/v1/quote", "http://127.0.0.1:1234/v1/authorize"]);
    expect(tries[0]!.body).toEqual({ customer: { card: "C-7" } });
    expect(tries[1]!.body).toMatchObject({ type: "sale", at: 1_767_614_400_000, customer: { card: "C-7" }, currency: "EUR" });
    expect(tries[2]!.body).toEqual({ requestId: "try-r1", customer: { card: "C-7" }, amount: 10 });
  });

  it("prints curl commands whose arguments, as sh splits them, are the url, the JSON header and the body", () => {
    for (const t of tries) {
      const argv = JSON.parse(execFileSync("sh", ["-c", `node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${t.curl.slice("curl ".length)}`], { encoding: "utf8" }));
      expect(argv).toEqual(["-s", t.url, "-H", "content-type: application/json", "-d", JSON.stringify(t.body)]);
    }
  });
});

describe("reachableBase", () => {
  it.each([
    ["127.0.0.1", "http://127.0.0.1:8080"],
    ["0.0.0.0", "http://127.0.0.1:8080"],
    ["::", "http://[::1]:8080"],
    ["::1", "http://[::1]:8080"],
    ["10.1.2.3", "http://10.1.2.3:8080"],
  ])("listening on %s: %s", (host, want) => expect(reachableBase(host, 8080)).toBe(want));
});
