/**
 * Bounds versus future-informed heuristics (docs/bounds.md).
 *
 * A policy that reads the future is reported as a *bound* only in a run whose regime its
 * declaration covers ({@link policyRole}); elsewhere it is a *future-informed heuristic*.
 * {@link stopCopyFloor} is a bound that is not a policy: a lower bound on the pages any
 * policy must send in stop-and-copy, computed from the workload's writes alone.
 *
 * @module
 */

import type { BoundDeclaration, BoundRegime } from "./policy/contract.ts";
import { OP_WRITE, type Workload } from "./workloads/workload.ts";

/** How a run's policy is reported. */
export type PolicyRole = "contender" | "bound" | "future-informed heuristic";

/** What {@link policyRole} needs to know about a run. */
export interface RunFacts {
  /** The iteration rule. */
  iteration: string;
  /** The clear mode as configured. */
  clear: string;
  /** The round limit. */
  maxRounds: number;
  /** Every tracker cost is zero and auto-converge is off. */
  freeTracking: boolean;
  /** Some frame started as a zero page. */
  zeroPages: boolean;
}

function covers(r: BoundRegime, f: RunFacts): boolean {
  return (r.iteration === undefined || r.iteration === f.iteration) &&
    (r.clear === undefined || r.clear === f.clear) &&
    (r.maxRounds === undefined || r.maxRounds === f.maxRounds) &&
    (r.freeTracking !== true || f.freeTracking) &&
    (r.noZeroPages !== true || !f.zeroPages);
}

/**
 * How a policy is reported in a run: a `bound` where one of its declared regimes covers
 * the run, a `future-informed heuristic` if it reads the future anywhere else, else a
 * `contender`.
 *
 * @param meta the policy's `oracle` capability and `bound` declaration
 * @param facts the run's regime
 * @returns the role
 *
 * @example Usage
 * ```ts
 * import { policyRole } from "./bounds.ts";
 * import assert from "node:assert/strict";
 * const meta = {
 *   oracle: true,
 *   bound: {
 *     quantity: "stopCopyPages" as const,
 *     against: "permutations" as const,
 *     regimes: [{ maxRounds: 1 }],
 *     proof: "docs/bounds.md",
 *   },
 * };
 * const facts = { iteration: "drain", clear: "send", maxRounds: 1, freeTracking: false, zeroPages: false };
 * assert.equal(policyRole(meta, facts), "bound");
 * assert.equal(policyRole(meta, { ...facts, maxRounds: 5 }), "future-informed heuristic");
 * assert.equal(policyRole({}, facts), "contender");
 * ```
 */
export function policyRole(
  meta: { oracle?: boolean; bound?: BoundDeclaration },
  facts: RunFacts,
): PolicyRole {
  if (meta.bound && meta.bound.regimes.some((r) => covers(r, facts))) return "bound";
  return meta.oracle || meta.bound ? "future-informed heuristic" : "contender";
}

/** Inputs of {@link stopCopyFloor}. */
export interface FloorInput {
  /** The workload, opened as the runs opened it. */
  workload: Workload;
  /** Guest frames. */
  pages: number;
  /** The runs' seed. */
  seed: number;
  /** Wire time of one full page (content and header) in ns: `(pageSize + header) / rate`. */
  slotNs: number;
  /** Earliest pause (the final sync) of the runs covered, ns of simulated time. */
  fromNs: number;
  /** Latest pause of the runs covered, ns (≥ fromNs). */
  toNs: number;
  /**
   * The most guest time any covered run lost to stalls (tracker exits and refills, warm-up
   * included), ns. 0 for stall-free runs.
   */
  stallNs: number;
}

/** A lower bound on stop-and-copy pages, with the window that gives it. */
export interface Floor {
  /** No covered run sends fewer pages in stop-and-copy. */
  pages: number;
  /** The window, in slots, that gives the bound (0 when the bound is 0). */
  slots: number;
}

/**
 * A lower bound on the pages *any* policy sends in stop-and-copy, for every run that
 * pauses (final sync) at a time T in `[fromNs, toNs]` and loses at most `stallNs` of
 * guest time: `max over k of min over T of (frames written in the last k slots before
 * T) − (k − 1)`.
 *
 * Why it holds (docs/bounds.md): the run verifies, so every frame written before the
 * pause is either sent after its last write or sent in stop-and-copy. A frame last written
 * in `[T − kσ, T)` (σ = one full page's wire time, less 1 ns for rounding) can only be
 * saved by a send that starts after that write and ends by T; such sends carry written
 * (hence full) pages one after another, so at most k − 1 of them fit, whatever the order,
 * the deferrals, the clear mode or the iteration rule. Stalls only slow the guest: a
 * wall-time window of kσ holds at least the writes of a workload-time window of
 * kσ − stallNs ending within stallNs before T.
 * Needs auto-converge off (a throttled guest also lags the wall clock).
 *
 * Cost: one pass over the workload up to the latest pause, one backward walk from the
 * earliest, then a sweep over the writes in range for each window length (every length to
 * 16 slots, then about 8 per doubling) that could still beat the best found — few, as they
 * are tried in order of their value at the earliest pause.
 *
 * @param input the workload, the runs' pause range, slot time and stall
 * @returns the floor in pages
 *
 * @example Usage
 * ```ts
 * import { stopCopyFloor } from "./bounds.ts";
 * import { scriptedWorkload } from "./workloads/workload.ts";
 * import assert from "node:assert/strict";
 * // three frames written within the last three slots (1 µs each) before a pause at 10 µs:
 * // at most two sends fit after those writes, so at least one frame is left over.
 * const w = scriptedWorkload([[8_000, 0, "w"], [8_500, 1, "w"], [9_900, 2, "w"]]);
 * const f = stopCopyFloor({
 *   workload: w, pages: 4, seed: 1, slotNs: 1000, fromNs: 10_000, toNs: 10_000, stallNs: 0,
 * });
 * assert.equal(f.pages, 1);
 * ```
 */
export function stopCopyFloor(input: FloorInput): Floor {
  const { workload, pages, seed, slotNs, fromNs, toNs, stallNs } = input;
  if (!(slotNs > 1) || !(toNs >= fromNs) || !(stallNs >= 0)) {
    throw new RangeError("stopCopyFloor: needs slotNs > 1, toNs ≥ fromNs, stallNs ≥ 0");
  }
  // Send times are rounded to whole ns, so two sends' starts may be 1 ns closer than a
  // slot: k saving sends need more than k × (slotNs − 1) of room.
  const room = slotNs - 1;
  // Windows of k slots, k from 1 up to the guest's size (a window holds ≤ pages frames,
  // so a longer one cannot do better): every k to 16, then about 8 per doubling.
  const ks: number[] = [];
  for (let k = 1; k <= pages; k = k < 16 ? k + 1 : Math.ceil(k * 1.09)) ks.push(k);
  const maxLen = pages * room;
  // The pause, in the workload's time, lies in [lo, hi]; windows reach back maxLen.
  const lo = fromNs - stallNs, hi = toNs;
  const t: number[] = [], p: number[] = [];
  const s = workload.open(pages, seed);
  try {
    outer: for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++) {
        const tt = c.t[i];
        if (tt >= hi) break outer;
        if (tt >= lo - maxLen && c.op[i] === OP_WRITE) {
          t.push(tt);
          p.push(c.pfn[i]);
        }
      }
    }
  } finally {
    s.close?.();
  }
  const n = t.length;
  const count = new Uint32Array(pages);
  // The min over T is at most the value at T = lo: one backward walk gives that for every
  // window, and the windows are swept best-first, so most are dropped without a sweep.
  const atLo = new Float64Array(ks.length);
  {
    let j = 0;
    while (j < n && t[j] < lo) j++;
    let distinct = 0;
    for (let q = 0; q < ks.length; q++) {
      const w = ks[q] * room - stallNs;
      while (j > 0 && w > 0 && t[j - 1] >= lo - w) if (count[p[--j]]++ === 0) distinct++;
      atLo[q] = w > 0 ? distinct - (ks[q] - 1) : -Infinity;
    }
  }
  const order = ks.map((_, q) => q).sort((a, b) => atLo[b] - atLo[a]);
  let best = 0, bestK = 0;
  for (const q of order) {
    const k = ks[q];
    if (atLo[q] <= best) break; // (sorted: no later window can do better either)
    const w = k * room - stallNs; // the shortest workload-time window a run may see
    count.fill(0);
    let distinct = 0, enter = 0, exit = 0;
    // the window [τ − w, τ) at τ = lo: writes with lo − w ≤ t < lo
    while (exit < n && t[exit] < lo - w) exit++;
    enter = exit;
    while (enter < n && t[enter] < lo) if (count[p[enter++]]++ === 0) distinct++;
    // leave writes that are before lo − w (none were entered)
    let min = distinct;
    // then just after every change point c in [lo, hi): an entry at t, or an exit at t + w
    for (;;) {
      const nextIn = enter < n ? t[enter] : Infinity;
      const nextOut = exit < enter ? t[exit] + w : Infinity;
      const c = Math.min(nextIn, nextOut);
      if (!(c < hi)) break;
      while (enter < n && t[enter] <= c) if (count[p[enter++]]++ === 0) distinct++;
      while (exit < enter && t[exit] + w <= c) if (--count[p[exit++]] === 0) distinct--;
      if (distinct < min) min = distinct;
      if (min - (k - 1) <= best) break;
    }
    if (min - (k - 1) > best) {
      best = min - (k - 1);
      bestK = k;
    }
  }
  return { pages: best, slots: bestK };
}
