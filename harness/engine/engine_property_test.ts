// Properties of the engine over random small scripted workloads, configurations and
// policies (fast-check). Each property could fail: they pin the accounting identities and
// docs/model.md's claim that under clear=round a pure permutation cannot change which frames
// come back — under iteration=drain only: under QEMU's rule the order decides which frames
// are cut off at the re-sync (docs/bounds.md).
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ConfigInput,
  loadPolicies,
  type MigrationConfig,
  type ScriptedAccess,
  scriptedWorkload,
  simulate,
} from "../../mod.ts";

const policies = await loadPolicies();
const FRAMES = 24;

const accessesArb = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 400_000 }),
    fc.integer({ min: 0, max: FRAMES - 1 }),
    fc.boolean(),
  ),
  { maxLength: 300 },
).map((xs) =>
  xs.sort((a, b) => a[0] - b[0]).map(([t, p, w]) => [t, p, w ? "w" : "r"] as ScriptedAccess)
);

const configArb = fc.record({
  clear: fc.constantFrom("send", "round", "chunk:4", "chunk:1"),
  iteration: fc.constantFrom("drain", "qemu"),
  downtimeLimitNs: fc.integer({ min: 0, max: 20_000 }),
  maxRounds: fc.integer({ min: 1, max: 12 }),
  minPending: fc.integer({ min: 0, max: 6 }),
  startNs: fc.integer({ min: 0, max: 100_000 }),
}) as fc.Arbitrary<ConfigInput>;

const BASE: ConfigInput = {
  pages: FRAMES,
  bandwidth: 4104e6 / 4, // 4 µs per page
  profileIntervalNs: 20_000,
  historyLength: 8,
};

Deno.test("simulate() keeps its accounting identities for any workload, config and policy", () => {
  fc.assert(
    fc.property(
      accessesArb,
      configArb,
      fc.integer({ min: 0, max: policies.length - 1 }),
      fc.subarray([...Array(FRAMES).keys()]),
      (accesses, config, k, zero) => {
        const r = simulate({
          workload: scriptedWorkload(accesses, { frames: FRAMES, zero }),
          policy: policies[k],
          config: { ...BASE, ...config },
        });
        assert.equal(r.uniquePagesSent, FRAMES);
        assert.equal(r.pagesSent, r.uniquePagesSent + r.resends);
        assert.equal(r.resends, r.necessaryResends + r.redundantResends);
        assert.equal(r.pagesSent, r.normalPagesSent + r.zeroPagesSent);
        assert.equal(r.wastedSends, r.necessaryResends);
        assert.equal(r.perRound.reduce((s, x) => s + x.sent, 0) + r.stopCopyPages, r.pagesSent);
        assert.equal(
          r.perRound.reduce((s, x) => s + x.durationNs, 0) + r.downtimeNs,
          r.totalTimeNs - setupNs(r),
        );
        assert.ok(r.rounds <= config.maxRounds!);
        assert.ok(r.zeroPagesSent <= zero.length);
        // a redundant resend needs a clear that is not tied to the send
        if (config.clear === "send" || config.clear === "chunk:1") {
          assert.equal(r.redundantResends, 0);
        }
      },
    ),
    { numRuns: 150 },
  );
});

function setupNs(r: { config: MigrationConfig }): number {
  const c = r.config.trackerCosts;
  return Math.round(r.config.pages * c.scanEntryNs + c.flushHostNs);
}

Deno.test("simulate() under clear=round: permutations change only the necessary/redundant split", () => {
  const permuting = policies.filter((p) =>
    ["sequential", "random", "staged-history", "lru-write", "rate-oracle", "oracle"].includes(
      p.definition.meta.name,
    )
  );
  assert.equal(permuting.length, 6);
  fc.assert(
    fc.property(accessesArb, fc.integer({ min: 0, max: 20_000 }), (accesses, limit) => {
      const outcomes = permuting.map((policy) => {
        const r = simulate({
          workload: scriptedWorkload(accesses, { frames: FRAMES }),
          policy,
          config: { ...BASE, clear: "round", downtimeLimitNs: limit, startNs: 100_000 },
        });
        return JSON.stringify([
          r.rounds,
          r.pagesSent,
          r.downtimeNs,
          r.totalTimeNs,
          r.perRound.map((x) => x.dirtyAtSync),
        ]);
      });
      assert.equal(new Set(outcomes).size, 1, outcomes.join("\n"));
    }),
    { numRuns: 100 },
  );
});

Deno.test("simulate() gives the same report whether sends go in batches or one at a time", () => {
  // Batches apply the accesses due before their last send first; this pins that doing so
  // never changes a number, with frames written right after their send (conflicts), zero
  // pages, both iteration rules and every clear mode.
  const frames = 160; // rounds of more than 64 sends, so send-time flushes fall inside
  const burstArb = fc.array(
    fc.tuple(
      fc.integer({ min: 0, max: 600_000 }),
      fc.integer({ min: 0, max: frames - 1 }),
      fc.integer({ min: 1, max: 8 }),
      fc.boolean(),
    ),
    { maxLength: 150 },
  ).map((bursts) =>
    bursts.flatMap(([t, p, n, w]) =>
      Array.from(
        { length: n },
        (_, j): ScriptedAccess => [t + 700 * j, (p + j) % frames, w ? "w" : "r"],
      )
    ).sort((a, b) => a[0] - b[0])
  );
  fc.assert(
    fc.property(
      burstArb,
      configArb,
      fc.integer({ min: 0, max: policies.length - 1 }),
      fc.subarray([...Array(frames).keys()], { maxLength: 8 }),
      fc.constantFrom(1, 3),
      fc.constantFrom(1, 4), // µs per page: a flush's stall may span several slots
      fc.constantFrom(0, 3_000, 50e6),
      (accesses, config, k, zero, vcpus, slotUs, qemuMaxWaitNs) => {
        const run = (exact: boolean) =>
          JSON.stringify(simulate({
            workload: scriptedWorkload(accesses, { frames, zero }),
            policy: policies[k],
            config: {
              ...BASE,
              ...config,
              pages: frames,
              bandwidth: 4104e6 / slotUs,
              qemuMaxWaitNs,
              vcpus,
            },
            exact,
          }));
        assert.equal(run(false), run(true));
      },
    ),
    { numRuns: 1500 },
  );
});
