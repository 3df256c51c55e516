import { parseWorkload } from "../workloads/spec.ts";
import assert from "node:assert/strict";
import {
  type ConfigInput,
  definePolicy,
  type LoadedPolicy,
  loadPolicy,
  PrecopyError,
  type RunReport,
  type ScriptedAccess,
  scriptedWorkload,
  simulate,
} from "../../mod.ts";
import { createTracker } from "../trackers/tracker.ts";

// A link of exactly one page per microsecond: 4096 + 8 header bytes per 1000 ns.
// Tracking costs are zero so syncs take no time; the profiler stays out of the way.
const BASE: ConfigInput = {
  pages: 4,
  bandwidth: 4104e6,
  startNs: 0,
  downtimeLimitNs: 1500, // threshold 6156 bytes: one page fits, two do not
  profileIntervalNs: 1e12,
  vcpus: 1,
  trackerCosts: { scanEntryNs: 0, flushHostNs: 0, flushGuestNs: 0, walkNs: 0 },
};

const sequential = await loadPolicy("sequential");

function run(
  accesses: ScriptedAccess[],
  config: ConfigInput = {},
  policy: LoadedPolicy = sequential,
  zero: number[] = [],
): RunReport {
  return simulate({
    workload: scriptedWorkload(accesses, { frames: 4, zero }),
    policy,
    config: { ...BASE, ...config },
  });
}

function inline(order: (offered: Uint32Array, round: number) => number[]): LoadedPolicy {
  return {
    file: "inline",
    definition: definePolicy({
      meta: { name: "inline", description: "test", defaults: {} },
      create: () => ({ order: (r) => order(r.offered, r.index) }),
    }),
  };
}

// Sends go 0@0, 1@1000, 2@2000, 3@3000. Frame 0 is written after its send, frame 2 before
// its chunk is cleared, frame 3 after its chunk is cleared but before its own send.
const W: ScriptedAccess[] = [[500, 0, "w"], [1500, 2, "w"], [2500, 3, "w"]];

Deno.test("simulate() with clear=send resends only frames written after their send", () => {
  const r = run(W, { clear: "send" });
  assert.equal(r.rounds, 1);
  assert.deepEqual(r.perRound.map((x) => [x.offered, x.sent, x.deferred, x.dirtyAtSync]), [
    [4, 4, 0, 1],
  ]);
  assert.equal(r.switchover, "downtime-limit");
  assert.equal(r.downtimeNs, 1000);
  assert.equal(r.totalTimeNs, 5000);
  assert.equal(r.pagesSent, 5);
  assert.equal(r.necessaryResends, 1);
  assert.equal(r.redundantResends, 0);
  assert.equal(r.stopCopyPages, 1);
  assert.equal(r.bytesSent, 5 * 4104);
  assert.equal(r.syncs, 3);
});

Deno.test("simulate() with clear=chunk:2 keeps writes made after the chunk's clear", () => {
  const r = run(W, { clear: "chunk:2" });
  // dirty at the first sync: frame 0 (after its send) and 3 (after chunk {2,3} was cleared)
  assert.deepEqual(r.perRound.map((x) => [x.offered, x.sent, x.dirtyAtSync]), [[4, 4, 2], [
    2,
    2,
    0,
  ]]);
  assert.equal(r.rounds, 2);
  assert.equal(r.downtimeNs, 0);
  assert.equal(r.totalTimeNs, 6000);
  assert.equal(r.pagesSent, 6);
  assert.equal(r.necessaryResends, 1);
  assert.equal(r.redundantResends, 1);
});

Deno.test("simulate() with clear=round resends every frame written in the round", () => {
  const r = run(W, { clear: "round" });
  assert.deepEqual(r.perRound.map((x) => [x.offered, x.sent, x.dirtyAtSync]), [[4, 4, 3], [
    3,
    3,
    0,
  ]]);
  assert.equal(r.totalTimeNs, 7000);
  assert.equal(r.pagesSent, 7);
  assert.equal(r.necessaryResends, 1);
  assert.equal(r.redundantResends, 2);
  assert.equal(r.wastedSends, 1);
});

Deno.test("simulate() keeps deferred frames pending and sends them in stop-and-copy", () => {
  const r = run([], {}, inline((o) => [...o].filter((p) => p !== 1)));
  assert.deepEqual(r.perRound.map((x) => [x.offered, x.sent, x.deferred]), [[4, 3, 1]]);
  assert.equal(r.downtimeNs, 1000);
  assert.equal(r.totalTimeNs, 4000);
  assert.equal(r.stopCopyPages, 1);
  assert.equal(r.resends, 0);
});

Deno.test("simulate() forces the switchover after maxRounds when nothing is sent", () => {
  const r = run([], { maxRounds: 3 }, inline(() => []));
  assert.equal(r.switchover, "max-rounds");
  assert.equal(r.rounds, 3);
  assert.equal(r.stopCopyPages, 4);
  assert.equal(r.downtimeNs, 4000);
  assert.equal(r.totalTimeNs, 4000);
});

// Every frame is rewritten at the end of each 4 µs round.
const EVERY_ROUND: ScriptedAccess[] = [3500, 7500, 11500].flatMap((t) =>
  [0, 1, 2, 3].map((p) => [t, p, "w"] as ScriptedAccess)
);

Deno.test("simulate() stops on maxTransferFactor, maxRounds and minPending", () => {
  const f = run(EVERY_ROUND, { maxTransferFactor: 1.5 });
  assert.equal(f.switchover, "max-transfer-factor");
  assert.equal(f.rounds, 2);
  assert.equal(f.downtimeNs, 4000);
  assert.equal(f.totalTimeNs, 12000);
  assert.equal(f.pagesSent, 12);
  assert.equal(f.necessaryResends, 8);

  const m = run(EVERY_ROUND, { maxRounds: 2 });
  assert.equal(m.switchover, "max-rounds");
  assert.equal(m.totalTimeNs, 12000);

  const x = run(EVERY_ROUND, { minPending: 5 });
  assert.equal(x.switchover, "min-pending");
  assert.equal(x.rounds, 1);
  assert.equal(x.downtimeNs, 4000);
  assert.equal(x.totalTimeNs, 8000);
});

Deno.test("simulate() sends zero pages as markers until they are written", () => {
  const r = run([[500, 2, "w"]], {}, sequential, [1, 2]);
  // frame 1 is still zero at its send (9 bytes); frame 2 was written (at 500) before its.
  assert.equal(r.zeroPagesSent, 1);
  assert.equal(r.normalPagesSent, 3);
  assert.equal(r.bytesSent, 3 * 4104 + 9);
  // slots: 0 @0, 1 @1000 (9 bytes), 2 @1002, 3 @2002; the round ends at 3002.
  assert.equal(r.totalTimeNs, 3002);
  assert.equal(r.resends, 0);
});

Deno.test("simulate() with iteration=qemu re-syncs once pending bytes reach the threshold", () => {
  const r = run([], { iteration: "qemu", qemuMaxWaitNs: 0 });
  // pending × 4096 ≤ 6156 after the third send: the round ends, frame 3 carries over.
  assert.deepEqual(r.perRound.map((x) => [x.offered, x.sent, x.deferred]), [[4, 3, 1]]);
  assert.equal(r.switchover, "downtime-limit");
  assert.equal(r.downtimeNs, 1000);
  assert.equal(r.totalTimeNs, 4000);
  // Checking only every 2.5 µs of sending (QEMU's MAX_WAIT): the first check after the
  // third send (ends at 3000) finds 1 pending; with 3.5 µs the round drains.
  assert.deepEqual(run([], { iteration: "qemu", qemuMaxWaitNs: 2500 }).perRound[0].sent, 3);
  const drained = run([], { iteration: "qemu", qemuMaxWaitNs: 3500 });
  assert.deepEqual([drained.perRound[0].sent, drained.downtimeNs], [4, 0]);
});

Deno.test("simulate() adds sync cost, device state and pause/resume to downtime", () => {
  const r = run([], {
    deviceState: 4104,
    pauseResumeNs: 7,
    vcpus: 1,
    trackerCosts: { scanEntryNs: 10, flushHostNs: 5, flushGuestNs: 0, walkNs: 0 },
  });
  // each sync walks 4 leaves (40 ns) and flushes (5 ns): setup, round 1, final
  assert.equal(r.downtimeNs, 45 + 1000 + 7);
  assert.equal(r.totalTimeNs, 45 + 4000 + 45 + r.downtimeNs);
});

Deno.test("simulate() fails verification when the tracker misses a write", () => {
  const input = {
    workload: scriptedWorkload(W, { frames: 4 }),
    policy: sequential,
    config: BASE,
    // A broken tracker: forgets every write it syncs.
    createTracker: (
      ...a: Parameters<typeof createTracker> extends [string, ...infer R] ? R : never
    ) => {
      const t = createTracker("ept-ad", a[0], a[1]);
      return {
        ...t,
        kind: "broken",
        stats: t.stats,
        onAccess: (p: number, w: boolean, v: number) => t.onAccess(p, w, v),
        sync: () => {
          const r = t.sync();
          return { newly: new Uint32Array(0), logged: 0, costNs: r.costNs };
        },
        clearAll: () => t.clearAll(),
        clear: (p: number) => t.clear(p),
        flush: () => t.flush(),
        profile: () => t.profile(),
      };
    },
  };
  assert.throws(() => simulate(input), (e: unknown) => {
    assert.ok(e instanceof PrecopyError);
    assert.equal(e.kind, "verification");
    assert.match(e.message, /1 frame\(s\) differ.*first: 0.*broken/);
    return true;
  });
});

Deno.test("simulate() rejects orders that break the contract, naming the policy", () => {
  const cases: [(o: Uint32Array, round: number) => number[], RegExp][] = [
    [(o) => [o[0], o[0]], /returned frame 0 twice/],
    [(o) => [o[0], o[2], o[1], o[2]], /returned frame 2 twice/], // ascends, then repeats
    [() => [9], /returned 9 at position 0, which is not a frame number/],
    [() => [1.5], /returned 1.5 at position 0/],
    [
      (o, round) => (round === 1 ? [1] : [1, o[0]]),
      /round 2: order\(\) returned frame 1, which was not offered/,
    ],
  ];
  for (const [order, re] of cases) {
    assert.throws(() => run(W, { clear: "round" }, inline(order)), (e: unknown) => {
      assert.ok(e instanceof PrecopyError && e.kind === "policy");
      assert.match(e.message, /^policy 'inline' \(inline\): /);
      assert.match(e.message, re);
      return true;
    });
  }
  const throwing = inline(() => {
    throw new Error("boom");
  });
  assert.throws(
    () => run([], {}, throwing),
    /policy 'inline' \(inline\): order\(\) in round 1 threw: boom/,
  );
  const notArray = inline(() => 42 as unknown as number[]);
  assert.throws(() => run([], {}, notArray), /must return an array of frame numbers/);
});

Deno.test("simulate() rejects impossible configurations and workloads with one clear error", () => {
  assert.throws(() => run([], { bandwidth: -1 }), /--bandwidth/);
  assert.throws(() => run([], { clear: "chunk:0" as "round" }), /--clear: 'chunk:0'/);
  assert.throws(() => run([], { historyLength: 40 }), /--history/);
  assert.throws(() => run([], { pages: 2 }), /needs 4 frames but the guest has only 2/);
  // A workload whose stream goes outside the frames it declared is caught at the access.
  const lying = { ...scriptedWorkload([[0, 1, "w"], [5, 7, "w"]]), minPages: 4 };
  assert.throws(
    () => simulate({ workload: lying, policy: sequential, config: BASE }),
    /workload 'scripted': access #1: frame 7 is outside the guest's 4 frames/,
  );
});

Deno.test("simulate() is deterministic: same inputs and seed give identical JSON", async () => {
  const { parseWorkload } = await import("../workloads/spec.ts");
  const random = await loadPolicy("random");
  const go = (seed: number) =>
    JSON.stringify(simulate({
      workload: parseWorkload("hotcold:rate=5k,hot=10%"),
      policy: random,
      config: { pages: 2048, bandwidth: 8e6, seed },
    }));
  assert.equal(go(3), go(3));
  assert.notEqual(go(3), go(4));
});

Deno.test("simulate() warns when a profiling scan outlasts its interval or tracking needs > 1 CPU", () => {
  const idle = parseWorkload("idle");
  const config: ConfigInput = {
    pages: 4096,
    bandwidth: 4104e6,
    startNs: 10e6,
    profileIntervalNs: 1e6,
    trackerCosts: { scanEntryNs: 500, flushHostNs: 1000 }, // a walk of 4096 leaves: 2.05 ms
  };
  const slow = simulate({
    workload: idle, // a generator never ends: no trace warning
    policy: sequential,
    config,
  });
  assert.equal(slow.warnings.length, 3, slow.warnings.join("\n"));
  assert.match(
    slow.warnings[0],
    /^profiling: (\d+) of \1 ept-ad scans took more host time than the 1\.00 ms interval \(the longest 2\.05 ms\)/,
  );
  assert.match(
    slow.warnings[1],
    /^tracking: ept-ad used 1\.84 host CPUs before the migration \(18\.44 ms of host time in 10\.00 ms\)/,
  );
  assert.match(slow.warnings[2], /^tracking: ept-ad used \d+\.\d\d host CPUs during the migration/);
  // the same run, twice: the same words
  const again = simulate({
    workload: idle, // a generator never ends: no trace warning
    policy: sequential,
    config,
  });
  assert.deepEqual(again.warnings, slow.warnings);
  // cheap scans (0.2 ms of a 1 ms interval) and syncs: nothing to say
  const fine = simulate({
    workload: idle, // a generator never ends: no trace warning
    policy: sequential,
    config: { ...config, trackerCosts: { scanEntryNs: 50, flushHostNs: 1000 } },
  });
  assert.deepEqual(fine.warnings, []);
  assert.deepEqual(Object.keys(fine).at(-1), "warnings"); // the report's last field
});
