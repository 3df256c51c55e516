import assert from "node:assert/strict";
import { loadPolicy, simulate } from "../../mod.ts";
import { analyzeWorkload } from "./analyze.ts";
import { fitCurve, modelWorkingSet, parseFit } from "./fit.ts";
import { parseWorkload } from "./spec.ts";

const sequential = await loadPolicy("sequential");

const TRACES = new URL("../../fixtures/traces/", import.meta.url).pathname;
const fixtures = [...Deno.readDirSync(TRACES)].filter((e) => e.name.endsWith(".pctrace")).map((e) =>
  e.name
).sort();

Deno.test("fit: each real fixture's fitted N(t) is within 10% of the trace's at every window", async (t) => {
  assert.ok(fixtures.length >= 5, fixtures.join(","));
  for (const name of fixtures) {
    await t.step(name, () => {
      const fit = parseFit(`${TRACES}${name}`);
      const measured = fit.model.measured;
      const a = analyzeWorkload(fit, {
        pages: fit.minPages,
        durationNs: measured[measured.length - 1].windowNs,
      });
      measured.forEach((p, i) => {
        const err = a.workingSet[i].frames / p.frames - 1;
        assert.ok(
          Math.abs(err) < 0.1,
          `${name}: window ${p.windowNs / 1e6} ms: ${(100 * err).toFixed(1)}%`,
        );
      });
      // the fitted region is the trace's size, give or take rounding
      assert.ok(Math.abs(fit.minPages / fit.model.traceFrames - 1) < 0.02);
    });
  }
});

Deno.test("fit: memory=SIZE scales the working set to a larger guest, which it then drives", () => {
  const path = `${TRACES}sort.pctrace`;
  const small = parseFit(path);
  const big = parseFit(`${path},memory=512MiB`);
  assert.equal(big.model.scale, 131072 / small.model.traceFrames);
  const t = 100e6;
  assert.ok(
    Math.abs(
      modelWorkingSet(big.model.classes, t, big.model.quantumNs) /
          modelWorkingSet(small.model.classes, t, small.model.quantumNs) - big.model.scale,
    ) < 1e-9,
  );
  const r = simulate({
    workload: parseWorkload(`fit:${path},memory=128MiB`),
    policy: sequential,
    config: { pages: 65536, startNs: 200e6 },
  });
  assert.equal(r.verified, true);
  assert.ok(r.guestWrites > 0);
  assert.throws(
    () => parseWorkload(`fit:${path},size=1GiB`),
    /unknown parameter 'size=1GiB'; accepted: memory=SIZE/,
  );
  assert.throws(
    () =>
      simulate({
        workload: parseWorkload(`fit:${path},memory=1GiB`),
        policy: sequential,
        config: { pages: 1024 },
      }),
    /needs \d+ frames but the guest has only 1024/,
  );
});

Deno.test("fitCurve() recovers a mixture of sweeps", () => {
  const truth = [{ frames: 300, rate: 40 }, { frames: 1200, rate: 2 }, { frames: 5000, rate: 0.2 }];
  const measured = [1e6, 1e7, 1e8, 5e8, 1e9, 5e9].map((w) => ({
    windowNs: w,
    frames: modelWorkingSet(truth, w),
  }));
  const fitted = fitCurve(measured, 5e9);
  for (const p of measured) {
    assert.ok(Math.abs(modelWorkingSet(fitted, p.windowNs) / p.frames - 1) < 0.01);
  }
});
