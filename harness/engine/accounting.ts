/**
 * The accounting identities every report must satisfy (docs/model.md, "The report"),
 * checked at the end of every run. The checker is a pure function of the report, so a
 * test can corrupt one field and see the identity that catches it; a run whose numbers do
 * not add up ends in an error instead of a report.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import type { RunReport } from "./run_report.ts";

/** One identity that does not hold: its statement and the two sides' values. */
export interface AccountingFailure {
  /** The identity, in the report's field names. */
  identity: string;
  /** The left side's value. */
  left: number;
  /** The right side's value. */
  right: number;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Checks a report's accounting identities. Counts must match exactly; times, which are
 * sums of rounded nanoseconds, match exactly too unless the start time itself has a
 * fraction (then within a millionth of a nanosecond per round).
 *
 * @param r the report
 * @returns every identity that does not hold (empty when the accounting is sound)
 *
 * @example Usage
 * ```ts
 * import { accountingFailures } from "./accounting.ts";
 * import { simulate } from "./engine.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const r = simulate({
 *   workload: parseWorkload("uniform:rate=20k"),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 256 },
 * });
 * assert.deepEqual(accountingFailures(r), []);
 * const bad = accountingFailures({ ...r, redundantResends: r.redundantResends + 1 });
 * assert.equal(bad[0].identity, "resends = necessaryResends + redundantResends");
 * ```
 */
export function accountingFailures(r: RunReport): AccountingFailure[] {
  const out: AccountingFailure[] = [];
  const eq = (identity: string, left: number, right: number) => {
    if (left !== right) out.push({ identity, left, right });
  };
  const near = (identity: string, left: number, right: number) => {
    const slack = Number.isInteger(r.config.startNs) ? 0 : 1e-6 * (r.perRound.length + 2);
    if (!(Math.abs(left - right) <= slack)) out.push({ identity, left, right });
  };
  const atMost = (identity: string, left: number, right: number) => {
    if (!(left <= right)) out.push({ identity, left, right });
  };
  const c = r.config, rows = r.perRound;
  const wire = c.pageSize + c.pageHeader;

  eq(
    "pagesSent = normalPagesSent + zeroPagesSent",
    r.pagesSent,
    r.normalPagesSent + r.zeroPagesSent,
  );
  eq("pagesSent = uniquePagesSent + resends", r.pagesSent, r.uniquePagesSent + r.resends);
  eq(
    "resends = necessaryResends + redundantResends",
    r.resends,
    r.necessaryResends + r.redundantResends,
  );
  eq("uniquePagesSent = config.pages (every frame is sent)", r.uniquePagesSent, c.pages);
  if (r.verified) {
    // each overwritten copy was replaced exactly once more
    eq("wastedSends = necessaryResends (a verified run)", r.wastedSends, r.necessaryResends);
  }
  eq("verified = (mismatchedFrames = 0)", r.verified ? 0 : 1, r.mismatchedFrames === 0 ? 0 : 1);
  eq(
    "bytesSent = normalPagesSent × (pageSize + pageHeader) + zeroPagesSent × zeroMarker + deviceState",
    r.bytesSent,
    r.normalPagesSent * wire + r.zeroPagesSent * c.zeroMarker + c.deviceState,
  );
  eq("rounds = perRound.length", r.rounds, rows.length);
  eq("syncs = rounds + 2", r.syncs, r.rounds + 2);
  atMost("rounds ≤ config.maxRounds", r.rounds, c.maxRounds);
  eq(
    "Σ perRound[].sent + stopCopyPages = pagesSent",
    sum(rows.map((x) => x.sent)) + r.stopCopyPages,
    r.pagesSent,
  );
  for (const x of rows) {
    eq(`perRound[${x.round - 1}].deferred = offered − sent`, x.deferred, x.offered - x.sent);
  }
  atMost("wastedSends ≤ guestWrites", r.wastedSends, r.guestWrites);
  eq(
    "missedUpdates = tracker.missedUpdates + profiling.missedUpdates",
    r.missedUpdates,
    r.tracker.missedUpdates + r.profiling.missedUpdates,
  );
  if (rows.length > 0) {
    // The setup sync ends where round 1 starts; each round starts where the last ended.
    for (let i = 1; i < rows.length; i++) {
      near(
        `perRound[${i}].startNs = perRound[${i - 1}].startNs + durationNs`,
        rows[i].startNs,
        rows[i - 1].startNs + rows[i - 1].durationNs,
      );
    }
    near(
      "totalTimeNs = setup sync + Σ perRound[].durationNs + downtimeNs",
      r.totalTimeNs,
      rows[0].startNs + sum(rows.map((x) => x.durationNs)) + r.downtimeNs,
    );
  }
  // downtime = final sync + stop-and-copy transfer (its pages and the device state at the
  // link rate, as the engine rounds it) + pause/resume; the final sync costs ≥ 0.
  const stopBytes = r.bytesSent - sum(rows.map((x) => x.bytes));
  const transferNs = Math.round(stopBytes * (1e9 / c.bandwidth));
  atMost(
    "stop-and-copy transfer + pause/resume ≤ downtimeNs (the rest is the final sync)",
    transferNs + Math.round(c.pauseResumeNs),
    r.downtimeNs,
  );
  atMost(
    "stopCopyPages × min(zeroMarker, page on the wire) + deviceState ≤ stop-and-copy bytes",
    r.stopCopyPages * Math.min(c.zeroMarker, wire) + c.deviceState,
    stopBytes,
  );
  return out;
}

/**
 * Throws when a report's accounting does not add up (see {@link accountingFailures}).
 *
 * @param r the report
 * @throws {PrecopyError} of kind `verification`, naming the first identity that fails and
 * its two values
 *
 * @example Usage
 * ```ts
 * import { checkAccounting } from "./accounting.ts";
 * import { simulate } from "./engine.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const r = simulate({
 *   workload: parseWorkload("idle"),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 64 },
 * });
 * assert.throws(() => checkAccounting({ ...r, syncs: 9 }), /syncs = rounds \+ 2: 9 ≠ 3/);
 * ```
 */
export function checkAccounting(r: RunReport): void {
  const bad = accountingFailures(r);
  if (bad.length === 0) return;
  const f = bad[0];
  const op = f.identity.includes("≤") ? "≰" : "≠";
  throw new PrecopyError(
    "verification",
    `accounting check failed: ${f.identity}: ${f.left} ${op} ${f.right}` +
      (bad.length > 1 ? ` (and ${bad.length - 1} more)` : "") +
      " — the engine's counts disagree, so this run's numbers would be wrong (a bug in precopy-lab)",
  );
}
