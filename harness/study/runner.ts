/**
 * Running a study: its runs in this process or in a pool of workers (each doing one run at
 * a time with `job.ts`), the journal that makes `--resume` and Ctrl-C safe, shards, and the
 * files a study leaves in its output folder.
 *
 * Files are written under a temporary name and renamed, so a crash never leaves a half
 * file that looks whole. While runs go on, each finished run is appended to a journal
 * (`runs.journal`), one whole line per write; the sorted `runs.jsonl` is written from it
 * when the study stops (finished or interrupted).
 *
 * @module
 */

import { DEFAULT_CONFIG } from "../config.ts";
import type { RunReport } from "../engine/run_report.ts";
import { PrecopyError } from "../errors.ts";
import { REPORT_COLUMNS, reportRow, toCsv } from "../report/report.ts";
import { type Job, PolicyCache, runJob, type WorkerReply } from "./job.ts";
import type { RunSpec, StudyPlan } from "./spec.ts";

/** One line of `runs.jsonl`: the run's identity, every setting, and the full report. */
export interface RunRecord {
  /** Run index. */
  index: number;
  /** The study's hash. */
  study: string;
  /** `main` or `profile`. */
  kind: "main" | "profile";
  /** Workload name. */
  workload: string;
  /** Policy label. */
  policy: string;
  /** Axis values (`regime`, `clear`, …). */
  setting: Record<string, string>;
  /** Replicate number, from 0. */
  replicate: number;
  /** Seed. */
  seed: number;
  /** Start offset of this replicate, ns (traces only). */
  startOffsetNs: number;
  /** The run's report. */
  report: RunReport;
}

/**
 * The job of a run of a plan.
 *
 * @param plan the study
 * @param run the run
 * @returns the job
 *
 * @example Usage
 * ```ts ignore
 * const job = jobOf(plan, plan.runs[0]);
 * ```
 */
export function jobOf(plan: StudyPlan, run: RunSpec): Job {
  const p = plan.policies[run.policy];
  return {
    index: run.index,
    spec: plan.workloads[run.workload].spec,
    ref: p.ref,
    params: p.params,
    config: run.config,
  };
}

/**
 * A run's line of `runs.jsonl`: its identity and settings, then the report's JSON (as
 * the worker serialised it, so the main thread does not serialise reports again).
 *
 * @param plan the study
 * @param run the run
 * @param reportJson `JSON.stringify(report)`
 * @returns the line (no newline): the JSON of a {@link RunRecord}
 *
 * @example Usage
 * ```ts ignore
 * const line = recordLine(plan, plan.runs[0], JSON.stringify(report));
 * ```
 */
export function recordLine(plan: StudyPlan, run: RunSpec, reportJson: string): string {
  const head: Omit<RunRecord, "report"> = {
    index: run.index,
    study: plan.hash,
    kind: run.kind,
    workload: plan.workloads[run.workload].name,
    policy: plan.policies[run.policy].label,
    setting: run.kind === "profile" ? { tracker: run.tracker! } : plan.settings[run.setting].values,
    replicate: run.replicate,
    seed: run.seed,
    startOffsetNs: run.startOffsetNs,
  };
  return `${JSON.stringify(head).slice(0, -1)},"report":${reportJson}}`;
}

/** Events of a study's execution, for progress and failures. */
export interface RunEvents {
  /** A run finished: its index and its line of `runs.jsonl`. */
  done(index: number, line: string): void;
  /** A run failed: one line, naming the run and the reason. */
  fail(run: RunSpec, message: string, user: boolean): void;
}

/** A way to stop a study between runs (Ctrl-C). */
export interface StopSignal {
  /** Set once the study should stop. */
  stopped: boolean;
  /** Called when it is set, to end waits early. */
  onStop?: () => void;
}

/**
 * Runs the given runs in this process, one after another (`--jobs 1`), yielding to the
 * event loop between runs so that Ctrl-C is seen.
 *
 * @param plan the study
 * @param todo the runs
 * @param events where results go
 * @param stop checked between runs
 *
 * @example Usage
 * ```ts ignore
 * await runInProcess(plan, plan.runs, events, { stopped: false });
 * ```
 */
export async function runInProcess(
  plan: StudyPlan,
  todo: RunSpec[],
  events: RunEvents,
  stop: StopSignal,
): Promise<void> {
  const cache = new PolicyCache();
  for (const run of todo) {
    if (stop.stopped) return;
    try {
      const report = await runJob(jobOf(plan, run), cache);
      events.done(run.index, recordLine(plan, run, JSON.stringify(report)));
    } catch (e) {
      events.fail(run, (e as Error).message, e instanceof PrecopyError);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * Runs the given runs in a pool of `jobs` workers, each taking the next run when it is
 * free. Results come back in completion order; the caller sorts by index.
 *
 * @param plan the study
 * @param todo the runs
 * @param jobs workers
 * @param events where results go
 * @param stop when set, workers are terminated and the pool returns
 *
 * @example Usage
 * ```ts ignore
 * await runInPool(plan, plan.runs, 2, events, { stopped: false });
 * ```
 */
export function runInPool(
  plan: StudyPlan,
  todo: RunSpec[],
  jobs: number,
  events: RunEvents,
  stop: StopSignal,
): Promise<void> {
  return new Promise((resolveAll, rejectAll) => {
    let next = 0, active = 0, finished = false;
    const workers: Worker[] = [];
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      for (const w of workers) w.terminate();
      if (err) rejectAll(err);
      else resolveAll();
    };
    stop.onStop = () => finish();
    const feed = (w: Worker) => {
      if (stop.stopped) return finish();
      if (next >= todo.length) {
        if (active === 0) finish();
        return;
      }
      const run = todo[next++];
      active++;
      (w as Worker & { current?: RunSpec }).current = run;
      w.postMessage(jobOf(plan, run));
    };
    const n = Math.max(1, Math.min(jobs, todo.length));
    if (todo.length === 0) return finish();
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      workers.push(w);
      w.onmessage = (e: MessageEvent<WorkerReply>) => {
        const msg = e.data;
        const run = plan.runs[msg.index];
        active--;
        if (msg.type === "done") events.done(run.index, recordLine(plan, run, msg.report));
        else events.fail(run, msg.message, msg.user);
        feed(w);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        finish(new Error(`study worker failed: ${e.message}`));
      };
      feed(w);
    }
  });
}

/** The journal's file name in an output folder. */
export const JOURNAL = "runs.journal";

/**
 * Reads the runs a folder already holds (`runs.jsonl` and the journal of an interrupted
 * run), keeping those of this study; a torn last line of the journal is skipped.
 *
 * @param dir the output folder
 * @param hash the study's hash
 * @returns index → the record's JSON line
 * @throws {PrecopyError} when the folder holds runs of another study
 *
 * @example Usage
 * ```ts
 * import { readDone } from "./runner.ts";
 * import assert from "node:assert/strict";
 * assert.equal(readDone(Deno.makeTempDirSync(), "abc").size, 0);
 * ```
 */
export function readDone(dir: string, hash: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of ["runs.jsonl", JOURNAL]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${dir}/${name}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw new PrecopyError("config", `${dir}/${name}: ${(e as Error).message}`);
    }
    const lines = text.split("\n");
    for (const [i, line] of lines.entries()) {
      if (line.trim() === "") continue;
      let rec: { index?: unknown; study?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        if (name === JOURNAL && i >= lines.length - 2) continue; // torn by a crash
        throw new PrecopyError("config", `${dir}/${name}: line ${i + 1} is not JSON`);
      }
      if (rec.study !== hash) {
        throw new PrecopyError(
          "config",
          `${dir}/${name}: holds runs of another study (${rec.study}, this one is ${hash}); use a new --out or drop --resume`,
        );
      }
      if (typeof rec.index === "number") out.set(rec.index, line);
    }
  }
  return out;
}

/** Columns of `runs.csv` before the metrics: identity and every setting. */
export const RUN_COLUMNS: readonly string[] = [
  "study",
  "index",
  "kind",
  "workload",
  "workloadSpec",
  "policy",
  "policyName",
  "oracle",
  "role",
  "regime",
  "replicate",
  "seed",
  "startOffsetNs",
  "memory",
  ...Object.keys(DEFAULT_CONFIG).flatMap((k) =>
    k === "trackerCosts"
      ? Object.keys(DEFAULT_CONFIG.trackerCosts).map((c) => `trackerCosts.${c}`)
      : k === "seed"
      ? []
      : [k]
  ),
];

/** Metric columns of `runs.csv` (the report's flat row minus what is a setting above). */
export const METRIC_COLUMNS: readonly string[] = REPORT_COLUMNS.filter((c) =>
  !RUN_COLUMNS.includes(c) && c !== "workload" && c !== "policy"
);

/**
 * `runs.csv`: one row per run with every setting as a column (the fixed
 * {@link RUN_COLUMNS}, the metrics, then `param.*` columns sorted), so CSVs of different
 * studies line up.
 *
 * @param records the runs, in index order
 * @returns CSV text
 *
 * @example Usage
 * ```ts
 * import { runsCsv } from "./runner.ts";
 * import assert from "node:assert/strict";
 * assert.match(runsCsv([]), /^study,index,kind,workload/);
 * ```
 */
export function runsCsv(records: RunRecord[]): string {
  const params = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.report.policy.params)) params.add(k);
  const paramCols = [...params].sort().map((k) => `param.${k}`);
  const rows = records.map((r) => {
    const c = r.report.config;
    const row: Record<string, string | number | boolean> = {
      study: r.study,
      index: r.index,
      kind: r.kind,
      workload: r.workload,
      workloadSpec: r.report.workload.name,
      policy: r.policy,
      policyName: r.report.policy.name,
      oracle: r.report.policy.oracle,
      role: r.report.policy.role,
      regime: r.setting.regime ?? "",
      replicate: r.replicate,
      seed: r.seed,
      startOffsetNs: r.startOffsetNs,
      memory: c.pages * c.pageSize,
    };
    for (const [k, v] of Object.entries(c)) {
      if (k === "trackerCosts") {
        for (const [ck, cv] of Object.entries(v as Record<string, number>)) {
          row[`trackerCosts.${ck}`] = cv;
        }
      } else if (k !== "seed") row[k] = v as string | number | boolean;
    }
    const flat = reportRow(r.report);
    for (const m of METRIC_COLUMNS) row[m] = flat[m];
    for (const [k, v] of Object.entries(r.report.policy.params)) row[`param.${k}`] = v;
    return row;
  });
  return toCsv([...RUN_COLUMNS, ...METRIC_COLUMNS, ...paramCols], rows);
}

/**
 * The runs of shard `k` of `n` (1-based): every n-th run from the k-th, so each shard gets
 * a fair share of every workload and policy.
 *
 * @param runs the study's runs
 * @param k shard number, 1..n
 * @param n shard count
 * @returns the slice
 *
 * @example Usage
 * ```ts
 * import { shardOf } from "./runner.ts";
 * import assert from "node:assert/strict";
 * const runs = [0, 1, 2, 3, 4].map((index) => ({ index }));
 * assert.deepEqual(shardOf(runs, 2, 2).map((r) => r.index), [1, 3]);
 * ```
 */
export function shardOf<T extends { index: number }>(runs: T[], k: number, n: number): T[] {
  return runs.filter((r) => r.index % n === k - 1);
}
