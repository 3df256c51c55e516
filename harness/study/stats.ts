/**
 * The statistics of a study: a sample's mean, standard deviation and t-based 95 %
 * confidence interval; a paired comparison with the baseline on the same replicates
 * (difference, its interval, wins/ties/losses and the Wilcoxon signed-rank test); and the
 * geometric mean of ratios across cells.
 *
 * Distributions and the test come from stdlib (`@stdlib/stats-base-dists-t-quantile`,
 * `@stdlib/stats-wilcoxon`): the signed-rank test is exact for fewer than 50 pairs without
 * ties or zero differences and uses the normal approximation with tie correction
 * otherwise, as R's `wilcox.test` does.
 *
 * @module
 */

import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import wilcoxon from "@stdlib/stats-wilcoxon";

/** Mean, spread and 95 % interval of a sample. */
export interface Sample {
  /** Size. */
  n: number;
  /** Mean. */
  mean: number;
  /** Standard deviation (n − 1). */
  sd: number;
  /** 95 % confidence interval of the mean (t-based); null for n < 2. */
  ci: [number, number] | null;
}

/**
 * The t quantile for a two-sided interval.
 *
 * @param level confidence (0.95)
 * @param df degrees of freedom
 * @returns the quantile
 *
 * @example Usage
 * ```ts
 * import { tCritical } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(tCritical(0.95, 4).toFixed(3), "2.776");
 * ```
 */
export function tCritical(level: number, df: number): number {
  return tQuantile(1 - (1 - level) / 2, df);
}

/**
 * Mean, standard deviation and 95 % confidence interval (mean ± t·sd/√n).
 *
 * @param xs the sample
 * @returns its description
 *
 * @example Usage
 * ```ts
 * import { describe } from "./stats.ts";
 * import assert from "node:assert/strict";
 * const s = describe([2, 4, 4, 4, 5, 5, 7, 9]);
 * assert.equal(s.mean, 5);
 * assert.equal(s.sd.toFixed(4), "2.1381");
 * ```
 */
export function describe(xs: readonly number[]): Sample {
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, sd: NaN, ci: null };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const half = n > 1 ? tCritical(0.95, n - 1) * sd / Math.sqrt(n) : NaN;
  return { n, mean, sd, ci: n > 1 ? [mean - half, mean + half] : null };
}

/** A policy against the baseline on the same replicates (lower is better). */
export interface Paired {
  /** Pairs. */
  n: number;
  /** Mean difference (policy − baseline) and its interval. */
  diff: Sample;
  /** The difference in % of the baseline's mean, and its interval; null if that mean is 0. */
  pct: { mean: number; ci: [number, number] | null } | null;
  /** Replicates where the policy was lower, within tolerance, higher. */
  wins: number;
  /** Ties: equal within the tolerance. */
  ties: number;
  /** Losses. */
  losses: number;
  /** Two-sided Wilcoxon signed-rank p-value (1 when every pair is equal; null for n < 2). */
  p: number | null;
  /** `better` or `worse` when p < alpha, else null. */
  significant: "better" | "worse" | null;
}

/**
 * Whether two values tie: equal, or within `tol` of the larger magnitude.
 *
 * @param a one value
 * @param b the other
 * @param tol relative tolerance (0.001 = 0.1 %)
 * @returns true for a tie
 *
 * @example Usage
 * ```ts
 * import { isTie } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isTie(1000, 1001, 0.001));
 * assert.ok(!isTie(1000, 1002, 0.001));
 * ```
 */
export function isTie(a: number, b: number, tol: number): boolean {
  return a === b || Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Compares a policy's values with the baseline's on the same replicates.
 *
 * @param xs the policy's values, by replicate
 * @param base the baseline's, same order
 * @param tieTolerance relative tolerance of a tie
 * @param alpha significance level
 * @returns the comparison
 *
 * @example Usage
 * ```ts
 * import { paired } from "./stats.ts";
 * import assert from "node:assert/strict";
 * const c = paired([1, 2, 3, 4, 5, 6], [2, 4, 5, 7, 8, 9], 0, 0.05);
 * assert.equal(c.wins, 6);
 * assert.equal(c.significant, "better");
 * ```
 */
export function paired(
  xs: readonly number[],
  base: readonly number[],
  tieTolerance: number,
  alpha: number,
): Paired {
  const n = Math.min(xs.length, base.length);
  const d: number[] = [];
  let wins = 0, ties = 0, losses = 0, baseSum = 0;
  for (let i = 0; i < n; i++) {
    d.push(xs[i] - base[i]);
    baseSum += base[i];
    if (isTie(xs[i], base[i], tieTolerance)) ties++;
    else if (xs[i] < base[i]) wins++;
    else losses++;
  }
  const diff = describe(d);
  const baseMean = n ? baseSum / n : 0;
  const pct = baseMean !== 0
    ? {
      mean: 100 * diff.mean / baseMean,
      ci: diff.ci
        ? [100 * diff.ci[0] / baseMean, 100 * diff.ci[1] / baseMean] as [number, number]
        : null,
    }
    : null;
  let p: number | null = null, significant: Paired["significant"] = null;
  if (n >= 2) {
    if (d.every((x) => x === 0)) p = 1;
    else {
      const r = wilcoxon(xs.slice(0, n), base.slice(0, n));
      p = Math.min(1, r.pValue);
      if (p < alpha) {
        // the direction of the test's statistic: rank sum of positive differences
        const mid = (d.filter((x) => x !== 0).length * (d.filter((x) => x !== 0).length + 1)) / 4;
        significant = r.statistic > mid ? "worse" : "better";
      }
    }
  }
  return { n, diff, pct, wins, ties, losses, p, significant };
}

/** Geometric mean of ratios across cells, with an interval over the cells. */
export interface Ratio {
  /** Cells with both means positive (the others are left out). */
  cells: number;
  /** Geometric mean of policy/baseline. */
  ratio: number;
  /** 95 % interval of the geometric mean (t on log ratios); null for fewer than 2 cells. */
  ci: [number, number] | null;
}

/**
 * The geometric mean of ratios (policy mean / baseline mean across cells), leaving out
 * cells where either mean is 0.
 *
 * @param pairs [policy mean, baseline mean] per cell
 * @returns the mean ratio, or null when no cell counts
 *
 * @example Usage
 * ```ts
 * import { geomeanRatio } from "./stats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(geomeanRatio([[1, 2], [4, 2]])!.ratio, 1);
 * ```
 */
export function geomeanRatio(pairs: readonly [number, number][]): Ratio | null {
  const logs = pairs.filter(([a, b]) => a > 0 && b > 0).map(([a, b]) => Math.log(a / b));
  if (logs.length === 0) return null;
  const s = describe(logs);
  return {
    cells: logs.length,
    ratio: Math.exp(s.mean),
    ci: s.ci ? [Math.exp(s.ci[0]), Math.exp(s.ci[1])] : null,
  };
}
