// Checks values against the schemas of a served OpenAPI document with ajv (JSON Schema
// 2020-12), as an integrator's tooling would. `closed` also refuses fields the document
// does not name, so that a reply field the engine sends but the document leaves out fails.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

type Json = Record<string, any>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/** Every object schema that names its properties and says nothing of others, made to refuse others. */
function closeObjects(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closeObjects);
  if (typeof node !== "object" || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, closeObjects(s)])) : closeObjects(v);
  if (out.type === "object" && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export interface DocValidator {
  /** Errors of `value` against components.schemas[name] (or a $ref), null when it conforms. */
  errors(schemaRef: string, value: unknown, closed?: boolean): string | null;
}

export function docValidator(doc: Json): DocValidator {
  const make = (schemas: Json, id: string) => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: id, components: { schemas } });
    return (ref: string): ValidateFunction => {
      const name = ref.startsWith("#/components/schemas/") ? ref.slice("#/components/schemas/".length) : ref;
      if (!(name in schemas)) throw new Error(`the document has no schema ${name}`);
      const v = ajv.getSchema(`${id}#/components/schemas/${name}`);
      if (!v) throw new Error(`ajv could not compile ${name}`);
      return v;
    };
  };
  const open = make(doc.components.schemas, "https://loyaltyd.test/openapi");
  const closed = make(closeObjects(doc.components.schemas) as Json, "https://loyaltyd.test/openapi-closed");
  return {
    errors(ref, value, isClosed = true) {
      const v = (isClosed ? closed : open)(ref);
      return v(value) ? null : JSON.stringify(v.errors?.slice(0, 5));
    },
  };
}
