/**
 * A study's summary: statistics per cell (workload × setting × policy) and against the
 * baseline, aggregates per regime across workloads, Pareto marks, the verdicts on the
 * paper's claims, the profiling table by tracker and the per-round curves of one cell —
 * and the terminal's one-screen view of it and the per-cell tables.
 *
 * The summary is a pure function of the plan and the runs (no clock, no paths), so a
 * merge of shards gives the same bytes as one unsharded run.
 *
 * @module
 */

import type { PolicyRole } from "../bounds.ts";
import { formatTable, reportRow } from "../report/report.ts";
import { formatDuration } from "../units.ts";
import { type BoundChecks, type CellFloor, checkBounds } from "./floors.ts";
import type { RunRecord } from "./runner.ts";
import type { StudyPlan } from "./spec.ts";
import { describe, geomeanRatio, type Paired, paired, type Ratio, type Sample } from "./stats.ts";

/** One cell: a policy on a workload under one setting, over the replicates. */
export interface Cell {
  /** Workload name. */
  workload: string;
  /** Axis values. */
  setting: Record<string, string>;
  /** Setting label. */
  settingLabel: string;
  /** Policy label. */
  policy: string;
  /**
   * How the policy's runs in this cell report it (`report.policy.role`): `bound` only when
   * every run does, `contender` when every run does, else `future-informed heuristic`.
   */
  role: PolicyRole;
  /** Replicates that ran. */
  n: number;
  /** Per metric: the sample over replicates. */
  metrics: Record<string, Sample>;
  /** Per metric: the values by replicate (null where the run failed). */
  values: Record<string, (number | null)[]>;
  /** Per metric: the paired comparison with the baseline (absent for the baseline). */
  vsBaseline?: Record<string, Paired>;
  /** No other contender is better on both downtime and pages in this cell (non-contenders: false). */
  pareto: boolean;
}

/** A policy across the cells of a group (a regime, or the whole study). */
export interface Aggregate {
  /** Group name (the regime, or `all`). */
  group: string;
  /** Policy label. */
  policy: string;
  /** Its role over the group's cells: `bound` or `contender` when every cell says so. */
  role: PolicyRole;
  /**
   * Per metric: geometric mean ratio to the baseline, the mean over cells of the mean
   * paired difference (absolute, in the metric's unit; null without pairs) and counts of
   * significant cells.
   */
  metrics: Record<
    string,
    { ratio: Ratio | null; diff: number | null; better: number; worse: number; cells: number }
  >;
  /** No other contender is better on both downtime and pages in this group. */
  pareto: boolean;
}

/** A claim as the study measured it. */
export interface Claim {
  /** The claim. */
  text: string;
  /** What was checked. */
  test: string;
  /** Whether the study could measure it (else `reason` says why not). */
  measured: boolean;
  /** Why not. */
  reason?: string;
  /** Cells where it holds. */
  holds: string[];
  /** Cells where it fails. */
  fails: string[];
  /** Cells without a significant difference either way. */
  inconclusive: string[];
}

/** One row of the profiling table. */
export interface ProfilingRow {
  /** Workload. */
  workload: string;
  /** Tracker. */
  tracker: string;
  /** Guest slowdown while profiling, %. */
  slowdownPct: Sample;
  /** Exits while profiling. */
  exits: Sample;
  /** Guest overhead, ns. */
  guestOverheadNs: Sample;
  /** Host CPU, ns. */
  hostCpuNs: Sample;
}

/** The summary of a study (`summary.json`). */
export interface Summary {
  /** Name, hash, the normalised spec. */
  study: { name: string; hash: string; description: string; spec: Record<string, unknown> };
  /** Runs in the study and runs that produced a report. */
  runs: { total: number; done: number; failed: number };
  /** Baseline label. */
  baseline: string;
  /** Metrics. */
  metrics: string[];
  /** Groups of the aggregates (regimes, or `all`). */
  groups: { name: string; description: string; qemu: boolean; cells: number }[];
  /** Per cell. */
  cells: Cell[];
  /** Per group and policy. */
  aggregates: Aggregate[];
  /** The paper's claims. */
  claims: Claim[];
  /** Profiling costs by tracker. */
  profiling: ProfilingRow[];
  /** The stop-and-copy floor of every cell and the checks of every bound (docs/bounds.md). */
  bounds: BoundChecks;
  /** Per-round dirty-at-sync of one cell (first replicate), per policy. */
  curves: {
    workload: string;
    setting: string;
    seed: number;
    policies: { policy: string; rounds: { round: number; dirtyAtSync: number; sent: number }[] }[];
  };
}

/**
 * The role of a policy over several runs or cells: `bound` or `contender` only when all
 * agree, else `future-informed heuristic` (never shown as a bound where it is not one).
 *
 * @param roles the roles
 * @returns the combined role
 *
 * @example Usage
 * ```ts
 * import { combineRoles } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.equal(combineRoles(["bound", "bound"]), "bound");
 * assert.equal(combineRoles(["bound", "future-informed heuristic"]), "future-informed heuristic");
 * ```
 */
export function combineRoles(roles: Iterable<PolicyRole>): PolicyRole {
  const set = new Set(roles);
  if (set.size === 1) return [...set][0];
  return set.size === 0 ? "contender" : "future-informed heuristic";
}

/** Display order of roles: contenders, then future-informed heuristics, then bounds. */
export const ROLE_ORDER: Readonly<Record<PolicyRole, number>> = {
  "contender": 0,
  "future-informed heuristic": 1,
  "bound": 2,
};

/**
 * A policy's label with its role: `oracle [bound]`, `rate-oracle (future-informed)`.
 *
 * @param label the policy's label
 * @param role its role where shown
 * @returns the label to display
 *
 * @example Usage
 * ```ts
 * import { roleLabel } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.equal(roleLabel("oracle", "bound"), "oracle [bound]");
 * assert.equal(roleLabel("sequential", "contender"), "sequential");
 * ```
 */
export function roleLabel(label: string, role: PolicyRole): string {
  return role === "bound"
    ? `${label} [bound]`
    : role === "future-informed heuristic"
    ? `${label} (future-informed)`
    : label;
}

/** The regime of a setting (or `all` when the study has no regime axis). */
function groupOf(values: Record<string, string>): string {
  return values.regime ?? "all";
}

/** The slowdown under which profiling counts as nearly free, %. */
export const NEARLY_FREE_PCT = 0.1;

/** The profiling claim's text (the screen adds its threshold beside it). */
const NEARLY_FREE_CLAIM = "EPT profiling is nearly free";

/**
 * Computes the summary of a study from its runs.
 *
 * @param plan the study
 * @param records its finished runs (any order)
 * @param failed runs that failed
 * @returns the summary
 *
 * @example Usage
 * ```ts ignore
 * const summary = summarize(plan, records, 0);
 * ```
 */
export function summarize(plan: StudyPlan, records: RunRecord[], failed: number): Summary {
  const P = plan.policies.length, R = plan.seeds.length, S = plan.settings.length;
  const metrics = plan.metrics;
  // values[m][(w*S + s)*P + p][replicate]
  const values = metrics.map(() =>
    Array.from({ length: plan.workloads.length * S * P }, () => new Array<number | undefined>(R))
  );
  const firstReport = new Map<number, RunRecord>();
  const roles = new Map<number, PolicyRole[]>();
  const profile = new Map<string, RunRecord[]>();
  for (const rec of records) {
    const run = plan.runs[rec.index];
    if (run.kind === "profile") {
      const k = `${run.workload}\t${run.tracker}`;
      profile.set(k, [...(profile.get(k) ?? []), rec]);
      continue;
    }
    const row = reportRow(rec.report);
    const slot = (run.workload * S + run.setting) * P + run.policy;
    for (const [mi, m] of metrics.entries()) values[mi][slot][run.replicate] = row[m] as number;
    if (run.replicate === 0) firstReport.set(slot, rec);
    let rs = roles.get(slot);
    if (!rs) roles.set(slot, rs = []);
    rs.push(rec.report.policy.role);
  }
  const present = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
  const cells: Cell[] = [];
  const di = metrics.indexOf("downtimeNs"), pi = metrics.indexOf("pagesSent");
  for (const [w, wl] of plan.workloads.entries()) {
    for (const [s, st] of plan.settings.entries()) {
      const row: Cell[] = [];
      for (const [p, pol] of plan.policies.entries()) {
        const slot = (w * S + s) * P + p;
        const bslot = (w * S + s) * P + plan.baseline;
        const cell: Cell = {
          workload: wl.name,
          setting: st.values,
          settingLabel: st.label,
          policy: pol.label,
          role: combineRoles(roles.get(slot) ?? []),
          n: present(values[0][slot]).length,
          metrics: {},
          values: {},
          pareto: false,
        };
        if (cell.n === 0) continue;
        for (const [mi, m] of metrics.entries()) {
          cell.metrics[m] = describe(present(values[mi][slot]));
          cell.values[m] = Array.from(values[mi][slot], (x) => x ?? null);
        }
        if (p !== plan.baseline) {
          cell.vsBaseline = {};
          for (const [mi, m] of metrics.entries()) {
            const a: number[] = [], b: number[] = [];
            for (let r = 0; r < R; r++) {
              const x = values[mi][slot][r], y = values[mi][bslot][r];
              if (x !== undefined && y !== undefined) a.push(x), b.push(y);
            }
            cell.vsBaseline[m] = paired(a, b, plan.tieTolerance, plan.alpha);
          }
        }
        row.push(cell);
      }
      if (di >= 0 && pi >= 0) {
        const mean = (c: Cell, m: string) => c.metrics[m].mean;
        for (const c of row) {
          c.pareto = c.role === "contender" &&
            !row.some((o) =>
              o.role === "contender" && o !== c &&
              mean(o, "downtimeNs") < mean(c, "downtimeNs") &&
              mean(o, "pagesSent") < mean(c, "pagesSent")
            );
        }
      }
      cells.push(...row);
    }
  }

  // Aggregates per group (regime) across workloads and the other axes.
  const groupNames = [...new Set(plan.settings.map((s) => groupOf(s.values)))];
  const groups = groupNames.map((g) => {
    const settings = plan.settings.filter((s) => groupOf(s.values) === g);
    return {
      name: g,
      description: g === "all" ? "" : describeRegime(plan, g),
      qemu: settings.every((s) => s.qemu),
      cells: settings.length * plan.workloads.length,
    };
  });
  const aggregates: Aggregate[] = [];
  for (const g of groupNames) {
    const rows: Aggregate[] = [];
    for (const [p, pol] of plan.policies.entries()) {
      if (p === plan.baseline) continue;
      const mine = cells.filter((c) => c.policy === pol.label && groupOf(c.setting) === g);
      const base = new Map(
        cells.filter((c) =>
          c.policy === plan.policies[plan.baseline].label && groupOf(c.setting) === g
        )
          .map((c) => [`${c.workload}\t${c.settingLabel}`, c]),
      );
      const agg: Aggregate = {
        group: g,
        policy: pol.label,
        role: combineRoles(mine.map((c) => c.role)),
        metrics: {},
        pareto: false,
      };
      for (const m of metrics) {
        const pairs: [number, number][] = [];
        let better = 0, worse = 0, diffSum = 0, diffs = 0;
        for (const c of mine) {
          const b = base.get(`${c.workload}\t${c.settingLabel}`);
          if (!b) continue;
          pairs.push([c.metrics[m].mean, b.metrics[m].mean]);
          const v = c.vsBaseline?.[m];
          if (v && v.n > 0) diffSum += v.diff.mean, diffs++;
          if (v?.significant === "better") better++;
          if (v?.significant === "worse") worse++;
        }
        agg.metrics[m] = {
          ratio: geomeanRatio(pairs),
          diff: diffs ? diffSum / diffs : null,
          better,
          worse,
          cells: pairs.length,
        };
      }
      rows.push(agg);
    }
    if (di >= 0 && pi >= 0) {
      // The baseline is the point (1, 1); a policy is on the front when no other
      // contender (the baseline included) is better on both.
      const point = (a: Aggregate | null) =>
        a === null
          ? [1, 1]
          : [a.metrics.downtimeNs.ratio?.ratio ?? 1, a.metrics.pagesSent.ratio?.ratio ?? 1];
      const contenders: (Aggregate | null)[] = [
        null,
        ...rows.filter((r) => r.role === "contender"),
      ];
      for (const r of rows) {
        if (r.role !== "contender") continue;
        const [d, q] = point(r);
        r.pareto = !contenders.some((o) => o !== r && point(o)[0] < d && point(o)[1] < q);
      }
    }
    aggregates.push(...rows);
  }

  return {
    study: {
      name: plan.name,
      hash: plan.hash,
      description: plan.description,
      spec: plan.normalized,
    },
    runs: { total: plan.runs.length, done: records.length, failed },
    baseline: plan.policies[plan.baseline].label,
    metrics,
    groups,
    cells,
    aggregates,
    claims: claims(plan, cells, profile),
    profiling: profilingRows(plan, profile),
    bounds: checkBounds(plan, records),
    curves: curvesOf(plan, firstReport),
  };
}

function describeRegime(plan: StudyPlan, name: string): string {
  const axis = plan.axes.find((a) => a.key === "regime");
  return axis?.descriptions?.[axis.labels.indexOf(name)] ?? "";
}

function profilingRows(plan: StudyPlan, profile: Map<string, RunRecord[]>): ProfilingRow[] {
  const rows: ProfilingRow[] = [];
  if (!plan.profiling) return rows;
  for (const w of plan.profiling.workloads) {
    for (const t of plan.profiling.trackers) {
      const recs = profile.get(`${w}\t${t}`) ?? [];
      if (recs.length === 0) continue;
      const f = (g: (r: RunRecord) => number) => describe(recs.map(g));
      rows.push({
        workload: plan.workloads[w].name,
        tracker: t,
        slowdownPct: f((r) => r.report.profiling.slowdownPct),
        exits: f((r) => r.report.profiling.exits),
        guestOverheadNs: f((r) => r.report.profiling.guestOverheadNs),
        hostCpuNs: f((r) => r.report.profiling.hostCpuNs),
      });
    }
  }
  return rows;
}

function curvesOf(plan: StudyPlan, first: Map<number, RunRecord>): Summary["curves"] {
  const { workload, setting } = plan.curves;
  const S = plan.settings.length, P = plan.policies.length;
  const policies = [];
  for (let p = 0; p < P; p++) {
    const rec = first.get((workload * S + setting) * P + p);
    if (!rec) continue;
    policies.push({
      policy: plan.policies[p].label,
      rounds: rec.report.perRound.map((r) => ({
        round: r.round,
        dirtyAtSync: r.dirtyAtSync,
        sent: r.sent,
      })),
    });
  }
  return {
    workload: plan.workloads[workload].name,
    setting: plan.settings[setting].label,
    seed: plan.seeds[0],
    policies,
  };
}

function cellName(c: Cell): string {
  return `${c.workload}${c.settingLabel === "-" ? "" : ` [${c.settingLabel}]`}`;
}

function claims(plan: StudyPlan, cells: Cell[], profile: Map<string, RunRecord[]>): Claim[] {
  const out: Claim[] = [];
  const byPolicy = (name: string) =>
    cells.filter((c) =>
      plan.policies.find((p) => p.label === c.policy)?.name === name && c.vsBaseline
    );
  const has = (m: string) => plan.metrics.includes(m);
  const multi = (name: string) => plan.policies.filter((p) => p.name === name).length > 1;
  const label = (c: Cell, name: string) => `${cellName(c)}${multi(name) ? ` ${c.policy}` : ""}`;
  {
    const text = "Staged order cuts downtime without sending more pages";
    const test =
      "staged-history vs the baseline: downtime significantly lower and pages sent not significantly higher";
    const mine = byPolicy("staged-history");
    const claim: Claim = { text, test, measured: false, holds: [], fails: [], inconclusive: [] };
    if (mine.length === 0) claim.reason = "the study has no staged-history policy";
    else if (!has("downtimeNs") || !has("pagesSent")) {
      claim.reason = "needs metrics downtime and pages";
    } else {
      claim.measured = true;
      for (const c of mine) {
        const d = c.vsBaseline!.downtimeNs.significant, q = c.vsBaseline!.pagesSent.significant;
        if (d === "worse" || q === "worse") claim.fails.push(label(c, "staged-history"));
        else if (d === "better") claim.holds.push(label(c, "staged-history"));
        else claim.inconclusive.push(label(c, "staged-history"));
      }
    }
    out.push(claim);
  }
  {
    const text = "Withholding hot pages lengthens downtime";
    const test = "hot-defer vs the baseline: downtime significantly higher";
    const mine = byPolicy("hot-defer");
    const claim: Claim = { text, test, measured: false, holds: [], fails: [], inconclusive: [] };
    if (mine.length === 0) claim.reason = "the study has no hot-defer policy";
    else if (!has("downtimeNs")) claim.reason = "needs metric downtime";
    else {
      claim.measured = true;
      for (const c of mine) {
        const d = c.vsBaseline!.downtimeNs.significant;
        if (d === "worse") claim.holds.push(label(c, "hot-defer"));
        else if (d === "better") claim.fails.push(label(c, "hot-defer"));
        else claim.inconclusive.push(label(c, "hot-defer"));
      }
    }
    out.push(claim);
  }
  {
    const text = NEARLY_FREE_CLAIM;
    const test = `ept-ad: mean guest slowdown while profiling below ${NEARLY_FREE_PCT} %`;
    const claim: Claim = { text, test, measured: false, holds: [], fails: [], inconclusive: [] };
    const rows = plan.profiling
      ? profilingRows(plan, profile).filter((r) => r.tracker === "ept-ad")
      : [];
    if (rows.length === 0) claim.reason = "the study has no profiling part with ept-ad";
    else {
      claim.measured = true;
      for (const r of rows) {
        const where = `${r.workload} (${r.slowdownPct.mean.toFixed(3)} %)`;
        if (r.slowdownPct.mean < NEARLY_FREE_PCT) claim.holds.push(where);
        else claim.fails.push(where);
      }
    }
    out.push(claim);
  }
  return out;
}

const SHORT: Record<string, string> = {
  downtimeNs: "downtime",
  pagesSent: "pages",
  totalTimeNs: "total time",
};

function metricName(m: string): string {
  return SHORT[m] ?? m;
}

/**
 * A metric value as text: durations for `…Ns`, grouped integers, else 3 significant digits.
 *
 * @param m the metric
 * @param v the value
 * @returns the text
 *
 * @example Usage
 * ```ts
 * import { formatMetric } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatMetric("pagesSent", 12345.4), "12,345");
 * ```
 */
export function formatMetric(m: string, v: number): string {
  if (!Number.isFinite(v)) return "-";
  if (m.endsWith("Ns")) return formatDuration(v);
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(3)).toString();
}

const pct = (r: number) => {
  const x = (r - 1) * 100;
  const t = Math.abs(x) >= 9.95 ? x.toFixed(0) : x.toFixed(1);
  return `${x >= 0 ? "+" : ""}${t === "-0.0" ? "0.0" : t}%`;
};
const pctBare = (r: number) => {
  const x = (r - 1) * 100;
  const t = Math.abs(x) >= 9.95 ? x.toFixed(0) : x.toFixed(1);
  return `${x >= 0 ? "+" : ""}${t}`;
};

/**
 * A difference as text with its sign: `-34.34 ms`, `+1,234`, `0`.
 *
 * @param m the metric (durations end in `Ns`)
 * @param d the difference
 * @returns the text
 *
 * @example Usage
 * ```ts
 * import { formatDelta } from "./summary.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDelta("downtimeNs", -34_340_000), "-34.34 ms");
 * assert.equal(formatDelta("pagesSent", 1234), "+1,234");
 * ```
 */
export function formatDelta(m: string, d: number): string {
  if (!Number.isFinite(d)) return "-";
  const t = formatMetric(m, Math.abs(d));
  if (/^0(\.0*)?( ns)?$/.test(t)) return "0";
  return `${d < 0 ? "-" : "+"}${t}`;
}

function aggText(a: Aggregate, m: string): string {
  const x = a.metrics[m];
  if (!x || !x.ratio) return "n/a";
  const r = x.ratio;
  const sig = r.ci && (r.ci[0] > 1 || r.ci[1] < 1);
  const ci = r.ci ? ` [${pctBare(r.ci[0])},${pctBare(r.ci[1])}]` : "";
  const counts = x.better || x.worse ? ` ${x.better}↓${x.worse}↑` : "";
  const abs = x.diff === null ? "" : `${formatDelta(m, x.diff)} `;
  return `${abs}(${pct(r.ratio)}${ci})${sig ? "*" : ""}${counts}`;
}

/** `1 cell`, `2 cells`: a count with its noun. */
function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** The violations of bounds, loudly (one line each, up to `max`), and a status phrase. */
function boundsLines(s: Summary, max: number): { errors: string[]; status: string } {
  const b = s.bounds;
  const errors: string[] = [];
  if (b.violations.length) {
    errors.push(
      `ERROR: ${b.violations.length} run(s) beat a bound — a bug in the engine, a policy or a proof (summary.json "bounds.violations"):`,
      ...b.violations.slice(0, max).map((v) => `ERROR:   ${v.message}`),
    );
    if (b.violations.length > max) errors.push(`ERROR:   … ${b.violations.length - max} more`);
  }
  const withFloor = b.floors.filter((f) => f.stopCopyPages);
  const above = withFloor.filter((f) => f.stopCopyPages!.mean > 0).length;
  const missing = b.floors.length - withFloor.length;
  const status = `stop-copy floor [bound] above 0 in ${above} of ${count(b.floors.length, "cell")}${
    missing ? ` (not computed in ${missing})` : ""
  }; ${count(b.floorRuns, "run")}${
    b.boundPairs ? ` and ${count(b.boundPairs, "bound pair")}` : ""
  } checked, ${b.violations.length ? `${b.violations.length} BEAT A BOUND` : "none below a bound"}`;
  return { errors, status };
}

/**
 * The one-screen view: per regime, each policy against the baseline; then the claims.
 *
 * @param s the summary
 * @returns text for a terminal
 *
 * @example Usage
 * ```ts ignore
 * io.out(formatScreen(summary));
 * ```
 */
export function formatScreen(s: Summary): string {
  const spec = s.study.spec as {
    policies: { name: string }[];
    workloads: unknown[];
    seeds: number[];
    alpha: number;
  };
  const out: string[] = [];
  const settingsCount = s.groups.reduce((a, g) => a + g.cells, 0) /
    Math.max(1, spec.workloads.length);
  // A policy with a parameter grid is one policy and several variants: count both.
  const names = new Set(spec.policies.map((p) => p.name)).size;
  const variants = spec.policies.length;
  const policies = `${count(names, "policy", "policies")}${
    variants !== names ? ` (${count(variants, "variant")})` : ""
  }`;
  out.push(
    `study '${s.study.name}' (${s.study.hash}): ${policies} × ${
      count(spec.workloads.length, "workload")
    } × ${count(settingsCount, "setting")} × ${
      count(spec.seeds.length, "replicate")
    }; ${s.runs.done}/${s.runs.total} runs${s.runs.failed ? `, ${s.runs.failed} FAILED` : ""}`,
  );
  const bounds = boundsLines(s, 5);
  out.push(
    ...bounds.errors,
    `Δ vs ${s.baseline}: mean paired difference over cells (geometric mean of policy/baseline − 1 [95% CI], * if it excludes 0); ◆ Pareto among contenders`,
    `k↓ k↑: cells significantly better / worse (Wilcoxon, p < ${spec.alpha}); ${bounds.status}`,
  );
  if (spec.seeds.length < 6) {
    out.push(
      `note: with ${
        count(spec.seeds.length, "replicate")
      } no Wilcoxon test can reach p < 0.05 (6 or more are needed)`,
    );
  }
  for (const g of s.groups) {
    const lead = g.qemu
      ? ["rounds", "pagesSent", "totalTimeNs"]
      : ["downtimeNs", "pagesSent", "totalTimeNs"];
    const cols = lead.filter((m) => s.metrics.includes(m));
    out.push(
      "",
      `== ${g.name === "all" ? "all settings" : `regime ${g.name}`}${
        g.description ? ` — ${g.description}` : ""
      } (${count(g.cells, "cell")})${g.qemu ? "; downtime sits at the limit, so rounds lead" : ""}`,
    );
    // Contenders first (compared, Pareto), then future-informed heuristics, then bounds.
    const rows = s.aggregates.filter((a) => a.group === g.name)
      .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
    const line = (a: Aggregate) => [
      roleLabel(a.policy, a.role),
      ...cols.map((m) => aggText(a, m)),
      a.pareto ? "◆" : "",
    ];
    const contenders = rows.filter((a) => a.role === "contender");
    const baseRole = combineRoles(
      s.cells.filter((c) => c.policy === s.baseline && groupOf(c.setting) === g.name)
        .map((c) => c.role),
    );
    const basePareto = baseRole === "contender" &&
      !contenders.some((a) =>
        (a.metrics.downtimeNs?.ratio?.ratio ?? 1) < 1 &&
        (a.metrics.pagesSent?.ratio?.ratio ?? 1) < 1
      );
    out.push(
      formatTable(
        ["policy", ...cols.map((m) => `Δ ${metricName(m)}`), "Pareto"],
        [
          [
            `${roleLabel(s.baseline, baseRole)} (baseline)`,
            ...cols.map(() => "0"),
            basePareto ? "◆" : "",
          ],
          ...rows.map(line),
        ],
      ),
    );
  }
  out.push("", "claims, as this study measured them:");
  for (const [i, c] of s.claims.entries()) {
    if (!c.measured) {
      out.push(`${i + 1}. ${c.text}: not measured (${c.reason})`);
      continue;
    }
    const total = c.holds.length + c.fails.length + c.inconclusive.length;
    // The threshold is nowhere else on this screen: say what "nearly free" was taken to mean.
    const threshold = c.text === NEARLY_FREE_CLAIM
      ? ` (below ${NEARLY_FREE_PCT} % guest slowdown)`
      : "";
    out.push(
      `${i + 1}. ${c.text}${threshold} — holds in ${c.holds.length} of ${total}${
        byGroup(c.holds)
      }, fails in ${c.fails.length}${byGroup(c.fails)}${
        c.inconclusive.length ? `, no significant difference in ${c.inconclusive.length}` : ""
      }`,
    );
    if (c.fails.length) out.push(`   fails: ${listShort(c.fails)}`);
  }
  return out.join("\n") + "\n";
}

function byGroup(cells: string[]): string {
  const m = new Map<string, number>();
  for (const c of cells) {
    const g = /regime=(\S+)/.exec(c)?.[1];
    if (g) m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m.size ? ` (${[...m].map(([g, n]) => `${g} ${n}`).join(", ")})` : "";
}

function listShort(xs: string[], max = 4): string {
  return xs.slice(0, max).join("; ") +
    (xs.length > max ? `; … ${xs.length - max} more (tables.txt)` : "");
}

/**
 * The per-cell tables: one per workload and setting, every policy with each metric's mean
 * ± CI half-width and its paired difference to the baseline.
 *
 * @param s the summary
 * @returns text
 *
 * @example Usage
 * ```ts ignore
 * Deno.writeTextFileSync("tables.txt", formatTables(summary));
 * ```
 */
export function formatTables(s: Summary): string {
  const out: string[] = [];
  const keys = [...new Set(s.cells.map((c) => `${c.workload}\t${c.settingLabel}`))];
  for (const k of keys) {
    const cells = s.cells.filter((c) => `${c.workload}\t${c.settingLabel}` === k)
      .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
    const [w, st] = k.split("\t");
    out.push(`== ${w}${st === "-" ? "" : `  ${st}`}  (n = ${cells[0].n})`);
    const header = ["policy"];
    for (const m of s.metrics) header.push(metricName(m), `Δ ${metricName(m)}`, "w/t/l");
    header.push("Pareto");
    const rows = cells.map((c) => {
      const r = [roleLabel(c.policy, c.role)];
      for (const m of s.metrics) {
        const x = c.metrics[m];
        const half = x.ci ? (x.ci[1] - x.ci[0]) / 2 : 0;
        r.push(`${formatMetric(m, x.mean)} ±${formatMetric(m, half)}`);
        const v = c.vsBaseline?.[m];
        if (!v) r.push("base", "");
        else {
          const p = v.pct
            ? `${v.pct.mean >= 0 ? "+" : ""}${v.pct.mean.toFixed(1)}%${
              v.pct.ci ? ` [${v.pct.ci[0].toFixed(1)},${v.pct.ci[1].toFixed(1)}]` : ""
            }`
            : "n/a";
          r.push(
            `${v.n ? formatDelta(m, v.diff.mean) : "n/a"} (${p})${
              v.significant ? (v.significant === "better" ? " ↓" : " ↑") : ""
            }`,
          );
          r.push(`${v.wins}/${v.ties}/${v.losses}`);
        }
      }
      r.push(c.pareto ? "◆" : "");
      return r;
    });
    const floor = s.bounds.floors.find((f) => `${f.workload}\t${f.settingLabel}` === k);
    if (floor?.stopCopyPages && floor.downtimeNs) {
      const at: Record<string, Sample> = {
        downtimeNs: floor.downtimeNs,
        stopCopyPages: floor.stopCopyPages,
      };
      rows.push([
        "stop-copy floor [bound]",
        ...s.metrics.flatMap((m) => [at[m] ? `≥ ${formatMetric(m, at[m].mean)}` : "", "", ""]),
        "",
      ]);
    }
    out.push(formatTable(header, rows));
    if (floor) out.push(floorNote(floor));
    out.push("");
  }
  if (s.profiling.length) {
    out.push("== profiling overhead by tracker");
    out.push(formatProfiling(s.profiling), "");
  }
  out.push("== claims, cell by cell");
  for (const c of s.claims) {
    out.push(`${c.text} (${c.test})`);
    if (!c.measured) out.push(`  not measured: ${c.reason}`);
    else {
      out.push(`  holds: ${c.holds.join("; ") || "none"}`);
      out.push(`  fails: ${c.fails.join("; ") || "none"}`);
      out.push(`  no significant difference: ${c.inconclusive.join("; ") || "none"}`);
    }
  }
  return out.join("\n") + "\n";
}

function floorNote(f: CellFloor): string {
  if (!f.stopCopyPages || !f.downtimeNs) return `stop-copy floor: not computed (${f.reason})`;
  // Each floor bounds its own replicate's runs: the mean over replicates bounds no run, so
  // the note gives the per-replicate range and calls the mean a mean.
  const spread = (xs: number[], show: (x: number) => string, mean: number, unit: string) => {
    const lo = Math.min(...xs), hi = Math.max(...xs);
    return lo === hi
      ? `${show(lo)}${unit} in every replicate`
      : `${show(lo)} to ${show(hi)}${unit} by replicate (mean ${show(mean)})`;
  };
  const pages = spread(
    f.replicates.map((r) => r.stopCopyPages),
    (x) => formatMetric("stopCopyPages", x),
    f.stopCopyPages.mean,
    " pages",
  );
  const down = spread(
    f.replicates.map((r) => r.downtimeNs),
    (x) => formatDuration(x),
    f.downtimeNs.mean,
    "",
  );
  return `stop-copy floor [bound]: each replicate's runs send at least its floor in stop-and-copy and have at least its downtime floor; floors ${pages}, downtime floors ${down}${
    f.contenderMin === undefined
      ? ""
      : `; fewest of a contender's run: ${f.contenderMin.toLocaleString("en-US")}`
  }`;
}

/**
 * The profiling table by tracker.
 *
 * @param rows the rows
 * @returns text
 *
 * @example Usage
 * ```ts ignore
 * io.out(formatProfiling(summary.profiling));
 * ```
 */
export function formatProfiling(rows: ProfilingRow[]): string {
  return formatTable([...PROFILING_HEADER], rows.map(profilingCells));
}

/** The profiling table's header, shared by the terminal table and the report's. */
export const PROFILING_HEADER: readonly string[] = [
  "workload",
  "tracker",
  "exits",
  "guest overhead",
  "guest slowdown",
  "host CPU",
];

/**
 * One row of the profiling table as text cells (terminal and report alike).
 *
 * @param r the row
 * @returns the cells, in the order of {@link PROFILING_HEADER}
 *
 * @example Usage
 * ```ts ignore
 * const cells = summary.profiling.map(profilingCells);
 * ```
 */
export function profilingCells(r: ProfilingRow): string[] {
  return [
    r.workload,
    r.tracker,
    Math.round(r.exits.mean).toLocaleString("en-US"),
    formatDuration(r.guestOverheadNs.mean),
    `${r.slowdownPct.mean.toFixed(3)}%`,
    formatDuration(r.hostCpuNs.mean),
  ];
}

/**
 * The summary as JSON: numbers kept to 9 significant digits so the file reads well and
 * does not depend on the last bits of float sums.
 *
 * @param s the summary
 * @returns JSON text
 *
 * @example Usage
 * ```ts ignore
 * writeFileAtomic(`${dir}/summary.json`, summaryJson(summary));
 * ```
 */
export function summaryJson(s: Summary): string {
  return JSON.stringify(
    s,
    (_k, v) =>
      typeof v === "number" && !Number.isInteger(v)
        ? (Number.isFinite(v) ? Number(v.toPrecision(9)) : null)
        : v,
    1,
  ) + "\n";
}
