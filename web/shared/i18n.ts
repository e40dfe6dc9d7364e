// The strings of a web app, in one table per language: English is the whole table, another
// language (Polish, French, ...) a partial one of the same keys (a missing key falls back to
// English), chosen by the browser's languages. The console and the portal each keep their own
// table (web/console/src/strings.ts, web/portal/src/strings.ts); this is how both are read.

export type Vars = Record<string, string | number>;

/** The first of the browser's languages that has a table, else English. */
export function pickLanguage<T>(tables: Record<string, Partial<T>>, fallback: T, languages: readonly string[] = navigator.languages ?? [navigator.language]): Partial<T> {
  for (const tag of languages) {
    const l = tables[tag.slice(0, 2).toLowerCase()];
    if (l) return l;
  }
  return fallback;
}

/** `{name}` placeholders filled from `vars`; an unknown placeholder stays as written. */
export function fill(template: string, vars: Vars = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** A `t(key, vars)` over `en` and the other languages' tables. */
export function translator<T extends Record<string, string>>(en: T, others: Record<string, Partial<T>> = {}): (key: keyof T, vars?: Vars) => string {
  const chosen = pickLanguage<T>({ en, ...others }, en);
  return (key, vars) => fill(chosen[key] ?? en[key], vars);
}
