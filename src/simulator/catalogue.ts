// The simulator's fixed SKU catalogue (~200 articles in six categories). Built from a
// constant seed so that every run, whatever its traffic seed, sells the same articles.
import { mulberry32, type Rng } from "./random.js";

export type Category = "drinks" | "bakery" | "dairy" | "produce" | "household" | "electronics";

export interface Sku {
  sku: string;
  category: Category;
  /** Integer minor units (EUR cents). */
  unitPrice: number;
  promo: boolean;
  /** Largest quantity a shopper puts in the basket at once. */
  qtyMax: number;
}

interface CategorySpec {
  category: Category;
  prefix: string;
  count: number;
  /** Share of basket lines drawn from this category. */
  lineShare: number;
  priceMin: number;
  priceMax: number;
  qtyMax: number;
}

// Electronics are rare but expensive, as in a hypermarket: they make the long tail of totals.
const SPECS: readonly CategorySpec[] = [
  { category: "drinks", prefix: "DRK", count: 40, lineShare: 0.23, priceMin: 79, priceMax: 1499, qtyMax: 6 },
  { category: "bakery", prefix: "BAK", count: 30, lineShare: 0.18, priceMin: 49, priceMax: 699, qtyMax: 4 },
  { category: "dairy", prefix: "DAI", count: 35, lineShare: 0.2, priceMin: 59, priceMax: 899, qtyMax: 4 },
  { category: "produce", prefix: "PRD", count: 45, lineShare: 0.23, priceMin: 39, priceMax: 999, qtyMax: 5 },
  { category: "household", prefix: "HSH", count: 30, lineShare: 0.13, priceMin: 149, priceMax: 2999, qtyMax: 2 },
  { category: "electronics", prefix: "ELC", count: 20, lineShare: 0.03, priceMin: 1499, priceMax: 49999, qtyMax: 1 },
];

/** Promo articles per category: the last ones of each category's range. */
const PROMO_PER_CATEGORY = 3;
const CATALOGUE_SEED = 0x5eed_cafe;

export interface Catalogue {
  skus: readonly Sku[];
  /** Draws a basket line's article: category by share, then a popular-first article. */
  draw(rng: Rng, promoRate: number): Sku;
}

function buildCategory(spec: CategorySpec, rng: Rng): Sku[] {
  const skus: Sku[] = [];
  for (let i = 1; i <= spec.count; i++) {
    const promo = i > spec.count - PROMO_PER_CATEGORY;
    // Prices end in 9 like real shelf prices; promo articles are a bit cheaper.
    const base = rng.int(spec.priceMin, spec.priceMax);
    const unitPrice = Math.max(9, Math.floor((promo ? base * 0.8 : base) / 10) * 10 + 9);
    skus.push({ sku: `${spec.prefix}-${String(i).padStart(3, "0")}`, category: spec.category, unitPrice, promo, qtyMax: spec.qtyMax });
  }
  return skus;
}

export function buildCatalogue(): Catalogue {
  const rng = mulberry32(CATALOGUE_SEED);
  const byCategory = SPECS.map((spec) => {
    const all = buildCategory(spec, rng);
    return { spec, regular: all.filter((s) => !s.promo), promo: all.filter((s) => s.promo) };
  });
  const skus = byCategory.flatMap((c) => [...c.regular, ...c.promo]);
  const draw = (r: Rng, promoRate: number): Sku => {
    let u = r.next();
    let chosen = byCategory[byCategory.length - 1]!;
    for (const c of byCategory) {
      if (u < c.spec.lineShare) {
        chosen = c;
        break;
      }
      u -= c.spec.lineShare;
    }
    if (r.chance(promoRate)) return r.pick(chosen.promo);
    // Squaring the uniform favours the first articles: a few best sellers, a long tail.
    const i = Math.floor(r.next() * r.next() * chosen.regular.length);
    return chosen.regular[i]!;
  };
  return { skus, draw };
}
