// How the engine reaches NATS: the servers without their user info, the credentials
// (configured, in a file, or in the URL), TLS; the URL as logs may show it; and what a
// refusal by the server means for the operator.
import { accessSync, constants, readFileSync } from "node:fs";
import { credsAuthenticator, ErrorCode, nkeyAuthenticator, nkeys, NatsError, type ConnectionOptions } from "nats";
import { ConfigError, type Config } from "../config/config.js";

type NatsConfig = Config["nats"];

/** scheme://userinfo@ at the start of one server URL. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

const servers = (url: string): string[] =>
  url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u.length > 0);

/** The (comma-separated) URL list with every user info replaced by `***`: what logs and messages show. */
export function redactUrl(url: string): string {
  return servers(url)
    .map((u) => u.replace(USER_INFO, "$1***@"))
    .join(",");
}

interface UrlCredentials {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/**
 * The servers without user info (nats.js would misread it as part of the host), and the
 * credentials the first URL with user info carried: `user:pass@`, or `token@` (NATS's
 * convention for a token in a URL). Percent-escapes are decoded.
 */
export function splitUrlCredentials(url: string): UrlCredentials {
  const out: UrlCredentials = { servers: [] };
  for (const u of servers(url)) {
    const m = USER_INFO.exec(u);
    out.servers.push(m ? u.replace(USER_INFO, "$1") : u);
    if (!m || out.user !== undefined || out.token !== undefined) continue;
    const info = m[2]!;
    const colon = info.indexOf(":");
    if (colon < 0) out.token = decodeURIComponent(info);
    else {
      out.user = decodeURIComponent(info.slice(0, colon));
      out.pass = decodeURIComponent(info.slice(colon + 1));
    }
  }
  return out;
}

/** A secret file's content; unreadable or blank is a configuration error naming the key. */
function readSecretFile(key: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.trim().length === 0) throw new ConfigError(key, `${file} is empty`);
  return text;
}

/** A one-line secret (password, token) from a file, without its final line break. */
const readSecret = (key: string, file: string): string => readSecretFile(key, file).replace(/\r?\n$/, "");

function checkReadable(key: string, file: string): string {
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return file;
}

/** Credentials and TLS options for nats.js, from the configuration; files are read (or checked) now. */
function authOptions(nats: NatsConfig, fromUrl: UrlCredentials): Partial<ConnectionOptions> {
  const o: Partial<ConnectionOptions> = {};
  if (fromUrl.user !== undefined) Object.assign(o, { user: fromUrl.user, pass: fromUrl.pass });
  if (fromUrl.token !== undefined) o.token = fromUrl.token;
  if (nats.user !== null) {
    o.user = nats.user;
    o.pass = nats.pass ?? readSecret("nats.passFile", nats.passFile!);
  }
  if (nats.token !== null || nats.tokenFile !== null) o.token = nats.token ?? readSecret("nats.tokenFile", nats.tokenFile!);
  if (nats.credsFile !== null) {
    // As written: nats.js's parser wants the line break after each END marker.
    const creds = readSecretFile("nats.credsFile", nats.credsFile);
    if (!/-----BEGIN NATS USER JWT-----/.test(creds) || !/-----BEGIN USER NKEY SEED-----/.test(creds)) {
      throw new ConfigError("nats.credsFile", `${nats.credsFile} is not a NATS user credentials file (a JWT and an nkey seed)`);
    }
    o.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  if (nats.nkeySeedFile !== null) {
    const seed = new TextEncoder().encode(readSecret("nats.nkeySeedFile", nats.nkeySeedFile).trim());
    try {
      nkeys.fromSeed(seed);
    } catch {
      throw new ConfigError("nats.nkeySeedFile", `${nats.nkeySeedFile} does not hold an nkey seed (SU...)`);
    }
    o.authenticator = nkeyAuthenticator(seed);
  }
  const { ca, cert, key } = nats.tls;
  if (ca !== null || cert !== null) {
    // File names, not contents: nats.js reads them at every (re)connection, so a renewed certificate is picked up.
    o.tls = {
      ...(ca !== null ? { caFile: checkReadable("nats.tls.ca", ca) } : {}),
      ...(cert !== null ? { certFile: checkReadable("nats.tls.cert", cert), keyFile: checkReadable("nats.tls.key", key!) } : {}),
    };
  }
  return o;
}

/** Connection options for the engine's own connection to the configured NATS. */
export function natsConnectOptions(nats: NatsConfig & { url: string }): ConnectionOptions {
  const fromUrl = splitUrlCredentials(nats.url);
  return { servers: fromUrl.servers, ...authOptions(nats, fromUrl) };
}

/** NATS refused the engine's credentials or a permission it needs at start: fix the configuration, not a restart. */
export class NatsRefusedError extends Error {}

/** The operator's reading of a start-up failure when NATS refused the engine; null for any other failure. */
export function natsRefusal(err: unknown, url: string): NatsRefusedError | null {
  if (!(err instanceof NatsError)) return null;
  const where = `NATS at ${redactUrl(url)}`;
  if (err.code === ErrorCode.AuthorizationViolation || err.code === ErrorCode.AuthenticationExpired) {
    return new NatsRefusedError(
      `${where} refused the engine's credentials (${err.message}): check nats.user with nats.pass or nats.passFile, ` +
        "nats.token or nats.tokenFile, nats.credsFile, nats.nkeySeedFile, or the user info in nats.url",
    );
  }
  if (err.code === ErrorCode.PermissionsViolation) {
    return new NatsRefusedError(`${where} does not let the engine's user do what it needs (${err.message}): give it the engine role of config/nats/accounts.conf`);
  }
  return null;
}
