import assert from "node:assert/strict";
import { createRng, mixSeed } from "./rng.ts";

Deno.test("fillBelow() draws exactly what below() would, and leaves the generator in step", () => {
  for (const n of [1, 7, 1 << 24, 4294967296]) {
    const a = createRng(mixSeed(3, n)), b = createRng(mixSeed(3, n));
    const bulk = new Uint32Array(1000);
    a.fillBelow(bulk, 10, 990, n);
    const one = Array.from({ length: 980 }, () => b.below(n));
    assert.deepEqual([...bulk.subarray(10, 990)], one);
    assert.equal(bulk[0] + bulk[999], 0); // outside the range: untouched
    assert.equal(a.u32(), b.u32()); // both continue from the same state
  }
});

Deno.test("below() stays in range and covers it", () => {
  const r = createRng(11), seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const x = r.below(10);
    assert.ok(Number.isInteger(x) && x >= 0 && x < 10);
    seen.add(x);
  }
  assert.equal(seen.size, 10);
});
