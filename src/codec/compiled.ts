// A compiled fast path for the hot verbs' validation: JSON Schema generated from the very
// zod schemas (zod stays the one source of truth) and compiled by ajv, plus the zod
// checks JSON Schema cannot say (refinements, multipleOf) run on the result. It only ever
// says "valid, and here is what zod would have returned"; anything else goes to zod,
// which decides and words the error. Measured in bench/hot.ts (bench/RESULTS.md).
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";
import { z } from "zod";
import { VERB_SCHEMAS, type Verb } from "./schema.js";

/** A zod check as zod runs it: a payload with the value and the issues it adds. */
interface ZodCheck {
  _zod: { def: { check: string }; check(payload: { value: unknown; issues: unknown[] }): unknown };
}

type JsonNode = Record<string, unknown>;
const REFUSED = Symbol("refused");
type Shaper = (value: unknown) => unknown;

/** The zod types whose input JSON Schema says everything but the checks handled here. */
const PLAIN_TYPES = new Set(["object", "array", "union", "string", "number", "boolean", "literal", "optional", "default", "enum", "nullable"]);
/** Checks that have no JSON Schema (custom) or whose JSON Schema form is not zod's arithmetic (multipleOf on floats). */
const RUN_CHECKS = new Set(["custom", "multiple_of"]);
const CHECKS_KEY = "x-zod-checks";
const NONE = Symbol("none");

/** The verbs worth a compiled validator: every event and terminal request of the hot path. */
export const COMPILED_VERBS = ["accrue", "quote", "balance", "authorize", "capture", "release"] as const satisfies readonly Verb[];

const ajv = new Ajv2020({ allErrors: false, strict: true, unicodeRegExp: true, validateSchema: false, code: { optimize: true } });
ajv.addVocabulary([CHECKS_KEY]);

/** A verb's compiled validator: the value as zod would return it, or REFUSED (zod then decides). */
export type Compiled = (value: unknown) => unknown;

/** Null when the verb's schema uses something the fast path does not mirror exactly (a transform...). */
function compileVerb(verb: Verb): Compiled | null {
  const table: ZodCheck[][] = [];
  let plain = true;
  const json = z.toJSONSchema(VERB_SCHEMAS[verb], {
    io: "input",
    unrepresentable: "throw",
    override(ctx) {
      const def = (ctx.zodSchema as unknown as { _zod: { def: { type: string; checks?: ZodCheck[] } } })._zod.def;
      if (!PLAIN_TYPES.has(def.type)) plain = false;
      const checks = (def.checks ?? []).filter((c) => RUN_CHECKS.has(c._zod.def.check));
      if (checks.length === 0) return;
      const node = ctx.jsonSchema as JsonNode;
      // zod decides multiples by decimal digits; ajv's float division may refuse 0.3.
      if (checks.some((c) => c._zod.def.check === "multiple_of")) delete node.multipleOf;
      node[CHECKS_KEY] = table.push(checks) - 1;
    },
  }) as JsonNode;
  if (!plain) return null;
  delete json.$schema;
  const shape = shaperOf(json, table);
  // A union and nothing else (accrue's sale, return or void): its shaper tries each branch's
  // own validator, which is the whole check; validating against the union first did it twice.
  if ((json.oneOf ?? json.anyOf) && Object.keys(json).every((k) => k === "oneOf" || k === "anyOf" || k === CHECKS_KEY)) return shape;
  const valid = ajv.compile(json);
  return (value) => (valid(value) ? shape(value) : REFUSED);
}

/**
 * The output zod builds from a value that passed the JSON Schema: objects with their keys
 * in the schema's order (the content hash is taken over it), defaults filled in, and the
 * node's zod checks run on the result (REFUSED if one adds an issue).
 */
function shaperOf(node: JsonNode, table: ZodCheck[][]): Shaper {
  const checks = typeof node[CHECKS_KEY] === "number" ? table[node[CHECKS_KEY]]! : [];
  const build = builderOf(node, table);
  if (checks.length === 0) return build;
  return (value) => {
    const out = build(value);
    if (out === REFUSED) return REFUSED;
    const payload = { value: out, issues: [] as unknown[] };
    for (const c of checks) {
      c._zod.check(payload);
      if (payload.issues.length > 0) return REFUSED;
    }
    return out;
  };
}

function builderOf(node: JsonNode, table: ZodCheck[][]): Shaper {
  const branches = (node.oneOf ?? node.anyOf) as JsonNode[] | undefined;
  if (branches) {
    // Strict objects: at most one branch accepts a value, as in zod's union.
    const compiled = branches.map((b) => ({ valid: ajv.compile(b) as ValidateFunction, shape: shaperOf(b, table) }));
    return (value) => {
      for (const b of compiled) if (b.valid(value)) return b.shape(value);
      return REFUSED;
    };
  }
  if (node.type === "object" && node.properties) return objectBuilder(node.properties as Record<string, JsonNode>, table);
  if (node.type === "array" && node.items) {
    const item = shaperOf(node.items as JsonNode, table);
    return (value) => {
      const list = value as unknown[];
      const out = new Array<unknown>(list.length);
      for (let i = 0; i < list.length; i++) if ((out[i] = item(list[i])) === REFUSED) return REFUSED;
      return out;
    };
  }
  return (value) => value;
}

function objectBuilder(properties: Record<string, JsonNode>, table: ZodCheck[][]): Shaper {
  const props = Object.entries(properties).map(([key, sub]) => ({ key, shape: shaperOf(sub, table), fallback: "default" in sub ? sub.default : NONE }));
  return (value) => {
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const p of props) {
      if (Object.hasOwn(input, p.key)) {
        const v = p.shape(input[p.key]);
        if (v === REFUSED) return REFUSED;
        out[p.key] = v;
      } else if (p.fallback !== NONE) {
        // zod hands out a copy of a default, never the shared value.
        out[p.key] = typeof p.fallback === "object" && p.fallback !== null ? structuredClone(p.fallback) : p.fallback;
      }
    }
    return out;
  };
}

const compiled = new Map<Verb, Compiled | null>();
let enabled = true;

/** Switches the fast path off and on (bench/hot.ts compares the two in one process). */
export function useCompiledValidators(on: boolean): void {
  enabled = on;
}

/** What zod would return for a valid value of the verb, or undefined: zod must decide. */
export function fastValidate(verb: Verb, value: unknown): unknown {
  if (!enabled) return undefined;
  let fn = compiled.get(verb);
  if (fn === undefined) {
    fn = (COMPILED_VERBS as readonly Verb[]).includes(verb) ? compileVerb(verb) : null;
    compiled.set(verb, fn);
  }
  if (fn === null) return undefined;
  const out = fn(value);
  return out === REFUSED ? undefined : out;
}
