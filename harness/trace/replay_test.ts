import assert from "node:assert/strict";
import fc from "fast-check";
import { loadPolicy, PrecopyError, simulate } from "../../mod.ts";
import { openTrace, RECORD_INTERVAL_NS, splitTraceSpec, TraceWriter } from "./trace.ts";
import type { AccessStream } from "../workloads/workload.ts";

// A recorded trace (10 ms bursts), small enough to read whole in a test.
const GCC = new URL("../../fixtures/traces/gcc.pctrace", import.meta.url).pathname;

function drain(s: AccessStream, limit = Infinity) {
  const t: number[] = [], pfn: number[] = [], op: number[] = [];
  for (let c = s.next(); c && t.length < limit; c = s.next()) {
    for (let i = 0; i < c.length; i++) t.push(c.t[i]), pfn.push(c.pfn[i]), op.push(c.op[i]);
  }
  s.close?.();
  return { t, pfn, op };
}

/**
 * The spread promise: the same frames in the same order; each access stays in its burst's
 * sampling interval (after the previous burst, at or before its stamp); times within a
 * burst are distinct and increasing, and the burst's last access keeps the stamp.
 */
function assertSpread(
  plain: ReturnType<typeof drain>,
  spread: ReturnType<typeof drain>,
  intervalNs: number,
) {
  assert.equal(spread.t.length, plain.t.length);
  assert.deepEqual(spread.pfn, plain.pfn);
  assert.deepEqual(spread.op, plain.op);
  let prev = -Infinity, bursts = 0;
  for (let i = 0; i < plain.t.length;) {
    const stamp = plain.t[i];
    let j = i;
    while (j < plain.t.length && plain.t[j] === stamp) j++;
    const lo = Math.max(stamp - intervalNs, prev, 0);
    for (let k = i; k < j; k++) {
      const t = spread.t[k];
      assert.ok(Number.isSafeInteger(t), `access ${k}: ${t} is not whole ns`);
      assert.ok(t > lo || (t === lo && stamp === lo), `access ${k}: ${t} is not after ${lo}`);
      assert.ok(t <= stamp, `access ${k}: ${t} is after its stamp ${stamp}`);
      if (k > i && stamp - lo >= j - i) {
        assert.ok(t > spread.t[k - 1], `access ${k} repeats a time`);
      }
    }
    assert.equal(spread.t[j - 1], stamp);
    if (j - i > 1) bursts++;
    prev = stamp;
    i = j;
  }
  return bursts;
}

Deno.test(":spread keeps a recorded trace's frames in their intervals, at distinct increasing times", () => {
  const plain = drain(openTrace(GCC).open(30_000, 1));
  const w = openTrace(`${GCC}:spread`);
  const spread = drain(w.open(30_000, 1));
  const bursts = assertSpread(plain, spread, RECORD_INTERVAL_NS);
  assert.ok(bursts > 50, `only ${bursts} bursts`); // the fixture is recorded in bursts
  assert.equal(w.endNs, plain.t[plain.t.length - 1]);
  assert.equal(new Set(spread.t).size, spread.t.length); // no two accesses share a time
  // A coarser interval moves the first access of a burst further back.
  const wide = drain(openTrace(`${GCC}:spread=20ms`).open(30_000, 1));
  assertSpread(plain, wide, 20e6);
});

Deno.test(":spread handles bursts across block boundaries and any burst sizes", () => {
  const dir = Deno.makeTempDirSync();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 30 })), {
        minLength: 1,
        maxLength: 60,
      }),
      fc.integer({ min: 1, max: 2000 }),
      (bursts, interval) => {
        const path = `${dir}/b.pctrace`;
        const w = new TraceWriter(path, { frames: 500 });
        let t = 0, k = 0;
        for (const [gap, n] of bursts) {
          t += gap;
          for (let i = 0; i < n; i++) w.append(t, (k++ * 37) % 500, 1);
        }
        // One burst larger than a block, straddling two.
        t += 5000;
        for (let i = 0; i < 70_000; i++) w.append(t, i % 500, 1);
        w.close();
        const plain = drain(openTrace(path).open(500, 1));
        const spread = drain(openTrace(`${path}:spread=${interval}ns`).open(500, 1));
        assertSpread(plain, spread, interval);
      },
    ),
    { numRuns: 12 },
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test(":loop replays the trace back to back, each pass one period later", () => {
  const once = openTrace(GCC);
  const w = openTrace(`${GCC}:loop`);
  assert.equal(w.endNs, Infinity);
  assert.equal(w.passNs, once.endNs + RECORD_INTERVAL_NS);
  const plain = drain(once.open(30_000, 1));
  const n = plain.t.length;
  const looped = drain(w.open(30_000, 1), 3 * n + 1);
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < n; i += 997) {
      assert.equal(looped.t[pass * n + i], plain.t[i] + pass * w.passNs!);
      assert.equal(looped.pfn[pass * n + i], plain.pfn[i]);
    }
  }
  // The gap between passes: the last access, then the next pass's first one a period on.
  assert.equal(looped.t[n] - looped.t[n - 1], RECORD_INTERVAL_NS + plain.t[0]);
  // Options combine in any order; the interval of spread=T is also the gap.
  const a = drain(openTrace(`${GCC}:offset=1MiB:spread=5ms:loop`).open(30_000, 1), 2 * n);
  const b = drain(openTrace(`${GCC}:loop:spread=5ms:offset=1MiB`).open(30_000, 1), 2 * n);
  assert.deepEqual(a, b);
  assert.equal(a.pfn[0], plain.pfn[0] + 256);
  assert.equal(openTrace(`${GCC}:spread=5ms:loop`).passNs, once.endNs + 5e6);
});

Deno.test(":loop keeps a migration that starts after the trace's end busy", async () => {
  const policy = await loadPolicy("sequential");
  const config = {
    pages: 30_000,
    bandwidth: 128 * 2 ** 20,
    startNs: Math.ceil(openTrace(GCC).endNs / 1e9) * 1e9 + 1e9, // after the recording ends
    downtimeLimitNs: 0,
    maxRounds: 3,
  };
  const idle = simulate({ policy, workload: openTrace(GCC), config });
  const looped = simulate({ policy, workload: openTrace(`${GCC}:loop`), config });
  assert.equal(idle.guestWrites, 0);
  assert.ok(looped.guestWrites > 10_000, `${looped.guestWrites} writes`);
  assert.ok(looped.pagesSent > idle.pagesSent);
});

Deno.test("trace options: the grammar is one place, and bad options are clear errors", () => {
  assert.deepEqual(splitTraceSpec("a/b.csv:loop:offset=3"), {
    path: "a/b.csv",
    options: { offset: "3", loop: "" },
  });
  assert.deepEqual(splitTraceSpec("a/b.csv:rate=3").path, "a/b.csv:rate=3");
  const bad: [string, RegExp][] = [
    [`${GCC}:loop:loop`, /'loop' is given twice/],
    [`${GCC}:loop=2`, /'loop' takes no value/],
    [`${GCC}:offset`, /'offset' needs a value/],
    [`${GCC}:spread=0ns`, /at least 1ns/],
    [`${GCC}:spread=3`, /spread/],
    [`${GCC}:lop`, /'lop' is not a trace option \(offset, spread, loop\)/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(() => openTrace(spec), (e) => e instanceof PrecopyError && re.test(e.message));
  }
});

Deno.test("a study takes looped and spread traces, names them by file, and offsets their starts", async () => {
  const { loadStudy } = await import("../study/spec.ts");
  const dir = Deno.makeTempDirSync();
  Deno.copyFileSync(GCC, `${dir}/gcc.pctrace`);
  Deno.writeTextFileSync(
    `${dir}/s.json`,
    JSON.stringify({
      policies: ["sequential"],
      workloads: ["gcc.pctrace:offset=4MiB:loop", { name: "spread", spec: "gcc.pctrace:spread" }],
      settings: { memory: "128MiB" },
      replicates: { seeds: 3, startStep: "50ms" },
    }),
  );
  const plan = await loadStudy(`${dir}/s.json`);
  assert.deepEqual(plan.workloads.map((w) => [w.name, w.trace]), [["gcc", true], [
    "spread",
    true,
  ]]);
  assert.equal(plan.workloads[0].spec, `${dir}/gcc.pctrace:offset=4MiB:loop`);
  assert.deepEqual(plan.runs.map((r) => r.startOffsetNs), [0, 50e6, 100e6, 0, 50e6, 100e6]);
  Deno.removeSync(dir, { recursive: true });
});
