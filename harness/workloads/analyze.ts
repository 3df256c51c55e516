/**
 * Workload analysis in the terms a migration engineer uses: write rate over time, frames
 * touched, the writable-working-set curve N(t), hot/cold skew, and the pre-copy
 * convergence that N(t) predicts for a link and a downtime limit. One streaming pass over
 * the accesses; memory is a few numbers per frame.
 *
 * N(t) is the mean, over every window start s in [0, T − t], of the distinct frames
 * written in [s, s + t). It is computed exactly: a write at w to a frame last written at
 * w′ adds the starts in (max(w − t, w′), w] ∩ [0, T − t] to that frame's covered set.
 *
 * @module
 */

import { OP_WRITE, type Workload } from "./workload.ts";

/** One point of the working-set curve. */
export interface WorkingSetPoint {
  /** Window length, ns. */
  windowNs: number;
  /** Mean distinct frames written in a window of that length. */
  frames: number;
}

/** The pre-copy convergence N(t) predicts (QEMU's `predict_migration.py` loop). */
export interface Prediction {
  /** Link rate, bytes per second. */
  bandwidth: number;
  /** Downtime limit, ns. */
  downtimeLimitNs: number;
  /** Whether some round leaves less than bandwidth × limit. */
  converges: boolean;
  /** Rounds before the pause (capped at 30). */
  rounds: number;
  /** Predicted downtime, ns. */
  downtimeNs: number;
  /** Predicted total time, ns. */
  totalTimeNs: number;
  /** Frames sent in each round, the last being stop-and-copy. */
  roundFrames: number[];
}

/** What {@link analyzeWorkload} reports. */
export interface Analysis {
  /** The workload's name. */
  workload: string;
  /** Guest frames analysed. */
  frames: number;
  /** The span analysed, ns. */
  durationNs: number;
  /** Accesses and writes in the span. */
  accesses: number;
  /** Writes in the span. */
  writes: number;
  /** Mean writes per second. */
  writeRate: number;
  /** Distinct frames written / accessed. */
  framesWritten: number;
  /** Distinct frames accessed (read or written). */
  framesAccessed: number;
  /** Frames holding only zeros at the start. */
  zeroFrames: number;
  /** Writes per second in equal time buckets. */
  writeRateOverTime: { startNs: number; writesPerSecond: number }[];
  /** Share of writes to the hottest 1 %, 5 % and 20 % of the frames. */
  skew: { hottest1: number; hottest5: number; hottest20: number };
  /** The writable-working-set curve, from 1 ms to the whole span. */
  workingSet: WorkingSetPoint[];
  /** Predicted convergence. */
  prediction: Prediction;
}

/** Window lengths of N(t): 1, 2, 5 × 10^k ms up to the span, and the span itself. */
function windows(durationNs: number): number[] {
  const out: number[] = [];
  for (let decade = 1e6; decade <= durationNs; decade *= 10) {
    for (const m of [1, 2, 5]) if (m * decade < durationNs) out.push(m * decade);
  }
  out.push(durationNs);
  return out;
}

/**
 * Interpolates N(t) (linearly between measured windows; flat beyond the span).
 *
 * @param curve the measured curve, ascending
 * @param t window length, ns
 * @returns frames
 *
 * @example Usage
 * ```ts
 * import { workingSetAt } from "./analyze.ts";
 * import assert from "node:assert/strict";
 * const curve = [{ windowNs: 10, frames: 5 }, { windowNs: 20, frames: 9 }];
 * assert.equal(workingSetAt(curve, 15), 7);
 * assert.equal(workingSetAt(curve, 99), 9);
 * assert.equal(workingSetAt(curve, 5), 2.5);
 * ```
 */
export function workingSetAt(curve: WorkingSetPoint[], t: number): number {
  if (curve.length === 0 || t <= 0) return 0;
  if (t <= curve[0].windowNs) return curve[0].frames * t / curve[0].windowNs;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1], b = curve[i];
    if (t <= b.windowNs) {
      return a.frames + (b.frames - a.frames) * (t - a.windowNs) / (b.windowNs - a.windowNs);
    }
  }
  return curve[curve.length - 1].frames;
}

/**
 * Predicts pre-copy from N(t), as QEMU's predictor does: round 0 sends every non-zero
 * frame in full (zero frames as markers); each later round sends N(duration of the
 * previous round); the guest pauses once a round would fit the downtime limit, or after
 * 30 rounds.
 *
 * @param curve the working-set curve
 * @param frames guest frames
 * @param zeroFrames frames holding only zeros at the start
 * @param options link, limit and page sizes
 * @returns the prediction
 *
 * @example Usage
 * ```ts
 * import { predictPrecopy } from "./analyze.ts";
 * import assert from "node:assert/strict";
 * // a guest that dirties nothing converges in one round
 * const p = predictPrecopy([{ windowNs: 1e9, frames: 0 }], 1000, 0, { bandwidth: 4104e6 });
 * assert.equal(p.converges, true);
 * assert.equal(p.rounds, 1);
 * assert.equal(p.totalTimeNs, 1_000_000);
 * ```
 */
export function predictPrecopy(
  curve: WorkingSetPoint[],
  frames: number,
  zeroFrames: number,
  options: { bandwidth: number; downtimeLimitNs?: number; pageSize?: number; pageHeader?: number },
): Prediction {
  const bw = options.bandwidth, limit = options.downtimeLimitNs ?? 300e6;
  const wire = (options.pageSize ?? 4096) + (options.pageHeader ?? 8);
  const ns = (bytes: number) => bytes / bw * 1e9;
  // Round 1 sends every frame; each later round sends what the previous one let the guest
  // dirty; the last entry of roundFrames is what stop-and-copy sends.
  let duration = ns((frames - zeroFrames) * wire + zeroFrames * 9);
  let elapsed = duration, pending = 0, converges = false;
  const roundFrames = [frames];
  for (let round = 1;; round++) {
    pending = Math.min(frames, workingSetAt(curve, duration));
    if (ns(pending * wire) <= limit) {
      converges = true;
      break;
    }
    if (round >= 30) break;
    roundFrames.push(pending);
    duration = ns(pending * wire);
    elapsed += duration;
  }
  const downtimeNs = ns(pending * wire);
  roundFrames.push(pending);
  return {
    bandwidth: bw,
    downtimeLimitNs: limit,
    converges,
    rounds: roundFrames.length - 1,
    downtimeNs,
    totalTimeNs: elapsed + downtimeNs,
    roundFrames: roundFrames.map((x) => Math.round(x)),
  };
}

/**
 * Analyses a workload over `[0, durationNs)` (a trace: its whole length by default).
 *
 * @param workload the workload
 * @param options `pages` (guest frames; a trace's own by default), `durationNs` (for
 * generators, default 10 s), `seed`, `buckets` of the rate-over-time series (20),
 * `bandwidth` and `downtimeLimitNs` for the prediction
 * @returns the analysis
 *
 * @example Usage
 * ```ts
 * import { analyzeWorkload } from "./analyze.ts";
 * import { parseWorkload } from "./spec.ts";
 * import assert from "node:assert/strict";
 * // a sweep writing 1000 frames/s over 100 frames: any 50 ms window holds 50 frames
 * const a = analyzeWorkload(parseWorkload("sequential:rate=1k"), { pages: 100, durationNs: 1e9 });
 * assert.equal(a.writes, 1000);
 * assert.ok(Math.abs(a.workingSet.find((p) => p.windowNs === 50e6)!.frames - 50) < 0.1);
 * ```
 */
export function analyzeWorkload(
  workload: Workload,
  options: {
    pages?: number;
    durationNs?: number;
    seed?: number;
    buckets?: number;
    bandwidth?: number;
    downtimeLimitNs?: number;
  } = {},
): Analysis {
  const pages = options.pages ?? Math.max(workload.minPages, 1);
  const seed = options.seed ?? 1;
  const T = options.durationNs ??
    (Number.isFinite(workload.endNs) ? Math.max(workload.endNs + 1, 1e6) : 10e9);
  const grid = windows(T);
  const cover = new Float64Array(grid.length);
  const last = new Float64Array(pages).fill(-Infinity);
  const counts = new Uint32Array(pages);
  const accessed = new Uint8Array(pages);
  const nb = options.buckets ?? 20;
  const bucket = new Float64Array(nb);
  let accesses = 0, writes = 0, framesAccessed = 0;
  const s = workload.open(pages, seed);
  try {
    outer: for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++) {
        const w = c.t[i];
        if (w >= T) break outer;
        const p = c.pfn[i];
        accesses++;
        if (!accessed[p]) accessed[p] = 1, framesAccessed++;
        if (c.op[i] !== OP_WRITE) continue;
        writes++;
        counts[p]++;
        bucket[Math.min(nb - 1, Math.floor(w / T * nb))]++;
        const prev = last[p];
        for (let k = 0; k < grid.length; k++) {
          const t = grid[k];
          const lo = Math.max(w - t, prev, 0), hi = Math.min(w, T - t);
          if (hi > lo) cover[k] += hi - lo;
        }
        last[p] = w;
      }
    }
  } finally {
    s.close?.();
  }
  let framesWritten = 0;
  for (let p = 0; p < pages; p++) if (counts[p]) framesWritten++;
  const workingSet = grid.map((t, k) => ({
    windowNs: t,
    frames: t === T ? framesWritten : cover[k] / (T - t),
  }));
  const sorted = counts.slice().sort().reverse();
  const share = (f: number) => {
    const n = Math.max(1, Math.round(pages * f));
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    return writes ? sum / writes : 0;
  };
  const zero = workload.zeroMap(pages, seed);
  const zeroFrames = zero ? zero.reduce((a, b) => a + b, 0) : 0;
  return {
    workload: workload.name,
    frames: pages,
    durationNs: T,
    accesses,
    writes,
    writeRate: writes / (T / 1e9),
    framesWritten,
    framesAccessed,
    zeroFrames,
    writeRateOverTime: [...bucket].map((n, i) => ({
      startNs: Math.round(i * T / nb),
      writesPerSecond: n / (T / nb / 1e9),
    })),
    skew: { hottest1: share(0.01), hottest5: share(0.05), hottest20: share(0.2) },
    workingSet,
    prediction: predictPrecopy(workingSet, pages, zeroFrames, {
      bandwidth: options.bandwidth ?? 128 * 1024 * 1024,
      downtimeLimitNs: options.downtimeLimitNs,
    }),
  };
}
