// How both web apps read their strings (web/shared/i18n.ts): the browser's first language that
// has a table, English otherwise; a key a language lacks falls back to English; placeholders.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fill, pickLanguage, translator } from "../../web/shared/i18n.js";

const en = { hello: "Hello{name}", bye: "Goodbye", left: "{days} days left" };
const pl = { hello: "Cześć{name}" };

describe("pickLanguage", () => {
  it("takes the first of the browser's languages that has a table, by its two-letter prefix", () => {
    expect(pickLanguage({ en, pl }, en, ["fr-FR", "pl-PL", "en"])).toBe(pl);
    expect(pickLanguage({ en, pl }, en, ["EN-gb", "pl"])).toBe(en);
    expect(pickLanguage({ en, pl }, en, ["de", "fr"])).toBe(en);
    expect(pickLanguage({ en, pl }, en, [])).toBe(en);
  });
});

describe("fill", () => {
  it("fills known placeholders and leaves unknown ones as written", () => {
    expect(fill("{days} days left", { days: 3 })).toBe("3 days left");
    expect(fill("{a} and {b}", { a: "x" })).toBe("x and {b}");
  });
  it("never changes a template without placeholders", () => {
    fc.assert(fc.property(fc.string().filter((s) => !/\{\w+\}/.test(s)), fc.dictionary(fc.string({ minLength: 1 }), fc.string()), (s, vars) => {
      expect(fill(s, vars)).toBe(s);
    }));
  });
  it("puts a value in as it is, whatever it contains", () => {
    fc.assert(fc.property(fc.string(), (v) => {
      expect(fill("<{v}>", { v })).toBe(`<${v}>`);
    }));
  });
});

describe("translator", () => {
  it("answers English for a key the chosen language lacks", () => {
    Object.defineProperty(globalThis, "navigator", { value: { languages: ["pl-PL"], language: "pl-PL" }, configurable: true });
    const t = translator(en, { pl });
    expect(t("hello", { name: ", Ada" })).toBe("Cześć, Ada");
    expect(t("bye")).toBe("Goodbye");
    expect(t("left", { days: 2 })).toBe("2 days left");
  });
});
