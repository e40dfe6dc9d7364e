// One side of bench/hot.ts's A/B: the engine's ledger and batch path as one compiled tree
// exports them, loaded by path, so a build of an earlier commit can run beside this one.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { RawRequest } from "../src/partition/batch.js";
import { useCompiledValidators } from "../src/codec/compiled.js";

export type { RawRequest };

interface HandledLike {
  outcome: string;
  label: string;
  refusal: { error: { message: string } } | null;
}

/** What the bench calls of a tree; typed loosely, since an earlier tree's types may differ. */
export interface Side {
  openStore(path: string): unknown;
  closeStore(store: unknown): Promise<void>;
  Ledger: new (store: unknown, options: unknown, clock: () => number, syncCommit: boolean) => unknown;
  installProgramme(store: unknown, id: string, programme: unknown, at: number): Promise<unknown>;
  processBatch(ledger: unknown, requests: RawRequest[]): Promise<{ handled: HandledLike[]; durable: Promise<unknown> }>;
}

/** The tree whose compiled `src/` lies in `distRoot` (a directory holding dist/). */
export async function sideAt(distRoot: string): Promise<Side> {
  const load = async (path: string) => (await import(pathToFileURL(join(distRoot, "dist/src", path)).href)) as Record<string, unknown>;
  const [store, ledger, programmes, batch] = await Promise.all([load("ledger/store.js"), load("ledger/ledger.js"), load("admin/programmes.js"), load("partition/batch.js")]);
  return {
    openStore: store.openStore as Side["openStore"],
    closeStore: store.closeStore as Side["closeStore"],
    Ledger: ledger.Ledger as Side["Ledger"],
    installProgramme: programmes.installProgramme as Side["installProgramme"],
    processBatch: batch.processBatch as Side["processBatch"],
  };
}

/** Switches of this build that the A/B can compare (on for A, off for B). */
export function toggle(name: string, on: boolean): void {
  if (name === "validators") useCompiledValidators(on);
  else throw new Error(`bench hot: no switch ${name}`);
}
