// The three requests the demo offers to try over HTTP (a balance, a quote, an
// authorisation), as data and as the curl commands printed for copy and paste: the
// end-to-end test runs exactly these commands against a running demo.

export interface TryRequest {
  /** One line for a person: what it asks and what to look for in the reply. */
  title: string;
  url: string;
  body: Record<string, unknown>;
  /** The command to paste into a shell (POSIX sh quoting). */
  curl: string;
}

export interface TryOptions {
  /** http://host:port of the engine's main listener. */
  baseUrl: string;
  /** A simulated card customer; the busiest ones have points soonest. */
  card: string;
  /** The quote's `at`: when the demo started (it must lie in the engine's events window). */
  atMs: number;
  /** Makes the authorisation's requestId unique to this run of the demo. */
  runId: string;
}

/** Quotes for a POSIX shell: single quotes, each inner ' written as '\''. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function request(title: string, baseUrl: string, verb: string, body: Record<string, unknown>): TryRequest {
  const url = `${baseUrl}/v1/${verb}`;
  const curl = `curl -s ${url} -H 'content-type: application/json' -d ${shellQuote(JSON.stringify(body))}`;
  return { title, url, body, curl };
}

export function tryRequests(o: TryOptions): TryRequest[] {
  const customer = { card: o.card };
  return [
    request(`the balance of card ${o.card}: its accounts, what expires when, its tier`, o.baseUrl, "balance", { customer }),
    request("a quote: what this 2-line basket would earn (breakdown by rule) and what could be redeemed; nothing is committed", o.baseUrl, "quote", {
      type: "sale",
      eventId: "try-quote",
      at: o.atMs,
      storeId: "s01",
      customer,
      currency: "EUR",
      lines: [
        { lineId: "1", sku: "DRK-001", qty: 2, unitPrice: 250, category: "drinks" },
        { lineId: "2", sku: "BAK-001", qty: 1, unitPrice: 349, category: "bakery" },
      ],
    }),
    request(
      "authorize 10 points: a hold for the till to capture or release (or approved:false); sent again, the same reply",
      o.baseUrl,
      "authorize",
      { requestId: `try-${o.runId}`, customer, amount: 10 },
    ),
  ];
}

/** The http://host:port a person on this machine reaches the listener at (a wildcard address becomes loopback). */
export function reachableBase(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
