/**
 * Fitting a generator to a trace, so that a small real recording can drive a guest of any
 * size: `--workload fit:fixtures/traces/gcc.pctrace,memory=16GiB`.
 *
 * The model is a mixture of sweep classes: n_k frames, each rewritten every P_k (a sweep
 * through the class in a scattered order), whose working set is N(t) = Σ n_k min(1, t/P_k).
 * Non-negative sums of such hinges can follow any concave increasing piecewise-linear
 * curve, the shape measured working sets have; random (Poisson) classes could not follow
 * the sweeps real programs make. The periods are fixed on a log scale from well below
 * 1 ms to the trace's length, and the class sizes n_k ≥ 0 are fitted to the trace's N(t) by
 * non-negative least squares on the relative error (multiplicative updates). A trace
 * sampled at a tick q (the `wp` recorder's interval) is fitted and replayed with the same
 * stamping. Scaling to `memory` multiplies every n_k, and so N(t), by memory / trace frames.
 *
 * @module
 */

import { analyzeWorkload, type WorkingSetPoint } from "./analyze.ts";
import { PrecopyError } from "../errors.ts";
import { createRng, mixSeed, shuffle } from "../rng.ts";
import { openTrace } from "../trace/trace.ts";
import { parseSize } from "../units.ts";
import { type AccessChunk, type AccessStream, OP_WRITE, type Workload } from "./workload.ts";

/** One class of a fitted model: frames each rewritten `rate` times per second. */
export interface RateClass {
  /** Frames in the class (already scaled). */
  frames: number;
  /** Writes per second to each of them (1 / the sweep period). */
  rate: number;
}

/** A fitted model. */
export interface FitModel {
  /** The trace it was fitted to. */
  trace: string;
  /** Frames of the trace. */
  traceFrames: number;
  /** Scale applied (target frames / trace frames). */
  scale: number;
  /** The rate classes, scaled. */
  classes: RateClass[];
  /** The trace's measured curve (unscaled). */
  measured: WorkingSetPoint[];
  /** The trace's time stamping tick, ns (0: continuous); the generator stamps the same way. */
  quantumNs: number;
}

const CLASSES = 48;

/**
 * Expected N(t) of a set of rate classes.
 *
 * @param classes the classes
 * @param tNs window length, ns
 * @param quantumNs when writes are stamped at the ends of ticks of this length (as the
 * `wp` recorder does), the tick; 0 for continuous time
 * @returns expected distinct frames written in a window
 *
 * @example Usage
 * ```ts
 * import { modelWorkingSet } from "./fit.ts";
 * import assert from "node:assert/strict";
 * // 100 frames swept once a second: half of them in any half second
 * assert.equal(modelWorkingSet([{ frames: 100, rate: 1 }], 0.5e9), 50);
 * assert.equal(modelWorkingSet([{ frames: 100, rate: 1 }], 2e9), 100);
 * ```
 */
export function modelWorkingSet(classes: RateClass[], tNs: number, quantumNs = 0): number {
  const m = (x: number) => {
    let n = 0;
    for (const c of classes) n += c.frames * Math.min(1, c.rate * x / 1e9);
    return n;
  };
  if (!(quantumNs > 0)) return m(tNs);
  // A window covers ⌊t/q⌋ or ⌈t/q⌉ ticks of q, the latter with probability frac(t/q).
  const k = Math.floor(tNs / quantumNs), f = tNs / quantumNs - k;
  return (1 - f) * m(k * quantumNs) + f * m((k + 1) * quantumNs);
}

/**
 * Fits rate classes to a measured working-set curve.
 *
 * @param measured N(t) points (the trace's), ascending
 * @param durationNs the trace's span
 * @param quantumNs the trace's time stamping tick (0: continuous)
 * @returns classes, unscaled, with fractional frame counts
 *
 * @example Usage
 * ```ts
 * import { fitCurve, modelWorkingSet } from "./fit.ts";
 * import assert from "node:assert/strict";
 * const truth = [{ frames: 500, rate: 50 }, { frames: 2000, rate: 0.5 }]; // two sweeps
 * const measured = [1e6, 1e7, 1e8, 1e9, 1e10].map((t) => ({ windowNs: t, frames: modelWorkingSet(truth, t) }));
 * const fitted = fitCurve(measured, 1e10);
 * for (const p of measured) assert.ok(Math.abs(modelWorkingSet(fitted, p.windowNs) / p.frames - 1) < 0.02);
 * ```
 */
export function fitCurve(
  measured: WorkingSetPoint[],
  durationNs: number,
  quantumNs = 0,
): RateClass[] {
  const pts = measured.filter((p) => p.frames > 0);
  if (pts.length === 0) return [];
  // Rates (per second) from 1 / T (each frame seen once within the trace) to 10 / 1 ms, or
  // to one write per tick for a sampled trace: a faster class looks the same there and
  // would only generate writes that change nothing.
  const lo = Math.log(1 / (durationNs / 1e9));
  const hi = Math.log(quantumNs > 0 ? 1e9 / quantumNs : 10 / 1e-3);
  const rates = Array.from(
    { length: CLASSES },
    (_, k) => Math.exp(lo + (hi - lo) * k / (CLASSES - 1)),
  );
  const m = pts.length;
  // weighted design: row j scaled by 1 / N_j, so the fit minimises relative error
  const A = pts.map((p) =>
    rates.map((rate) => modelWorkingSet([{ frames: 1, rate }], p.windowNs, quantumNs) / p.frames)
  );
  const b = pts.map(() => 1);
  const n = new Float64Array(CLASSES).fill(pts[pts.length - 1].frames / CLASSES);
  const Atb = rates.map((_, k) => A.reduce((s, row, j) => s + row[k] * b[j], 0));
  for (let it = 0; it < 20000; it++) {
    const An = A.map((row) => row.reduce((s, a, k) => s + a * n[k], 0));
    for (let k = 0; k < CLASSES; k++) {
      let AtAn = 0;
      for (let j = 0; j < m; j++) AtAn += A[j][k] * An[j];
      if (AtAn > 0) n[k] *= Atb[k] / AtAn;
    }
  }
  return rates.map((rate, k) => ({ frames: n[k], rate })).filter((c) => c.frames > 1e-6);
}

/**
 * A generator that sweeps each class at its rate, classes interleaved at random, over a
 * scattered region from frame 0.
 */
class FitWorkload implements Workload {
  readonly kind = "generator" as const;
  readonly endNs = Infinity;
  readonly minPages: number;
  readonly model: FitModel;
  readonly #frames: number[];

  constructor(readonly name: string, model: FitModel) {
    this.model = model;
    // whole frames per class; the region is their sum
    this.#frames = model.classes.map((c) => Math.round(c.frames));
    this.minPages = Math.max(1, this.#frames.reduce((a, b) => a + b, 0));
  }

  zeroMap(): Uint8Array | null {
    return null;
  }

  open(_pages: number, seed: number): AccessStream {
    const classes = this.model.classes.map((c, k) => ({ frames: this.#frames[k], rate: c.rate }))
      .filter((c) => c.frames > 0);
    const weights = classes.map((c) => c.frames * c.rate);
    const total = weights.reduce((a, b) => a + b, 0);
    const cum = new Float64Array(classes.length);
    let acc = 0;
    weights.forEach((w, k) => (cum[k] = acc += w / total));
    const start = new Uint32Array(classes.length);
    let s = 0;
    classes.forEach((c, k) => (start[k] = s, s += c.frames));
    // Seeded from the fitted classes, not the spec's spelling: one model, one stream.
    const canonical = `fit:${classes.map((c) => `${c.frames}@${c.rate}`).join("+")}`;
    const rng = createRng(mixSeed(seed, canonical));
    const perm = shuffle(Uint32Array.from({ length: s }, (_, i) => i), rng);
    const cursor = new Uint32Array(classes.length); // each class's position in its sweep
    const size = 8192,
      t = new Float64Array(size),
      pfn = new Uint32Array(size),
      op = new Uint8Array(size).fill(OP_WRITE);
    const chunk = { t, pfn, op, length: size } as AccessChunk & { length: number };
    const step = 1e9 / total, q = this.model.quantumNs;
    let i = 0;
    return {
      next(): AccessChunk | null {
        if (total <= 0) return null;
        for (let j = 0; j < size; j++, i++) {
          const at = i * step;
          t[j] = q > 0 ? (Math.floor(at / q) + 1) * q : Math.round(at);
          const u = rng.float();
          let k = 0;
          while (k < cum.length - 1 && cum[k] <= u) k++;
          pfn[j] = perm[start[k] + cursor[k]];
          if (++cursor[k] === classes[k].frames) cursor[k] = 0;
        }
        return chunk;
      },
    };
  }
}

/**
 * The tick at which a trace's writes are stamped: the median gap between distinct
 * timestamps when they are few (a sampled recording), else 0 (continuous).
 */
function stampTick(trace: Workload, durationNs: number): number {
  const gaps: number[] = [];
  let last = -1, events = 0;
  const s = trace.open(trace.minPages, 0);
  try {
    for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++) {
        events++;
        if (c.t[i] !== last) {
          if (last >= 0) gaps.push(c.t[i] - last);
          last = c.t[i];
        }
      }
    }
  } finally {
    s.close?.();
  }
  if (gaps.length === 0 || gaps.length * 4 > events) return 0; // mostly distinct times
  gaps.sort((x, y) => x - y);
  return Math.min(gaps[gaps.length >> 1], durationNs / 4);
}

/**
 * Parses `fit:PATH[,memory=SIZE]`: fits rate classes to the trace at PATH and returns a
 * generator scaled to `memory` (default: the trace's own frames).
 *
 * @param spec the spec after `fit:`
 * @param pageSize bytes per frame
 * @returns the fitted workload (its `model` holds the classes and the measured curve)
 * @throws {PrecopyError} for a bad spec or trace
 *
 * @example Usage
 * ```ts
 * import { parseFit } from "./fit.ts";
 * import { TraceWriter } from "../trace/trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".pctrace" });
 * const w = new TraceWriter(path, { frames: 100 });
 * for (let i = 0; i < 5000; i++) w.append(i * 1e6, (i * 37) % 100, 1);
 * w.close();
 * const fit = parseFit(`${path},memory=800KiB`);
 * assert.equal(fit.model.scale, 2); // 200 frames from a 100-frame trace
 * Deno.removeSync(path);
 * ```
 */
export function parseFit(spec: string, pageSize = 4096): Workload & { model: FitModel } {
  const [path, ...params] = spec.split(",");
  let target: number | null = null;
  for (const kv of params) {
    const [k, v] = kv.split("=");
    if (k.trim() !== "memory" || v === undefined) {
      throw new PrecopyError(
        "workload",
        `workload 'fit:${spec}': unknown parameter '${kv}'; accepted: memory=SIZE`,
      );
    }
    target = Math.floor(parseSize(v.trim(), `workload 'fit:${spec}' memory`) / pageSize);
    if (target < 1) {
      throw new PrecopyError("workload", `workload 'fit:${spec}': memory holds no frame`);
    }
  }
  const trace = openTrace(path, pageSize);
  if (trace.kind !== "trace") {
    throw new PrecopyError("workload", `workload 'fit:${spec}': '${path}' is not a trace`);
  }
  const frames = trace.minPages;
  const a = analyzeWorkload(trace, { pages: frames });
  const quantumNs = stampTick(trace, a.durationNs);
  const scale = (target ?? frames) / frames;
  const classes = fitCurve(a.workingSet, a.durationNs, quantumNs)
    .map((c) => ({ frames: c.frames * scale, rate: c.rate }));
  return new FitWorkload(`fit:${spec}`, {
    trace: path,
    traceFrames: frames,
    scale,
    classes,
    measured: a.workingSet,
    quantumNs,
  });
}
