import assert from "node:assert/strict";
import { type Progress, simulate } from "./engine.ts";
import { DEFAULT_MAX_EVENTS } from "./budget.ts";
import { PrecopyError } from "../errors.ts";
import { loadPolicy } from "../policy/loader.ts";
import { scriptedWorkload } from "../workloads/workload.ts";
import { parseWorkload } from "../workloads/spec.ts";

const sequential = await loadPolicy("sequential");

Deno.test("a run past its budget ends with an error naming the budget, the phase and the flag", () => {
  const run = (maxEvents: number, config = {}) =>
    simulate({
      workload: parseWorkload("uniform:rate=1e9"),
      policy: sequential,
      config: { pages: 64, ...config },
      maxEvents,
    });
  const t0 = performance.now();
  assert.throws(
    () => run(1e5),
    (e: unknown) =>
      e instanceof PrecopyError &&
      /budget of 100,000 events .* in the warm-up: .*--max-events N/.test(e.message),
  );
  // a round that never ends: a slow link and a guest that keeps writing
  assert.throws(
    () =>
      simulate({
        workload: parseWorkload("uniform:rate=20k"),
        policy: sequential,
        config: { pages: 64, bandwidth: 1, startNs: 0 },
        maxEvents: 1e5,
      }),
    /budget of 100,000 events .* in round 1/,
  );
  assert.ok(performance.now() - t0 < 3000, "the budget ends runs quickly");
  assert.equal(DEFAULT_MAX_EVENTS, 1e9);
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => run(bad), /maxEvents: '.*' is not a whole number/);
  }
});

Deno.test("runs that could never end well are refused before they start, with the reason", () => {
  const run = (config: object) => () =>
    simulate({
      workload: parseWorkload("idle"),
      policy: sequential,
      config: { pages: 262144, ...config },
    });
  assert.throws(
    run({ bandwidth: 1 / 8 }),
    /--bandwidth, --memory, --start: the run would last at least \d+ years/,
  );
  assert.throws(
    run({ pages: 1 << 24, bandwidth: 125 }),
    /past the 104 days up to which nanoseconds stay exact/,
  );
  assert.throws(
    run({ profileIntervalNs: 1 }),
    /--profile-interval 1 ns: the warm-up alone .* takes 1,000,000,000 profiling scans/,
  );
  // a slow link within the exact range is not refused: the budget bounds it
  assert.throws(
    () =>
      simulate({
        workload: parseWorkload("idle"),
        policy: sequential,
        config: { pages: 64, bandwidth: 1 / 8 },
        maxEvents: 1e5,
      }),
    /budget of 100,000 events .* in round 1/,
  );
});

Deno.test("a trace that ends before the migration, or before round 1 ends, is a warning in the report", () => {
  const w = scriptedWorkload([[100, 1, "w"], [200, 2, "w"]], { frames: 64 });
  const before = simulate({ workload: w, policy: sequential, config: { pages: 64, startNs: 1e6 } });
  assert.deepEqual(before.warnings, [
    "workload 'scripted' ends at 200 ns, before the migration starts at 1.00 ms: the guest is idle throughout the migration",
  ]);
  const during = simulate({
    workload: scriptedWorkload([[100, 1, "w"], [2e6, 2, "w"]], { frames: 64 }),
    policy: sequential,
    config: { pages: 64, startNs: 1e6, bandwidth: 4104 * 64 / 0.01 }, // round 1 lasts 10 ms
  });
  assert.equal(during.warnings.length, 1);
  assert.match(during.warnings[0], /ends at 2\.00 ms of its own time, before round 1 ends/);
  // a generator never ends; and the same run gives the same words
  const gen = simulate({
    workload: parseWorkload("uniform"),
    policy: sequential,
    config: { pages: 64 },
  });
  assert.deepEqual(gen.warnings, []);
  assert.deepEqual(
    simulate({ workload: w, policy: sequential, config: { pages: 64, startNs: 1e6 } }).warnings,
    before.warnings,
  );
});

Deno.test("progress comes at least once a second of wall time, in the warm-up and within rounds", () => {
  // A clock that jumps 600 ms per reading: every other check is a second later.
  const real = performance.now;
  let fake = 0;
  performance.now = () => (fake += 600);
  const seen: Progress[] = [];
  try {
    simulate({
      workload: parseWorkload("uniform:rate=200k"),
      policy: sequential,
      config: { pages: 4096, bandwidth: 4104 * 4096 / 2, maxRounds: 2 }, // rounds of ~2 s
      onProgress: (p) => void seen.push({ ...p }),
    });
  } finally {
    performance.now = real;
  }
  const phases = new Set(seen.map((p) => p.phase));
  assert.ok(
    phases.has("warm-up") && phases.has("round") && phases.has("round-end"),
    [...phases].join(),
  );
  assert.ok(seen.filter((p) => p.phase === "round" && p.round === 1).length > 1);
  assert.ok(seen.filter((p) => p.phase === "warm-up").every((p) => p.elapsedNs <= 0));
  assert.equal(seen.filter((p) => p.phase === "round-end").length, 2);
});

Deno.test("a closed or full stdout is an error, not exit 0", async () => {
  const sim = new URL("../cli/sim.ts", import.meta.url).pathname;
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `"${Deno.execPath()}" run -A "${sim}" --pages 64 --workload idle --json > /dev/full`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.equal(new TextDecoder().decode(out.stderr), "error: stdout: no space left on device\n");
});
