import assert from "node:assert/strict";
import { accountingFailures, checkAccounting } from "./accounting.ts";
import { simulate } from "./engine.ts";
import type { RunReport } from "./run_report.ts";
import { PrecopyError } from "../errors.ts";
import { loadPolicy } from "../policy/loader.ts";
import { createTracker } from "../trackers/tracker.ts";
import { parseWorkload } from "../workloads/spec.ts";

const hotDefer = await loadPolicy("hot-defer");
const sequential = await loadPolicy("sequential");

/** A run that exercises every part of the accounting: zero pages, resends, deferral, device state. */
function richReport(): RunReport {
  return simulate({
    workload: parseWorkload("hotcold:rate=40k,zero=20%"),
    policy: hotDefer,
    config: {
      pages: 4096,
      bandwidth: 8e6,
      clear: "round",
      deviceState: 5000,
      pauseResumeNs: 1234,
      maxRounds: 6,
    },
  });
}

Deno.test("accounting: real runs satisfy every identity", () => {
  const r = richReport();
  assert.ok(
    r.rounds > 1 && r.zeroPagesSent > 0 && r.redundantResends > 0 && r.necessaryResends > 0,
  );
  assert.deepEqual(accountingFailures(r), []);
  for (const tracker of ["wp", "pml", "dirty-ring"]) {
    const x = simulate({
      workload: parseWorkload("uniform:rate=20k"),
      policy: sequential,
      config: { pages: 2048, bandwidth: 32e6, tracker, iteration: "qemu", startNs: 1.5e8 + 0.25 },
    });
    assert.deepEqual(accountingFailures(x), [], tracker);
  }
});

Deno.test("accounting: each identity catches its corruption, naming both values", () => {
  const r = richReport();
  const row0 = r.perRound[0], row1 = r.perRound[1];
  const cases: [string, Partial<RunReport>, RegExp][] = [
    [
      "normal",
      { normalPagesSent: r.normalPagesSent + 1 },
      /^pagesSent = normalPagesSent \+ zeroPagesSent/,
    ],
    [
      "unique",
      { uniquePagesSent: r.uniquePagesSent - 1 },
      /^pagesSent = uniquePagesSent \+ resends/,
    ],
    [
      "redundant",
      { redundantResends: r.redundantResends + 1 },
      /^resends = necessaryResends \+ redundantResends/,
    ],
    ["wasted", { wastedSends: r.wastedSends - 1 }, /^wastedSends = necessaryResends/],
    ["verified", { verified: false }, /^verified = \(mismatchedFrames = 0\)/],
    ["bytes", { bytesSent: r.bytesSent + 8 }, /^bytesSent = normalPagesSent × /],
    ["rounds", { rounds: r.rounds + 1 }, /^rounds = perRound\.length/],
    ["syncs", { syncs: r.syncs - 1 }, /^syncs = rounds \+ 2/],
    [
      "stop-copy",
      { stopCopyPages: r.stopCopyPages + 1 },
      /^Σ perRound\[\]\.sent \+ stopCopyPages = pagesSent/,
    ],
    [
      "deferred",
      { perRound: [{ ...row0, deferred: row0.deferred + 1 }, ...r.perRound.slice(1)] },
      /^perRound\[0\]\.deferred = offered − sent/,
    ],
    [
      "start",
      { perRound: [row0, { ...row1, startNs: row1.startNs + 1 }, ...r.perRound.slice(2)] },
      /^perRound\[1\]\.startNs = perRound\[0\]\.startNs \+ durationNs/,
    ],
    [
      "total",
      { totalTimeNs: r.totalTimeNs + 1 },
      /^totalTimeNs = setup sync \+ Σ perRound\[\]\.durationNs \+ downtimeNs/,
    ],
    ["downtime", { downtimeNs: 1 }, /^stop-and-copy transfer \+ pause\/resume ≤ downtimeNs/],
    ["writes", { guestWrites: r.wastedSends - 1 }, /^wastedSends ≤ guestWrites/],
    [
      "missed",
      { missedUpdates: 3 },
      /^missedUpdates = tracker\.missedUpdates \+ profiling\.missedUpdates/,
    ],
    [
      "max-rounds",
      { config: { ...r.config, maxRounds: r.rounds - 1 } },
      /^rounds ≤ config\.maxRounds/,
    ],
    [
      "pages",
      { config: { ...r.config, pages: r.config.pages + 1 } },
      /^uniquePagesSent = config\.pages/,
    ],
  ];
  for (const [what, change, want] of cases) {
    const bad = { ...r, ...change };
    const f = accountingFailures(bad);
    assert.ok(f.some((x) => want.test(x.identity)), `${what}: ${JSON.stringify(f)}`);
    assert.throws(
      () => checkAccounting(bad),
      (e: unknown) =>
        e instanceof PrecopyError && e.kind === "verification" &&
        /^accounting check failed: .*: -?\d+(\.\d+)? [≠≰] -?\d+(\.\d+)?/.test(e.message),
      what,
    );
  }
  // a failure carries both sides' values, and the error shows them
  const f = accountingFailures({ ...r, syncs: r.syncs + 5 });
  assert.deepEqual(f, [{ identity: "syncs = rounds + 2", left: r.syncs + 5, right: r.rounds + 2 }]);
  assert.throws(
    () => checkAccounting({ ...r, syncs: r.syncs + 5 }),
    new RegExp(`syncs = rounds \\+ 2: ${r.syncs + 5} ≠ ${r.rounds + 2} — `),
  );
});

Deno.test("verification says whether the tracker missed writes (counted or not) or the engine lost a frame", () => {
  const w = parseWorkload("hotcold:rate=20k");
  // clears without a flush: the missed writes are counted
  assert.throws(
    () =>
      simulate({
        workload: w,
        policy: sequential,
        config: { pages: 4096, bandwidth: 64e6, flush: false },
      }),
    /stale copy: the tracker \(ept-ad\) missed writes \(\d+ counted as missed updates/,
  );
  // a tracker that drops writes silently
  assert.throws(
    () =>
      simulate({
        workload: w,
        policy: sequential,
        config: { pages: 4096, bandwidth: 64e6 },
        createTracker: (mem, costs) => {
          const t = createTracker("ept-ad", mem, costs);
          const onAccess = t.onAccess.bind(t);
          let n = 0;
          t.onAccess = (p, write, v) => {
            if (!(write && ++n % 97 === 0)) onAccess(p, write, v);
          };
          return t;
        },
      }),
    /the tracker \(ept-ad\) missed writes \(none counted: it dropped them without knowing\)/,
  );
});
