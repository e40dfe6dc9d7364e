// Programme administration: install, list, retire. Programmes live in LMDB with a
// version each; every change bumps the programme-set version, which every partition
// checks at the start of its next batch, so a change applies atomically to all events
// after it, without a restart. Old versions are kept for the entries they earned.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { LoyaltyError } from "../errors.js";
import { limits } from "../limits.js";
import { parseProgramme, type Programme } from "../rules/programme.js";
import type { Store } from "../ledger/store.js";

export interface InstalledProgramme {
  id: string;
  version: number;
  installedAt: number;
  programme: Programme;
}

function sameContent(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A programme body for the path's id, validated (the id may be left out), every default filled in; VALIDATION names the first bad field. */
export function checkProgramme(id: string, body: unknown): Programme {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new LoyaltyError("BAD_REQUEST", "a programme is a JSON object");
  const withId = { ...(body as Record<string, unknown>) };
  if (withId.id === undefined) withId.id = id;
  if (withId.id !== id) throw new LoyaltyError("VALIDATION", `the body's id ${String(withId.id)} differs from the path's ${id}`, "id");
  return parseProgramme(withId);
}

/** Validates and installs (or replaces) a programme; returns its new version (unchanged content keeps it). */
export async function installProgramme(store: Store, id: string, body: unknown, now: number): Promise<InstalledProgramme> {
  const programme = checkProgramme(id, body);
  return store.env.transaction(() => {
    const existing = store.programmes.get(id);
    if (existing && sameContent(existing.programme, programme)) {
      return { id, version: existing.version, installedAt: existing.installedAt, programme };
    }
    if (!existing && store.programmes.getKeysCount() >= limits.programmesMax) {
      throw new LoyaltyError("VALIDATION", `at most ${limits.programmesMax} programmes`, "id");
    }
    const version = (store.meta.get(`programmeVersion:${id}`) ?? 0) + 1;
    store.meta.put(`programmeVersion:${id}`, version);
    store.programmes.put(id, { version, programme, installedAt: now });
    store.programmeHistory.put([id, version], { version, programme, installedAt: now });
    store.meta.put("programmesVersion", (store.meta.get("programmesVersion") ?? 0) + 1);
    return { id, version, installedAt: now, programme };
  });
}

export async function retireProgramme(store: Store, id: string): Promise<boolean> {
  return store.env.transaction(() => {
    if (!store.programmes.get(id)) return false;
    store.programmes.remove(id);
    store.meta.put("programmesVersion", (store.meta.get("programmesVersion") ?? 0) + 1);
    return true;
  });
}

export function listProgrammes(store: Store): InstalledProgramme[] {
  store.env.resetReadTxn();
  return [...store.programmes.getRange()].map(({ key, value }) => ({
    id: key,
    version: value.version,
    installedAt: value.installedAt,
    programme: value.programme as Programme,
  }));
}

/** Loads every *.json / *.yaml programme file of a directory (errors name the file and field). */
export async function loadProgrammesDir(store: Store, dir: string, now: number): Promise<InstalledProgramme[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.(json|ya?ml)$/i.test(f)).sort();
  } catch (err) {
    throw new Error(`programmesDir: cannot read ${dir}: ${(err as Error).message}`);
  }
  const out: InstalledProgramme[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const text = readFileSync(path, "utf8");
    let body: unknown;
    try {
      body = /\.json$/i.test(f) ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      throw new Error(`programmesDir: ${path} is not valid: ${(err as Error).message}`);
    }
    const id = (body as { id?: unknown })?.id;
    if (typeof id !== "string") throw new Error(`programmesDir: ${path}: id: a programme needs a string id`);
    try {
      out.push(await installProgramme(store, id, body, now));
    } catch (err) {
      if (err instanceof LoyaltyError) throw new Error(`programmesDir: ${path}: ${err.message}`);
      throw err;
    }
  }
  return out;
}
