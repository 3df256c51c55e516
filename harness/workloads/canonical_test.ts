// Seeds from meaning, not spelling: a generator is seeded from its canonical form.
import assert from "node:assert/strict";
import { parseWorkload } from "./spec.ts";
import { simulate } from "../engine/engine.ts";
import { loadPolicy } from "../policy/loader.ts";

function firstChunk(spec: string): number[] {
  const c = parseWorkload(spec).open(4096, 7).next()!;
  return [...c.pfn.subarray(0, c.length)];
}

Deno.test("generators: one meaning, one stream, however it is spelled", () => {
  const same = [
    ["uniform", "uniform:rate=10k", "uniform:rate=10000", "uniform: rate=10.0k ,zero=0%"],
    ["hotcold:hot=5%", "hotcold:hot=0.05,hotShare=90%", "hotcold:rate=20000,hotShare=0.9"],
    ["phases:period=2s", "phases:period=2000ms,rate=20k", "phases"],
    ["uniform:footprint=50%", "uniform:footprint=0.5e2%"],
    ["uniform:footprint=8MiB", "uniform:footprint=8388608"],
  ];
  for (const group of same) {
    const ref = firstChunk(group[0]);
    for (const spec of group.slice(1)) assert.deepEqual(firstChunk(spec), ref, spec);
  }
  // different meanings still differ
  assert.notDeepEqual(firstChunk("uniform:rate=10k"), firstChunk("uniform:rate=10001"));
  assert.notDeepEqual(firstChunk("hotcold:hot=5%"), firstChunk("hotcold:hot=6%"));
});

Deno.test("simulate(): uniform, uniform:rate=10k and uniform:rate=10000 give identical reports", async () => {
  const policy = await loadPolicy("random");
  const run = (spec: string) => {
    const r = simulate({
      workload: parseWorkload(spec),
      policy,
      config: { pages: 4096, startNs: 200e6, maxRounds: 4 },
    });
    return JSON.stringify({ ...r, workload: null });
  };
  const ref = run("uniform");
  assert.equal(run("uniform:rate=10k"), ref);
  assert.equal(run("uniform:rate=10000"), ref);
  assert.notEqual(run("uniform:rate=9999"), ref);
});
