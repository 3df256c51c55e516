import assert from "node:assert/strict";
import { analyzeWorkload, predictPrecopy } from "./analyze.ts";
import { runAnalyze } from "../cli/analyze.ts";
import { TraceWriter } from "../trace/trace.ts";
import { scriptedWorkload } from "./workload.ts";
import { parseWorkload } from "./spec.ts";

Deno.test("analyzeWorkload() computes N(t) exactly: a sweep fills t × rate frames until it wraps", () => {
  const a = analyzeWorkload(parseWorkload("sequential:rate=1k"), { pages: 100, durationNs: 1e9 });
  const at = (ms: number) => a.workingSet.find((p) => p.windowNs === ms * 1e6)!.frames;
  assert.equal(at(1), 1);
  assert.equal(at(50), 50);
  assert.equal(at(200), 100); // longer than the 100 ms sweep: every frame
  assert.equal(a.framesWritten, 100);
  assert.equal(a.writes, 1000);
  assert.ok(a.writeRateOverTime.every((b) => b.writesPerSecond === 1000));
});

Deno.test("analyzeWorkload() averages over every window start, clipped to the span", () => {
  // T = 20 ns: frame 0 written at 0 and at 10. A 5 ns window [s, s+5), s ∈ [0, 15],
  // holds a write exactly for s ∈ (5, 10]: N(5) = 5/15.
  const w = scriptedWorkload([[0, 0, "w"], [10, 0, "w"]], { frames: 1 });
  const a = analyzeWorkload(w, { durationNs: 20 });
  assert.equal(a.workingSet.length, 1); // no window of 1 ms or more fits in 20 ns
  assert.equal(a.workingSet[0].frames, 1);
  const b = analyzeWorkload(w, { durationNs: 2e6 });
  // window 1 ms over s ∈ [0, 1 ms]: covered when the write at 0 or 10 is inside: s ≤ 10
  assert.ok(Math.abs(b.workingSet[0].frames - 10 / 1e6) < 1e-12);
});

Deno.test("analyzeWorkload() measures hot/cold skew", () => {
  const a = analyzeWorkload(parseWorkload("hotcold:rate=50k,hot=5%,hotShare=90%"), {
    pages: 10000,
    durationNs: 4e9,
  });
  assert.ok(Math.abs(a.skew.hottest5 - 0.9) < 0.02, `${a.skew.hottest5}`);
  assert.ok(a.skew.hottest1 < a.skew.hottest5 && a.skew.hottest5 < a.skew.hottest20);
});

Deno.test("predictPrecopy() follows N(t) round by round, and gives up after 30 rounds", () => {
  // 4104-byte pages at 4104e6 B/s: 1 µs per page. N(t) = t / 2 µs, capped at 1000 frames.
  const curve = [{ windowNs: 1e3, frames: 0.5 }, { windowNs: 2e6, frames: 1000 }];
  const p = predictPrecopy(curve, 1000, 0, { bandwidth: 4104e6, downtimeLimitNs: 100e3 });
  // 1000 frames (1 ms) → 500 (0.5 ms) → 250 → 125 → 62.5 ≤ 100 µs: pause
  assert.deepEqual(p.roundFrames, [1000, 500, 250, 125, 63]);
  assert.equal(p.converges, true);
  assert.equal(p.rounds, 4);
  assert.ok(Math.abs(p.downtimeNs - 62.5e3) < 1e-6);
  assert.ok(Math.abs(p.totalTimeNs - (1000 + 500 + 250 + 125 + 62.5) * 1e3) < 1e-6);
  const never = predictPrecopy([{ windowNs: 1, frames: 1000 }], 1000, 0, {
    bandwidth: 4104e6,
    downtimeLimitNs: 100e3,
  });
  assert.equal(never.converges, false);
  assert.equal(never.rounds, 30);
});

Deno.test("deno task analyze describes a trace file and rejects bad input", async () => {
  const dir = Deno.makeTempDirSync();
  const w = new TraceWriter(`${dir}/a.pctrace`, { frames: 64 });
  for (let i = 0; i < 1000; i++) w.append(i * 1e6, i % 16, 1);
  w.close();
  let out = "", err = "";
  const io = {
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
    interactive: false,
  };
  assert.equal(await runAnalyze([`${dir}/a.pctrace`, "--json"], io), 0);
  const a = JSON.parse(out);
  assert.equal(a.frames, 64);
  assert.equal(a.framesWritten, 16);
  assert.equal(a.writes, 1000);
  out = "";
  assert.equal(await runAnalyze([`${dir}/a.pctrace`], io), 0);
  assert.match(out, /writable working set N\(t\):/);
  assert.match(out, /prediction at 128\.00 MiB\/s/);
  assert.equal(await runAnalyze([], io), 2);
  assert.equal(await runAnalyze(["unifrom"], io), 2);
  assert.match(err, /unknown generator 'unifrom'/);
  Deno.removeSync(dir, { recursive: true });
});
