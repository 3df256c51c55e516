import assert from "node:assert/strict";
import {
  type ConfigInput,
  loadPolicy,
  type ScriptedAccess,
  scriptedWorkload,
  simulate,
} from "../mod.ts";

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
        exitNs: 100,
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
  assert.equal(profile(distinct(600), { tracker: "pml", trackerCosts: { vcpus: 2 } }).exits, 0);
  // a frame whose D bit is already set logs nothing
  assert.equal(profile([[10, 5, "w"], [20, 5, "w"]], { tracker: "pml" }).exits, 0);
});

Deno.test("dirty-ring: a ring at its soft limit (size − 64) is an exit, besides the faults", () => {
  const p = profile(distinct(200), { tracker: "dirty-ring", trackerCosts: { ringEntries: 128 } });
  // 200 first writes trap; the ring fills at 64 entries: 200 / 64 → 3 harvests
  assert.deepEqual(p.exitsByCause, { wpFault: 200, ringFull: 3 });
});

Deno.test("every tracker gives the same migration on the same workload when nothing is missed", () => {
  const outcomes = ["ept-ad", "wp", "pml", "dirty-ring"].map((tracker) => {
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
      },
    });
    return [r.pagesSent, r.necessaryResends, r.redundantResends, r.rounds].join(",");
  });
  assert.equal(new Set(outcomes).size, 1, outcomes.join(" | "));
});
