import assert from "node:assert/strict";
import { type AccessStream, OP_WRITE } from "./workload.ts";
import { parseWorkload } from "./spec.ts";

function drain(s: AccessStream, max = 1e6): { t: number[]; p: number[]; w: number[] } {
  const out = { t: [] as number[], p: [] as number[], w: [] as number[] };
  for (let c = s.next(); c && out.t.length < max; c = s.next()) {
    for (let i = 0; i < c.length && out.t.length < max; i++) {
      out.t.push(c.t[i]);
      out.p.push(c.pfn[i]);
      out.w.push(c.op[i]);
    }
  }
  return out;
}

Deno.test("parseWorkload() generators are seeded, time-ordered and stay in their footprint", () => {
  for (
    const spec of [
      "uniform:rate=50k",
      "hotcold:rate=50k",
      "sequential:rate=50k",
      "phases:rate=50k,period=10ms",
      "mix:uniform(rate=5k)+sequential(rate=7k)",
    ]
  ) {
    const a = drain(
      parseWorkload(`${spec.includes("(") ? spec : spec + ",footprint=25%"}`).open(1000, 3),
      20000,
    );
    const b = drain(
      parseWorkload(`${spec.includes("(") ? spec : spec + ",footprint=25%"}`).open(1000, 3),
      20000,
    );
    assert.deepEqual(a, b, spec);
    for (let i = 1; i < a.t.length; i++) assert.ok(a.t[i] >= a.t[i - 1], spec);
    if (!spec.startsWith("mix")) assert.ok(a.p.every((p) => p < 250), spec);
  }
});

Deno.test("parseWorkload('hotcold') sends hotShare of the writes to hot × footprint frames", () => {
  const { p } = drain(
    parseWorkload("hotcold:rate=100k,hot=5%,hotShare=90%").open(10000, 1),
    200000,
  );
  const counts = new Map<number, number>();
  for (const x of p) counts.set(x, (counts.get(x) ?? 0) + 1);
  const top = [...counts.values()].sort((a, b) => b - a).slice(0, 500).reduce((s, x) => s + x, 0);
  const share = top / p.length;
  assert.ok(share > 0.88 && share < 0.93, `hottest 5% got ${share}`);
});

Deno.test("parseWorkload('sequential') sweeps in address order and wraps", () => {
  const { t, p } = drain(parseWorkload("sequential:rate=1k").open(3, 1), 7);
  assert.deepEqual(p, [0, 1, 2, 0, 1, 2, 0]);
  assert.deepEqual(t, [0, 1e6, 2e6, 3e6, 4e6, 5e6, 6e6]);
});

Deno.test("parseWorkload() reads interleave with writes at the given rates", () => {
  const { w } = drain(parseWorkload("uniform:rate=10k,reads=30k").open(100, 1), 40000);
  const writes = w.filter((x) => x === OP_WRITE).length;
  assert.ok(Math.abs(writes / w.length - 0.25) < 0.02, `${writes / w.length}`);
});

Deno.test("parseWorkload() zero share marks that many frames", () => {
  const z = parseWorkload("idle:zero=30%").zeroMap(10000, 1)!;
  const n = z.reduce((s, x) => s + x, 0);
  assert.ok(n > 2800 && n < 3200, `${n}`);
  assert.equal(parseWorkload("idle").zeroMap(100, 1), null);
  assert.equal(parseWorkload("idle").open(100, 1).next(), null);
});

Deno.test("parseWorkload() rejects bad specs naming the spec and the problem", () => {
  assert.throws(
    () => parseWorkload("unifrom"),
    /workload 'unifrom': unknown generator 'unifrom'; known: idle, uniform/,
  );
  assert.throws(
    () => parseWorkload("uniform:rat=5"),
    /unknown parameter 'rat' for uniform; accepted: footprint, zero, reads, rate/,
  );
  assert.throws(() => parseWorkload("hotcold:hot=150%"), /hot: '150%' is not a share/);
  assert.throws(() => parseWorkload("uniform:rate=fast"), /rate: 'fast' is not a number/);
  assert.throws(() => parseWorkload("phases:period=0s"), /period must be greater than zero/);
  assert.throws(
    () => parseWorkload("uniform:footprint=2GiB").open(1000, 1),
    /footprint=2GiB .* exceeds guest memory \(1000 frames\)/,
  );
  assert.throws(() => parseWorkload("mix:"), /mix parts are name\(k=v,…\) joined by/);
  assert.throws(
    () => parseWorkload("hotcold:rate=5k,rate=6k"),
    /workload 'hotcold:rate=5k,rate=6k': parameter 'rate' is given twice; give it once/,
  );
});

Deno.test("CSV traces replay in order and report malformed lines by number", async (t) => {
  const dir = Deno.makeTempDirSync();
  const write = (name: string, text: string) => {
    Deno.writeTextFileSync(`${dir}/${name}`, text);
    return `${dir}/${name}`;
  };
  await t.step("a good trace", () => {
    const path = write(
      "ok.csv",
      "t_ns,frame,op\n# frames=8\n# zero=5-6\n0,1,w\n10,2,r\n10,7,write\n",
    );
    const w = parseWorkload(path);
    assert.equal(w.minPages, 8);
    assert.equal(w.endNs, 10);
    assert.deepEqual([...w.zeroMap(8, 1)!], [0, 0, 0, 0, 0, 1, 1, 0]);
    const d = drain(w.open(8, 1));
    assert.deepEqual(d, { t: [0, 10, 10], p: [1, 2, 7], w: [1, 0, 1] });
    assert.throws(() => w.open(4, 1), /needs 8 frames but the guest has 4/);
  });
  await t.step("errors name the file and line", () => {
    const cases: [string, RegExp][] = [
      ["0,1,w\n5,2,x\n", /line 2: op 'x' is not r or w/],
      ["5,1,w\n4,2,w\n", /line 2: time 4 is earlier than the previous access \(5\)/],
      ["0,1\n", /line 1: expected t_ns,frame,op/],
      ["0,-3,w\n", /line 1: frame '-3' is not a frame number/],
      ["# frames=2\n0,5,w\n", /frame 5 is outside the declared frames=2/],
    ];
    cases.forEach(([text, re], i) =>
      assert.throws(() => parseWorkload(write(`bad${i}.csv`, text)), re)
    );
    assert.throws(() => parseWorkload(`${dir}/missing.csv`), /trace .*missing\.csv: cannot open/);
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("parseWorkload() looks names up safely: inherited names are not generators or parameters", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.throws(() => parseWorkload(name), new RegExp(`unknown generator '${name}'`));
    assert.throws(
      () => parseWorkload(`uniform:${name}=1`),
      new RegExp(`unknown parameter '${name}' for uniform`),
    );
  }
});
