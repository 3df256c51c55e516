/**
 * Seeded pseudo-random numbers for generators and randomized policies. Runs must be
 * bit-for-bit reproducible, so nothing here touches `Math.random`.
 *
 * @module
 */

/** A seeded generator: 32-bit integers and floats in [0, 1). */
export interface Rng {
  /** The next unsigned 32-bit integer. */
  u32(): number;
  /** The next float in [0, 1) with 32 bits of randomness. */
  float(): number;
  /** The next integer in [0, n), for 1 ≤ n ≤ 2^32. */
  below(n: number): number;
  /** Fills `out[from..to)` with what `below(n)` would return for each slot in turn. */
  fillBelow(out: Uint32Array, from: number, to: number, n: number): void;
}

/**
 * Mixes a seed and a stream label into a 32-bit value (splitmix32 finaliser), so that
 * independent consumers of one seed (a generator, a policy, a mix part) do not draw
 * correlated numbers.
 *
 * @param seed the run's seed
 * @param label anything naming the consumer
 * @returns a 32-bit unsigned integer
 *
 * @example Usage
 * ```ts
 * import { mixSeed } from "./rng.ts";
 * import assert from "node:assert/strict";
 * assert.notEqual(mixSeed(1, "uniform"), mixSeed(1, "random"));
 * assert.equal(mixSeed(1, "x"), mixSeed(1, "x"));
 * ```
 */
export function mixSeed(seed: number, label: string | number): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  const s = String(label);
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Creates a xoshiro128** generator seeded through splitmix32.
 *
 * @param seed any number; equal seeds give equal sequences
 * @returns a generator
 *
 * @example Usage
 * ```ts
 * import { createRng } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const a = createRng(7), b = createRng(7);
 * assert.equal(a.u32(), b.u32());
 * const x = a.below(10);
 * assert.ok(x >= 0 && x < 10);
 * ```
 */
export function createRng(seed: number): Rng {
  let z = seed >>> 0;
  const next = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z ^ (z >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  let a = next(), b = next(), c = next(), d = next();
  if ((a | b | c | d) === 0) a = 1;
  const u32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  return {
    u32,
    float: () => u32() / 4294967296,
    below: (n: number) => Math.floor((u32() / 4294967296) * n),
    fillBelow(out: Uint32Array, from: number, to: number, n: number): void {
      // u32's steps with the state held in locals (registers) for the whole run
      let sa = a, sb = b, sc = c, sd = d;
      for (let i = from; i < to; i++) {
        const r = Math.imul(rotl(Math.imul(sb, 5), 7), 9) >>> 0, t = sb << 9;
        sc ^= sa, sd ^= sb, sb ^= sc, sa ^= sd, sc ^= t, sd = rotl(sd, 11);
        out[i] = Math.floor((r / 4294967296) * n);
      }
      a = sa, b = sb, c = sc, d = sd;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Shuffles a typed array in place (Fisher–Yates) with the given generator.
 *
 * @param a the array to shuffle
 * @param rng the generator
 * @returns the same array
 *
 * @example Usage
 * ```ts
 * import { createRng, shuffle } from "./rng.ts";
 * import assert from "node:assert/strict";
 * const a = shuffle(Uint32Array.from([0, 1, 2, 3]), createRng(1));
 * assert.deepEqual([...a].sort(), [0, 1, 2, 3]);
 * ```
 */
export function shuffle<T extends Uint32Array | Float64Array>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
