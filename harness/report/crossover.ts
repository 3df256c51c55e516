/**
 * Where the seed paper's second claim — EPT A/D profiling is nearly free, cheaper than
 * write-protection profiling — would fail: for a workload and a configuration, the factor
 * by which one tracker cost must change before `ept-ad`'s profiling costs as much as
 * `wp`'s ({@link findCrossover}). Cost here is guest overhead plus host CPU over the
 * profiled span (`report.profiling`), both trackers charged with the same scaled cost, as
 * they would run on the same hardware.
 *
 * @module
 */

import { type ConfigInput, resolveConfig } from "../config.ts";
import { simulate } from "../engine/engine.ts";
import type { LoadedPolicy } from "../policy/contract.ts";
import type { Workload } from "../workloads/workload.ts";

/** A time-valued tracker cost that {@link findCrossover} can scale. */
export type ScalableCost =
  | "exitNs"
  | "wpFaultNs"
  | "scanEntryNs"
  | "flushHostNs"
  | "flushGuestNs"
  | "walkNs";

/** What one tracker's profiling cost over the profiled span. */
export interface ProfilingCost {
  /** Guest time lost, ns. */
  guestNs: number;
  /** Host CPU time, ns. */
  hostNs: number;
  /** Their sum, ns: what the comparison uses. */
  totalNs: number;
}

/** Inputs of {@link findCrossover}. */
export interface CrossoverInput {
  /** The guest's accesses. */
  workload: Workload;
  /** Any policy: the migration after the profiled span plays no part. */
  policy: LoadedPolicy;
  /** The configuration; `startNs` is the profiled span. */
  config?: ConfigInput;
  /** The cost to scale. */
  cost: ScalableCost;
  /** Relative precision of the factor found (default 0.01). */
  precision?: number;
}

/** Where ept-ad stops (or starts) being the cheaper profiler. */
export interface Crossover {
  /** The cost scaled. */
  cost: ScalableCost;
  /** Its configured value, ns. */
  baseNs: number;
  /** Whether ept-ad is cheaper than wp at the configured costs: the claim holds there. */
  holds: boolean;
  /**
   * The factor on the cost at which the comparison flips (ept-ad's total reaches wp's if
   * it `holds`, falls below it otherwise), to within the precision; `null` when it does
   * not flip between 2^-20 and 2^20 times the configured value.
   */
  factor: number | null;
  /** The cost at the flip (`baseNs × factor`), ns; `null` with `factor`. */
  atNs: number | null;
  /** ept-ad's profiling cost at the configured costs. */
  eptAd: ProfilingCost;
  /** wp's profiling cost at the configured costs. */
  wp: ProfilingCost;
  /** Simulations run to find it. */
  runs: number;
}

/** The search stops at these factors. */
const MIN_FACTOR = 2 ** -20, MAX_FACTOR = 2 ** 20;

/**
 * One tracker's profiling cost over the span before migration (`config.startNs`). The
 * migration after it is made trivial (one round on a very fast link): the profiled span
 * does not depend on it.
 *
 * @param workload the guest's accesses
 * @param policy any policy
 * @param config the configuration
 * @param tracker the tracker
 * @returns guest, host and total cost, ns
 *
 * @example Usage
 * ```ts
 * import { profilingCost } from "./crossover.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const c = profilingCost(parseWorkload("uniform:rate=2k"), await loadPolicy("sequential"), {
 *   pages: 4096,
 *   startNs: 1e9,
 * }, "wp");
 * assert.equal(c.totalNs, c.guestNs + c.hostNs);
 * assert.ok(c.guestNs > 0); // write-protection faults
 * ```
 */
export function profilingCost(
  workload: Workload,
  policy: LoadedPolicy,
  config: ConfigInput,
  tracker: string,
): ProfilingCost {
  const r = simulate({
    workload,
    policy,
    config: {
      ...config,
      tracker,
      bandwidth: 1e15,
      maxRounds: 1,
      iteration: "drain",
      clear: "round",
      autoConverge: false,
    },
  });
  const guestNs = r.profiling.guestOverheadNs, hostNs = r.profiling.hostCpuNs;
  return { guestNs, hostNs, totalNs: guestNs + hostNs };
}

/**
 * Finds the factor on one tracker cost at which `ept-ad`'s profiling stops being cheaper
 * than `wp`'s (or, where it is not cheaper to begin with, starts being so): the
 * difference of their costs is computed at the configured costs and at twice them, the
 * factor is stepped by 4 in the direction that closes the gap until the sign flips, and
 * the flip is then narrowed by false position (Illinois) to `precision`. The difference
 * is close to linear in the factor, so a handful of runs suffice; it is assumed to flip
 * once in the searched range.
 *
 * @param input workload, policy, configuration, the cost to scale
 * @returns the crossover
 *
 * @example Usage
 * ```ts
 * import { findCrossover } from "./crossover.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const x = findCrossover({
 *   workload: parseWorkload("hotcold:rate=40k,hot=15%,hotShare=95%"),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 16384, startNs: 1e9 },
 *   cost: "scanEntryNs",
 * });
 * assert.ok(x.holds); // ept-ad is the cheaper profiler at the default costs
 * assert.ok(x.factor! > 1); // until a scan entry costs factor × 2 ns
 * ```
 */
export function findCrossover(input: CrossoverInput): Crossover {
  const { workload, policy, cost } = input, config = input.config ?? {};
  const precision = input.precision ?? 0.01;
  const baseNs = resolveConfig(config).trackerCosts[cost]; // (checks the configuration)
  let runs = 0;
  const at = (factor: number) => {
    const c = { ...config, trackerCosts: { ...config.trackerCosts, [cost]: baseNs * factor } };
    runs += 2;
    const e = profilingCost(workload, policy, c, "ept-ad");
    const w = profilingCost(workload, policy, c, "wp");
    return { e, w, gap: e.totalNs - w.totalNs };
  };
  const one = at(1), holds = one.gap < 0;
  const flipped = (gap: number) => holds ? gap >= 0 : gap < 0;
  const done = (factor: number | null): Crossover => ({
    cost,
    baseNs,
    holds,
    factor,
    atNs: factor === null ? null : baseNs * factor,
    eptAd: one.e,
    wp: one.w,
    runs,
  });
  if (baseNs === 0) return done(null); // scaling zero changes nothing
  // Which way closes the gap: up if doubling the cost moves the gap towards the flip.
  const two = at(2).gap;
  if (two === one.gap) return done(null); // the cost does not matter here
  const up = holds ? two > one.gap : two < one.gap;
  let a = 1, fa = one.gap, b = up ? 2 : 0.25, fb = up ? two : at(0.25).gap;
  while (!flipped(fb)) {
    a = b, fa = fb;
    b = up ? b * 4 : b / 4;
    if (b > MAX_FACTOR || b < MIN_FACTOR) return done(null);
    fb = at(b).gap;
  }
  // The flip lies between a (not flipped) and b (flipped): false position, Illinois.
  let side = 0;
  while (Math.abs(b - a) > precision * Math.min(a, b)) {
    let m = b - fb * (b - a) / (fb - fa);
    if (!(m > Math.min(a, b) && m < Math.max(a, b))) m = (a + b) / 2;
    const fm = at(m).gap;
    if (flipped(fm)) {
      b = m, fb = fm;
      if (side === -1) fa /= 2;
      side = -1;
    } else {
      a = m, fa = fm;
      if (side === 1) fb /= 2;
      side = 1;
    }
  }
  return done(b);
}
