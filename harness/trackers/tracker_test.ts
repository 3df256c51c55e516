import assert from "node:assert/strict";
import {
  type ConfigInput,
  createTracker,
  GuestMemory,
  loadPolicy,
  type ScriptedAccess,
  scriptedWorkload,
  simulate,
  TRACKER_KINDS,
} from "../../mod.ts";

const sequential = await loadPolicy("sequential");

/** Runs the accesses during a profiling period (0 … 10 µs) and returns its tracker costs. */
function profile(accesses: ScriptedAccess[], config: ConfigInput) {
  return simulate({
    workload: scriptedWorkload(accesses, { frames: 1024 }),
    policy: sequential,
    config: {
      pages: 1024,
      bandwidth: 4104e6,
      startNs: 10_000,
      profileIntervalNs: 1000,
      downtimeLimitNs: 0,
      ...config,
      trackerCosts: {
        scanEntryNs: 0,
        flushHostNs: 0,
        flushGuestNs: 0,
        walkNs: 0,
        exitNs: 100,
        wpFaultNs: 100,
        ...config.trackerCosts,
      },
    },
  }).profiling;
}

Deno.test("wp: the first write to a protected frame exits; the profiler re-protects what it saw", () => {
  // f0 at 100 (exit), f0 at 200 (unprotected: unseen), f1 at 300 (exit); the scan at
  // 1000 re-protects f0 and f1; f0 at 1500 exits again. Reads never exit.
  const p = profile([[100, 0, "w"], [200, 0, "w"], [300, 1, "w"], [400, 2, "r"], [1500, 0, "w"]], {
    tracker: "wp",
  });
  assert.equal(p.exits, 3);
  assert.deepEqual(p.exitsByCause, { wpFault: 3 });
  assert.equal(p.guestOverheadNs, 300);
  assert.equal(p.slowdownPct, 100 * 300 / 10_000);
});

Deno.test("ept-ad: no exits at all, whatever the guest does", () => {
  const p = profile([[100, 0, "w"], [200, 0, "w"], [300, 1, "w"], [1500, 0, "w"]], {
    tracker: "ept-ad",
  });
  assert.equal(p.exits, 0);
  assert.equal(p.flushes, 9); // one per profiling scan, at 1 µs … 9 µs
});

const distinct = (n: number, from = 0): ScriptedAccess[] =>
  Array.from({ length: n }, (_, i) => [10 + i, from + i, "w"] as ScriptedAccess);

Deno.test("pml: a full 512-entry buffer is an exit, per vCPU", () => {
  assert.deepEqual(profile(distinct(600), { tracker: "pml" }).exitsByCause, { pmlFull: 1 });
  assert.deepEqual(profile(distinct(1024), { tracker: "pml" }).exitsByCause, { pmlFull: 2 });
  // two vCPUs take the writes in turn: 300 each, no buffer fills
  assert.equal(profile(distinct(600), { tracker: "pml", vcpus: 2 }).exits, 0);
  // a frame whose D bit is already set logs nothing
  assert.equal(profile([[10, 5, "w"], [20, 5, "w"]], { tracker: "pml" }).exits, 0);
});

Deno.test("dirty-ring: a ring at its soft limit (size − 64) is an exit, besides the faults", () => {
  const p = profile(distinct(600), {
    tracker: "dirty-ring",
    trackerCosts: { ringEntries: 256, exitNs: 0, wpFaultNs: 0 }, // no stall: all land by 10 µs
  });
  // 600 first writes trap; the ring fills at 192 entries: 600 / 192 → 3 harvests
  assert.deepEqual(p.exitsByCause, { wpFault: 600, ringFull: 3 });
});

Deno.test("an exit stops the guest's clock: later accesses happen later, and fewer fit", () => {
  // writes to distinct frames every 1 µs of guest time; each exits (wp) for 500 ns, so
  // they land at 0, 1.5, 3, 4.5, 6, 7.5, 9 µs: 7 before the migration starts at 10 µs
  const accesses = Array.from({ length: 10 }, (_, i) => [i * 1000, i, "w"] as ScriptedAccess);
  assert.equal(profile(accesses, { tracker: "wp", trackerCosts: { wpFaultNs: 500 } }).exits, 7);
  assert.equal(profile(accesses, { tracker: "wp", trackerCosts: { wpFaultNs: 0 } }).exits, 10);
  // a fault costs wpFaultNs, not exitNs
  assert.equal(profile(accesses, { tracker: "wp", trackerCosts: { exitNs: 500 } }).exits, 10);
});

Deno.test("every tracker gives the same migration on the same workload when nothing is missed", () => {
  const outcomes = TRACKER_KINDS.map((tracker) => {
    const r = simulate({
      workload: scriptedWorkload(
        distinct(300).concat(distinct(300, 100).map(([t, p]) => [t + 5000, p, "w"])),
        { frames: 1024 },
      ),
      policy: sequential,
      config: {
        pages: 1024,
        bandwidth: 4104e6,
        startNs: 0,
        profileIntervalNs: 1e12,
        tracker,
        clear: "round",
        trackerCosts: { exitNs: 0, wpFaultNs: 0, flushGuestNs: 0, walkNs: 0 }, // no stalls
      },
    });
    return [r.pagesSent, r.necessaryResends, r.redundantResends, r.rounds].join(",");
  });
  assert.equal(new Set(outcomes).size, 1, outcomes.join(" | "));
});

Deno.test("--ept-leaf 2MiB: one write dirties the whole leaf; wp splits and stays exact", () => {
  // 1 µs per page; leaf 0 (frames 0–511) is sent by 512 µs; frame 3 is written at 600 µs.
  const run = (tracker: string, eptLeafFrames: number) =>
    simulate({
      workload: scriptedWorkload([[600_000, 3, "w"]], { frames: 1024 }),
      policy: sequential,
      config: {
        pages: 1024,
        bandwidth: 4104e6,
        startNs: 0,
        profileIntervalNs: 1e12,
        downtimeLimitNs: 100_000,
        tracker,
        eptLeafFrames,
      },
    });
  for (const tracker of ["ept-ad", "pml"]) {
    const r = run(tracker, 512);
    assert.equal(r.perRound[0].dirtyAtSync, 512, tracker);
    assert.equal(r.necessaryResends, 1);
    assert.equal(r.redundantResends, 511);
    assert.equal(run(tracker, 1).perRound[0].dirtyAtSync, 1);
  }
  assert.equal(run("wp", 512).perRound[0].dirtyAtSync, 1);
});

Deno.test("--no-flush: a write through a translation cached with D=1 goes missing, per vCPU", () => {
  // vCPU 0 writes frame 5 at 100 (D set, its TLB caches D=1); the scan at 1000 clears D
  // without a flush; frame 5 written again at 1500.
  const missed = (accesses: ScriptedAccess[], vcpus: number, flush: boolean) =>
    profile(accesses, { flush, vcpus }).missedUpdates;
  assert.equal(missed([[100, 5, "w"], [1500, 5, "w"]], 1, false), 1);
  assert.equal(missed([[100, 5, "w"], [1500, 5, "w"]], 1, true), 0);
  // with two vCPUs the accesses alternate: the second write comes from vCPU 1, whose TLB
  // never cached frame 5, so it sets D and is seen
  assert.equal(missed([[100, 5, "w"], [1500, 5, "w"]], 2, false), 0);
  // a read caches the entry with D as it is in memory (clear), so the next write is seen
  assert.equal(missed([[100, 5, "r"], [1500, 5, "w"]], 1, false), 0);
});

Deno.test("--no-flush on a write-heavy guest: the verification reports what went missing", async () => {
  const { parseWorkload, PrecopyError } = await import("../../mod.ts");
  const config = { pages: 4096, bandwidth: 64e6, flush: false } as const;
  assert.throws(
    () => simulate({ workload: parseWorkload("hotcold:rate=20k"), policy: sequential, config }),
    (e: unknown) =>
      e instanceof PrecopyError && e.kind === "verification" && /missed writes/.test(e.message),
  );
  const r = simulate({
    workload: parseWorkload("hotcold:rate=20k"),
    policy: sequential,
    config: { ...config, verify: "count" },
  });
  assert.equal(r.verified, false);
  assert.ok(r.missedUpdates > 0 && r.mismatchedFrames > 0);
  assert.throws(
    () =>
      simulate({
        workload: parseWorkload("idle"),
        policy: sequential,
        config: { ...config, tracker: "pml" },
      }),
    /--no-flush is modelled for --tracker ept-ad only/,
  );
});

Deno.test("auto-converge throttles a guest that dirties faster than the link sends", async () => {
  const { parseWorkload } = await import("../../mod.ts");
  // 4 096 frames at ≈ 2 000 pages/s against 5 000 writes/s: never converges by itself
  const run = (autoConverge: boolean) =>
    simulate({
      workload: parseWorkload("uniform:rate=5k"),
      policy: sequential,
      config: { pages: 4096, bandwidth: 8e6, maxRounds: 10, autoConverge },
    });
  const off = run(false), on = run(true);
  assert.deepEqual(off.autoConverge, { enabled: false, throttlePct: 0, steps: 0 });
  assert.equal(on.autoConverge.enabled, true);
  assert.ok(on.autoConverge.steps >= 2, JSON.stringify(on.autoConverge));
  // 20 %, then 10 % more per step
  assert.equal(on.autoConverge.throttlePct, Math.min(99, 20 + 10 * (on.autoConverge.steps - 1)));
  // a throttled guest runs less, so it writes less per second of migration
  assert.ok(on.guestWrites / on.totalTimeNs < off.guestWrites / off.totalTimeNs);
});

Deno.test("oracles see the future on the workload's clock, which stalls hold back", async () => {
  const { definePolicy } = await import("../../mod.ts");
  let seen: number[] = [];
  const peek = {
    file: "peek",
    definition: definePolicy({
      meta: {
        name: "peek",
        description: "records what the future holds",
        defaults: {},
        oracle: true,
      },
      create: (_p, env) => ({
        order(round) {
          if (round.index === 1) {
            const last = env.future!.lastWrites(round.nowNs, round.nowNs + 20_000);
            seen = [0, 1, 2].filter((p) => last[p] >= 0);
          }
          return round.offered.slice();
        },
      }),
    }),
  };
  // wp exits of 5 µs: frame 0 at 1 µs and frame 1 at 4 µs stall the guest 10 µs before
  // migration starts at 10 µs, so frame 2's write at workload time 6 µs lands at 16 µs.
  simulate({
    workload: scriptedWorkload([[1000, 0, "w"], [4000, 1, "w"], [6000, 2, "w"]], { frames: 8 }),
    policy: peek,
    config: {
      pages: 8,
      bandwidth: 4104e6,
      startNs: 10_000,
      profileIntervalNs: 1e12,
      tracker: "wp",
      trackerCosts: {
        wpFaultNs: 5000,
        scanEntryNs: 0,
        flushHostNs: 0,
        flushGuestNs: 0,
        walkNs: 0,
      },
    },
  });
  assert.ok(seen.includes(2), JSON.stringify(seen));
  assert.ok(!seen.includes(0), JSON.stringify(seen));
});

Deno.test("oracles never see the workload's clock run back when stalls outlast a round", async () => {
  // Found by the property test: an idle guest, rounds of a few 4 µs sends, and flushes
  // whose 2 µs stalls outlast them. The oracle's second round used to ask for a span
  // starting before the first one's and fail.
  const policy = await loadPolicy("oracle");
  const r = simulate({
    workload: scriptedWorkload([], { frames: 24 }),
    policy,
    config: {
      pages: 24,
      bandwidth: 4104e6 / 4,
      profileIntervalNs: 20_000,
      historyLength: 8,
      iteration: "qemu",
      downtimeLimitNs: 0,
      maxRounds: 3,
      startNs: 0,
    },
  });
  assert.equal(r.verified, true);
  assert.equal(r.uniquePagesSent, 24);
});

Deno.test("clearAll() clears every logged frame, also ones an earlier sync reported", () => {
  // Frame 5 is reported by the first sync and stays logged; frame 1 by the second, then
  // cleared on its own. The logged count then equals the second report's length, which
  // must not make clearAll() visit that report alone and leave frame 5 logged.
  const m = new GuestMemory(8, null);
  const t = createTracker("wp", m);
  t.onAccess(5, true, 0);
  assert.deepEqual([...t.sync().newly], [5]);
  t.onAccess(1, true, 0);
  assert.deepEqual([...t.sync().newly], [1]);
  t.clear(1);
  t.clearAll();
  t.onAccess(5, true, 0); // re-protected by clearAll, so this write traps and is logged
  assert.deepEqual([...t.sync().newly], [5]);
});

Deno.test("after a flush, the first access to each frame is one walk, charged at the next flush", () => {
  // scans (each a flush) every 1 µs: frames 0, 1 before the first (the guest's own
  // walks, not charged); 1, 2, 2, 3 between the first and second (3 walks); a read of 5
  // before the third (1 walk); 6 after the last scan of the profiled span (not yet charged)
  const accesses: ScriptedAccess[] = [
    [100, 0, "w"],
    [200, 1, "r"],
    [1100, 1, "w"],
    [1200, 2, "r"],
    [1300, 2, "w"],
    [1400, 3, "w"],
    [2500, 5, "r"],
    [9500, 6, "w"],
  ];
  for (const tracker of TRACKER_KINDS) {
    const p = profile(accesses, { tracker, trackerCosts: { walkNs: 10, exitNs: 0, wpFaultNs: 0 } });
    // wp and dirty-ring start logging by protecting every frame, a flush at 0: frames 0, 1
    // are walked again after it
    const walks = tracker === "wp" || tracker === "dirty-ring" ? 6 : 4;
    assert.equal(p.walks, walks, tracker);
    assert.equal(p.guestOverheadNs, walks * 10, tracker);
  }
  // the refill grows with the frames touched, not with the flushes: 300 distinct frames
  // between two scans are 300 walks whatever the tracker
  const many = distinct(300).map(([t, f]) => [1000 + t, f, "w"] as ScriptedAccess);
  const free = { walkNs: 10, exitNs: 0, wpFaultNs: 0 }; // no exits' stalls: one timeline
  for (const tracker of TRACKER_KINDS) {
    assert.equal(profile(many, { tracker, trackerCosts: free }).walks, 300, tracker);
  }
  // one translation per 2 MiB leaf: 300 frames of one leaf are one walk
  assert.equal(profile(many, { eptLeafFrames: 512, trackerCosts: free }).walks, 1);
  // without flushes nothing is dropped, so nothing is walked again
  const noFlush = profile(many, { flush: false, verify: "count", trackerCosts: free });
  assert.equal(noFlush.walks, 0);
});
