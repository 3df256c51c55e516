/**
 * The bounds a study checks (docs/bounds.md): per cell (workload × setting), the
 * stop-and-copy floor — a proven lower bound on every policy's stop-and-copy pages and
 * downtime, computed from the workload's writes alone — and, on every replicate, that no
 * run beats the floor and no contender beats a policy on the quantity its declared bound
 * bounds, in a run where that bound holds. A violation would be a bug in the engine, a
 * policy or a proof: the study reports it loudly.
 *
 * Like the rest of the summary, this is a pure function of the plan and the runs (the
 * workloads are re-read, never the clock), so shards merged give the same bytes.
 *
 * @module
 */

import { stopCopyFloor } from "../bounds.ts";
import type { RunReport } from "../engine/run_report.ts";
import type { BoundQuantity } from "../policy/contract.ts";
import { parseWorkload } from "../workloads/spec.ts";
import type { Workload } from "../workloads/workload.ts";
import type { RunRecord } from "./runner.ts";
import type { StudyPlan } from "./spec.ts";
import { describe, type Sample } from "./stats.ts";

/** The floor of one replicate of a cell: one workload instance, every policy's run. */
export interface ReplicateFloor {
  /** Replicate number, from 0. */
  replicate: number;
  /** No run of the replicate sends fewer pages in stop-and-copy. */
  stopCopyPages: number;
  /** No run of the replicate has less downtime, ns (those pages, device state, pause/resume). */
  downtimeNs: number;
  /** Earliest pause (final sync) of the replicate's runs, ns of simulated time. */
  fromNs: number;
  /** Latest pause, ns. */
  toNs: number;
  /** Most guest time a run of the replicate lost to tracking stalls, ns. */
  stallNs: number;
}

/** The stop-and-copy floor of a cell, over its replicates. */
export interface CellFloor {
  /** Workload name. */
  workload: string;
  /** Axis values. */
  setting: Record<string, string>;
  /** Setting label. */
  settingLabel: string;
  /** The floor's stop-and-copy pages over the replicates (absent: see `reason`). */
  stopCopyPages?: Sample;
  /** The floor's downtime over the replicates, ns. */
  downtimeNs?: Sample;
  /** Fewest stop-and-copy pages of a contender's run in the cell (how tight the floor is). */
  contenderMin?: number;
  /** Per replicate. */
  replicates: ReplicateFloor[];
  /** Why there is no floor (auto-converge on, the workload cannot be read here). */
  reason?: string;
}

/** A run that beats a bound: a bug in the engine, a policy or a proof. */
export interface Violation {
  /** Workload name. */
  workload: string;
  /** Setting label. */
  setting: string;
  /** Replicate number, from 0. */
  replicate: number;
  /** The run's policy (label). */
  policy: string;
  /** The quantity compared. */
  quantity: BoundQuantity;
  /** The run's value. */
  value: number;
  /** The bound's value. */
  bound: number;
  /** What bounds it: `stop-copy floor`, or the label of the policy whose bound it is. */
  by: string;
  /** One line saying all of that. */
  message: string;
}

/** The bounds of a study: floors per cell and what their checks found. */
export interface BoundChecks {
  /** One per cell (workload × setting) with runs. */
  floors: CellFloor[];
  /** Runs compared with their replicate's floor. */
  floorRuns: number;
  /** Pairs (a bound's run, a contender's run on the same replicate) compared. */
  boundPairs: number;
  /** Every run found beating a bound (empty unless something is wrong). */
  violations: Violation[];
}

/** Pause and stall of a replicate's runs, and the config the floor needs. */
function envelope(reports: RunReport[]) {
  const pause = reports.map((r) => r.config.startNs + r.totalTimeNs - r.downtimeNs);
  return {
    fromNs: Math.min(...pause),
    toNs: Math.max(...pause),
    stallNs: Math.max(
      ...reports.map((r) => r.tracker.guestOverheadNs + r.profiling.guestOverheadNs),
    ),
  };
}

/**
 * The floor of one replicate of a cell: {@link stopCopyFloor} over the envelope of the
 * runs (earliest to latest pause, the most stall any of them had), so it bounds every one
 * of them — and any policy pausing in that span.
 *
 * @param spec the workload spec the runs used (trace paths resolved), or the workload
 * @param reports the replicate's runs (same workload instance and setting)
 * @returns the floor, or a reason there is none
 *
 * @example Usage
 * ```ts
 * import { replicateFloor } from "./floors.ts";
 * import { loadPolicy, parseWorkload, simulate } from "../../mod.ts";
 * import assert from "node:assert/strict";
 * const spec = "hotcold:rate=20k,hot=10%,hotShare=95%";
 * const r = simulate({
 *   workload: parseWorkload(spec),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 2048, bandwidth: 8 << 20, maxRounds: 2 },
 * });
 * const f = replicateFloor(spec, [r]);
 * assert.ok(!("reason" in f) && f.stopCopyPages <= r.stopCopyPages);
 * ```
 */
export function replicateFloor(
  spec: string | Workload,
  reports: RunReport[],
): Omit<ReplicateFloor, "replicate"> | { reason: string } {
  const c = reports[0].config;
  // A throttled guest lags the wall clock: the window argument does not hold.
  if (reports.some((r) => r.config.autoConverge)) {
    return { reason: "auto-converge throttles the guest (the floor's argument needs it off)" };
  }
  const wire = c.pageSize + c.pageHeader;
  const slotNs = wire * 1e9 / c.bandwidth;
  const { fromNs, toNs, stallNs } = envelope(reports);
  let pages: number;
  try {
    pages = stopCopyFloor({
      workload: typeof spec === "string" ? parseWorkload(spec) : spec,
      pages: c.pages,
      seed: c.seed,
      slotNs,
      fromNs,
      toNs,
      stallNs,
    }).pages;
  } catch (e) {
    return { reason: `the workload could not be read for the floor: ${(e as Error).message}` };
  }
  // The engine rounds the transfer and the pause/resume to whole ns each: 1 ns of slack.
  const downtimeNs = Math.max(
    0,
    Math.floor((pages * wire + c.deviceState) * 1e9 / c.bandwidth + c.pauseResumeNs) - 1,
  );
  return { stopCopyPages: pages, downtimeNs, fromNs, toNs, stallNs };
}

const NAME: Record<BoundQuantity, string> = {
  stopCopyPages: "pages in stop-and-copy",
  downtimeNs: "ns of downtime",
  pagesSent: "pages sent",
};
const below = (where: string, q: BoundQuantity, v: number, by: string, b: number) =>
  `${where}: ${v.toLocaleString("en-US")} ${NAME[q]}, below ${by} of ${b.toLocaleString("en-US")}`;

/**
 * Computes every cell's floor and checks, replicate by replicate, that no run is below
 * its floor (stop-and-copy pages and downtime) and that no contender is below a policy's
 * declared bound on its quantity where the run's role is `bound` (for a bound `against`
 * permutations, only contender runs that deferred no frame are compared).
 *
 * @param plan the study
 * @param records its finished runs (any order)
 * @returns the floors and what the checks found
 *
 * @example Usage
 * ```ts ignore
 * const { floors, violations } = checkBounds(plan, records);
 * ```
 */
export function checkBounds(plan: StudyPlan, records: RunRecord[]): BoundChecks {
  const S = plan.settings.length, R = plan.seeds.length, P = plan.policies.length;
  // groups[(w*S + s)*R + r][p]: the record of each policy on one replicate of a cell
  const groups = new Map<number, (RunRecord | undefined)[]>();
  for (const rec of records) {
    const run = plan.runs[rec.index];
    if (run.kind !== "main") continue;
    const k = (run.workload * S + run.setting) * R + run.replicate;
    let g = groups.get(k);
    if (!g) groups.set(k, g = new Array(P));
    g[run.policy] = rec;
  }
  const floors: CellFloor[] = [];
  const violations: Violation[] = [];
  let floorRuns = 0, boundPairs = 0;
  for (const [w, wl] of plan.workloads.entries()) {
    for (const [s, st] of plan.settings.entries()) {
      const cell: CellFloor = {
        workload: wl.name,
        setting: st.values,
        settingLabel: st.label,
        replicates: [],
      };
      let any = false, contenderMin = Infinity;
      for (let r = 0; r < R; r++) {
        const g = groups.get((w * S + s) * R + r);
        const recs = g?.filter((x): x is RunRecord => x !== undefined) ?? [];
        if (recs.length === 0) continue;
        any = true;
        const where = (rec: RunRecord) =>
          `${wl.name}${st.label === "-" ? "" : ` [${st.label}]`} #${r + 1}: ${rec.policy}`;
        for (const rec of recs) {
          if (rec.report.policy.role === "contender") {
            contenderMin = Math.min(contenderMin, rec.report.stopCopyPages);
          }
        }
        // The floor: a bound on every run of the replicate.
        const f = replicateFloor(wl.spec, recs.map((x) => x.report));
        if ("reason" in f) cell.reason ??= f.reason;
        else {
          cell.replicates.push({ replicate: r, ...f });
          for (const rec of recs) {
            floorRuns++;
            for (const q of ["stopCopyPages", "downtimeNs"] as const) {
              const v = rec.report[q], b = f[q];
              if (v < b) {
                violations.push({
                  workload: wl.name,
                  setting: st.label,
                  replicate: r,
                  policy: rec.policy,
                  quantity: q,
                  value: v,
                  bound: b,
                  by: "stop-copy floor",
                  message: below(where(rec), q, v, "the stop-copy floor", b),
                });
              }
            }
          }
        }
        // Declared bounds: a run whose role is `bound` against the contenders' runs.
        for (const [p, b] of (g ?? []).entries()) {
          const decl = plan.policies[p].bound;
          if (!b || !decl || b.report.policy.role !== "bound") continue;
          const q = decl.quantity;
          for (const o of recs) {
            if (o.report.policy.role !== "contender") continue;
            if (decl.against === "permutations" && o.report.perRound.some((x) => x.deferred > 0)) {
              continue;
            }
            boundPairs++;
            if (o.report[q] < b.report[q]) {
              violations.push({
                workload: wl.name,
                setting: st.label,
                replicate: r,
                policy: o.policy,
                quantity: q,
                value: o.report[q],
                bound: b.report[q],
                by: plan.policies[p].label,
                message: below(
                  where(o),
                  q,
                  o.report[q],
                  `${plan.policies[p].label}'s bound (its run)`,
                  b.report[q],
                ),
              });
            }
          }
        }
      }
      if (!any) continue;
      if (cell.replicates.length) {
        cell.stopCopyPages = describe(cell.replicates.map((x) => x.stopCopyPages));
        cell.downtimeNs = describe(cell.replicates.map((x) => x.downtimeNs));
      }
      if (Number.isFinite(contenderMin)) cell.contenderMin = contenderMin;
      floors.push(cell);
    }
  }
  return { floors, floorRuns, boundPairs, violations };
}
