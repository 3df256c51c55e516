/**
 * `deno task study SPEC.json --out DIR`: a replicated sweep — policies × workloads ×
 * settings × replicates — run on every core, summarised with statistics, shown on one
 * screen and written to `runs.jsonl`, `runs.csv`, `summary.json` and `report.html`.
 * `deno task study merge --out DIR SHARD_DIR…` joins the shards of a cluster run.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { writeFileAtomic } from "../io.ts";
import { type CliIo, parseFlags, reportError, runMain, stdio } from "./kit.ts";
import { formatDuration, parseInteger } from "../units.ts";
import { describeRun, loadStudy, type RunSpec, type StudyPlan } from "../study/spec.ts";
import {
  JOURNAL,
  readDone,
  runInPool,
  runInProcess,
  type RunRecord,
  runsCsv,
  shardOf,
  type StopSignal,
} from "../study/runner.ts";
import { formatScreen, formatTables, summarize, summaryJson } from "../study/summary.ts";
import { renderReport } from "../report/html.ts";

/** The `--help` text of `deno task study`. */
export const STUDY_HELP: string = `precopy-lab study — replicated sweeps with statistics

usage: deno task study SPEC.json --out DIR [options]
       deno task study merge --out DIR SHARD_DIR...

  --out DIR       where runs.jsonl, runs.csv, summary.json, report.html go (required)
  --jobs N        runs in parallel, one worker each          [the machine's cores]
  --shard K/N     run only the K-th of N slices (K = 1..N); also taken from
                  SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (with SLURM_ARRAY_TASK_MIN)
                  or JOB_COMPLETION_INDEX with STUDY_SHARDS (Kubernetes Indexed Job)
  --resume        skip runs already in DIR (after Ctrl-C or a crash)
  --tables        print the per-cell tables too (they are always in DIR/tables.txt)
  --quiet         no progress on stderr
  -h, --help      this text

The spec format is in docs/studies.md. A shard writes runs.jsonl and runs.csv of its
slice; 'merge' checks that the shards hold every run of one study and writes the same
summary.json and report.html as an unsharded run.
`;

const OUR_FILES = [
  "runs.jsonl",
  "runs.csv",
  "summary.json",
  "report.html",
  "tables.txt",
  "study.json",
  "failures.jsonl",
  "timing.json",
  JOURNAL,
];

/** A shard: number K of N, 1-based. */
export interface Shard {
  /** 1..n. */
  k: number;
  /** Shard count. */
  n: number;
  /** Where it came from, for messages. */
  from: string;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The shard to run: `--shard K/N`, else Slurm's array variables, else Kubernetes'
 * completion index with `STUDY_SHARDS`; null for the whole study.
 *
 * @param flag the `--shard` value
 * @param get reads an environment variable
 * @returns the shard, or null
 * @throws {PrecopyError} naming the flag or variable that is malformed
 *
 * @example Usage
 * ```ts
 * import { resolveShard } from "./study.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(resolveShard("2/4", () => undefined), { k: 2, n: 4, from: "--shard" });
 * const slurm: Record<string, string> = {
 *   SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_MIN: "0", SLURM_ARRAY_TASK_COUNT: "4",
 * };
 * assert.equal(resolveShard(undefined, (k) => slurm[k])!.k, 1);
 * ```
 */
export function resolveShard(
  flag: string | undefined,
  get: (name: string) => string | undefined = env,
): Shard | null {
  const int = (v: string, what: string, min: number) => parseInteger(v, what, min, 1 << 30);
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag.trim());
    if (!m) throw new PrecopyError("config", `--shard: '${flag}' is not K/N (e.g. 2/4)`);
    const k = Number(m[1]), n = Number(m[2]);
    if (n < 1 || k < 1 || k > n) {
      throw new PrecopyError("config", `--shard: '${flag}' needs 1 ≤ K ≤ N`);
    }
    return { k, n, from: "--shard" };
  }
  const id = get("SLURM_ARRAY_TASK_ID");
  if (id !== undefined && id !== "") {
    const count = get("SLURM_ARRAY_TASK_COUNT");
    if (!count) {
      throw new PrecopyError(
        "config",
        "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
      );
    }
    const min = int(get("SLURM_ARRAY_TASK_MIN") || "0", "SLURM_ARRAY_TASK_MIN", 0);
    const n = int(count, "SLURM_ARRAY_TASK_COUNT", 1);
    const k = int(id, "SLURM_ARRAY_TASK_ID", 0) - min + 1;
    if (k < 1 || k > n) {
      throw new PrecopyError(
        "config",
        `SLURM_ARRAY_TASK_ID ${id} is outside ${min}..${
          min + n - 1
        }; use a contiguous array (--array=0-${n - 1})`,
      );
    }
    return { k, n, from: "SLURM_ARRAY_TASK_ID" };
  }
  const idx = get("JOB_COMPLETION_INDEX");
  if (idx !== undefined && idx !== "") {
    const shards = get("STUDY_SHARDS");
    if (!shards) {
      throw new PrecopyError(
        "config",
        "JOB_COMPLETION_INDEX is set but STUDY_SHARDS is not: set it to the Job's completions",
      );
    }
    const n = int(shards, "STUDY_SHARDS", 1);
    const k = int(idx, "JOB_COMPLETION_INDEX", 0) + 1;
    if (k > n) {
      throw new PrecopyError(
        "config",
        `JOB_COMPLETION_INDEX ${idx} is not below STUDY_SHARDS ${n}`,
      );
    }
    return { k, n, from: "JOB_COMPLETION_INDEX" };
  }
  return null;
}

/** Progress on stderr: a bar on a terminal, a line every 10 % otherwise. */
class ProgressLine {
  readonly #t0 = performance.now();
  #done = 0;
  #nextPct = 10;
  #last = 0;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  constructor(readonly total: number, readonly io: CliIo, readonly quiet: boolean) {
    if (!quiet && io.interactive && total > 0) {
      this.#timer = setInterval(() => this.#draw(), 1000);
    }
  }
  #eta(): string {
    const el = (performance.now() - this.#t0) / 1000;
    const rest = this.#done > 0 ? el / this.#done * (this.total - this.#done) : NaN;
    const t = (x: number) =>
      x < 60
        ? `${x.toFixed(x < 10 ? 1 : 0)} s`
        : `${Math.floor(x / 60)} min ${Math.round(x % 60)} s`;
    return `${t(el)} elapsed${Number.isFinite(rest) ? `, ETA ${t(rest)}` : ""}`;
  }
  #draw(): void {
    const w = 30, f = Math.round(w * this.#done / Math.max(1, this.total));
    this.io.err(
      `\r\x1b[K[${"#".repeat(f)}${
        ".".repeat(w - f)
      }] ${this.#done}/${this.total} runs, ${this.#eta()}`,
    );
    this.#last = performance.now();
  }
  tick(): void {
    this.#done++;
    if (this.quiet || this.total === 0) return;
    if (this.io.interactive) {
      if (performance.now() - this.#last > 200) this.#draw();
    } else if (100 * this.#done / this.total >= this.#nextPct) {
      while (100 * this.#done / this.total >= this.#nextPct) this.#nextPct += 10;
      this.io.err(
        `study: ${
          Math.floor(100 * this.#done / this.total)
        }% (${this.#done}/${this.total} runs, ${this.#eta()})\n`,
      );
    }
  }
  /** Line break above a message, so it does not mix with the bar. */
  clear(): void {
    if (!this.quiet && this.io.interactive) this.io.err("\r\x1b[K");
  }
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.clear();
  }
}

/** Collects failures: the first of each policy and reason is printed at once. */
class Failures {
  readonly list: { index: number; message: string; user: boolean }[] = [];
  readonly #seen = new Map<string, number>();
  add(plan: StudyPlan, run: RunSpec, message: string, user: boolean, print: (t: string) => void) {
    this.list.push({ index: run.index, message, user });
    const key = message;
    const n = this.#seen.get(key) ?? 0;
    this.#seen.set(key, n + 1);
    if (n === 0) print(`failed: ${describeRun(plan, run)}: ${message}\n`);
  }
  lines(plan: StudyPlan): string[] {
    const out: string[] = [];
    for (const [message, n] of this.#seen) {
      const first = plan.runs[this.list.find((f) => f.message === message)!.index];
      out.push(`${message} (${n} run${n > 1 ? "s" : ""}, first: ${describeRun(plan, first)})`);
    }
    return out;
  }
}

function defaultJobs(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Writes the outputs of a finished (or merged) study: sorted `runs.jsonl`, `runs.csv`,
 * and, when every run is accounted for, `summary.json`, `tables.txt` and `report.html`.
 *
 * @param plan the study
 * @param lines index → JSON line of every finished run
 * @param failed indices of failed runs, with messages
 * @param dir the output folder
 * @param complete whether the summary and report are due (not a shard, not interrupted)
 * @returns the summary's screen and tables text and the bound violations, when complete
 *
 * @example Usage
 * ```ts ignore
 * await writeOutputs(plan, lines, [], "out", true);
 * ```
 */
export async function writeOutputs(
  plan: StudyPlan,
  lines: Map<number, string>,
  failed: { index: number; message: string }[],
  dir: string,
  complete: boolean,
): Promise<{ screen: string; tables: string; violations: string[] } | null> {
  const indices = [...lines.keys()].sort((a, b) => a - b);
  const sorted = indices.map((i) => lines.get(i)!);
  writeFileAtomic(`${dir}/runs.jsonl`, sorted.length ? sorted.join("\n") + "\n" : "");
  const records: RunRecord[] = sorted.map((l) => JSON.parse(l));
  writeFileAtomic(`${dir}/runs.csv`, runsCsv(records));
  const fails = [...failed].sort((a, b) => a.index - b.index);
  if (fails.length) {
    writeFileAtomic(
      `${dir}/failures.jsonl`,
      fails.map((f) => JSON.stringify({ index: f.index, study: plan.hash, message: f.message }))
        .join("\n") + "\n",
    );
  }
  try {
    Deno.removeSync(`${dir}/${JOURNAL}`);
  } catch { /* none */ }
  if (!complete) return null;
  const summary = summarize(plan, records, fails.length);
  writeFileAtomic(`${dir}/summary.json`, summaryJson(summary));
  const tables = formatTables(summary);
  writeFileAtomic(`${dir}/tables.txt`, tables);
  writeFileAtomic(`${dir}/report.html`, await renderReport(summary));
  return {
    screen: formatScreen(summary),
    tables,
    violations: summary.bounds.violations.map((v) => v.message),
  };
}

/** Options of {@link runStudy} beyond the command line (the bench's shortcuts). */
export interface StudyOptions {
  /** Values that replace the spec's. */
  overrides?: Record<string, unknown>;
  /** Policies to keep (by label, name or absolute path), others dropped (not the baseline). */
  onlyPolicies?: string[];
  /** Workloads to keep (by name). */
  onlyWorkloads?: string[];
  /** Print the summary as JSON on stdout instead of the screen. */
  json?: boolean;
  /** Extra text printed after the screen (bench: the profiling table). */
  after?: (summaryScreen: string) => string | Promise<string>;
  /** Where policy names are looked up (default: this project's `policies/`; tests). */
  policiesDir?: URL;
}

const RUN_OPTIONS = {
  out: { type: "string" },
  jobs: { type: "string" },
  shard: { type: "string" },
  resume: { type: "boolean" },
  tables: { type: "boolean" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Runs `study` with the given arguments.
 *
 * @param args command-line arguments
 * @param io output sinks
 * @param options the bench's shortcuts
 * @returns exit status: 0, 2 for bad input or failed runs, 1 for a bug, 130 interrupted
 *
 * @example Usage
 * ```ts
 * import { runStudy } from "./study.ts";
 * import assert from "node:assert/strict";
 * const io = { out: () => {}, err: () => {}, interactive: false };
 * assert.equal(await runStudy(["--help"], io), 0);
 * assert.equal(await runStudy(["no-such.json", "--out", "x"], io), 2);
 * ```
 */
export async function runStudy(
  args: string[],
  io: CliIo = stdio,
  options: StudyOptions = {},
): Promise<number> {
  try {
    if (args[0] === "merge") return await runMerge(args.slice(1), io);
    const { values: v, positionals } = parseFlags({
      args,
      options: RUN_OPTIONS,
      allowPositionals: true,
    });
    if (v.help) {
      io.out(STUDY_HELP);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new PrecopyError("config", "give one study spec: deno task study SPEC.json --out DIR");
    }
    if (!v.out) throw new PrecopyError("config", "--out DIR is required");
    const jobs = v.jobs === undefined ? defaultJobs() : parseInteger(v.jobs, "--jobs", 1, 1024);
    const shard = resolveShard(v.shard);
    let plan = await loadStudy(positionals[0], options.overrides, options.policiesDir);
    plan = filterPlan(plan, options);
    for (const f of plan.loadFailures) io.err(`failed: ${f}\n`);
    return await execute(plan, {
      dir: v.out,
      jobs,
      shard,
      resume: v.resume === true,
      tables: v.tables === true,
      quiet: v.quiet === true,
      json: options.json === true,
      after: options.after,
    }, io);
  } catch (e) {
    return reportError(e, io);
  }
}

function filterPlan(plan: StudyPlan, o: StudyOptions): StudyPlan {
  if (!o.onlyPolicies && !o.onlyWorkloads) return plan;
  const pick = <T>(xs: T[], keep: (x: T) => boolean) =>
    xs.map((x, i) => (keep(x) ? i : -1)).filter((i) => i >= 0);
  const pKeep = pick(
    plan.policies,
    (p) =>
      !o.onlyPolicies || o.onlyPolicies.includes(p.label) || o.onlyPolicies.includes(p.name) ||
      o.onlyPolicies.includes(p.ref) ||
      p === plan.policies[plan.baseline],
  );
  const wKeep = pick(plan.workloads, (w) => !o.onlyWorkloads || o.onlyWorkloads.includes(w.name));
  for (const name of o.onlyPolicies ?? []) {
    if (!plan.policies.some((p) => p.label === name || p.name === name || p.ref === name)) {
      throw new PrecopyError(
        "config",
        `--policy: no policy named ${name} in the study; it has: ${
          plan.policies.map((p) => p.label).join(", ")
        }`,
      );
    }
  }
  for (const name of o.onlyWorkloads ?? []) {
    if (!plan.workloads.some((w) => w.name === name)) {
      throw new PrecopyError(
        "config",
        `--workload: no workload named ${name}; the study has: ${
          plan.workloads.map((w) => w.name).join(", ")
        }`,
      );
    }
  }
  const runs = plan.runs
    .filter((r) => pKeep.includes(r.policy) && wKeep.includes(r.workload))
    .map((r, index) => ({
      ...r,
      index,
      policy: pKeep.indexOf(r.policy),
      workload: wKeep.indexOf(r.workload),
    }));
  const profiling = plan.profiling
    ? {
      ...plan.profiling,
      workloads: plan.profiling.workloads.filter((w) => wKeep.includes(w)).map((w) =>
        wKeep.indexOf(w)
      ),
    }
    : null;
  const filtered: StudyPlan = {
    ...plan,
    policies: pKeep.map((i) => plan.policies[i]),
    baseline: pKeep.indexOf(plan.baseline),
    workloads: wKeep.map((i) => plan.workloads[i]),
    runs,
    profiling,
    curves: {
      workload: Math.max(0, wKeep.indexOf(plan.curves.workload)),
      setting: plan.curves.setting,
    },
  };
  filtered.normalized = {
    ...plan.normalized,
    policies: (plan.normalized.policies as unknown[]).filter((_, i) => pKeep.includes(i)),
    workloads: (plan.normalized.workloads as unknown[]).filter((_, i) => wKeep.includes(i)),
    profiling,
  };
  filtered.hash = `${plan.hash.slice(0, 8)}${hashText(JSON.stringify([pKeep, wKeep])).slice(0, 8)}`;
  return filtered;
}

function hashText(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}

interface ExecOptions {
  dir: string;
  jobs: number;
  shard: Shard | null;
  resume: boolean;
  tables: boolean;
  quiet: boolean;
  json: boolean;
  after?: (screen: string) => string | Promise<string>;
}

async function execute(plan: StudyPlan, o: ExecOptions, io: CliIo): Promise<number> {
  const t0 = performance.now();
  try {
    Deno.mkdirSync(o.dir, { recursive: true });
  } catch (e) {
    throw new PrecopyError("config", `--out ${o.dir}: ${(e as Error).message}`);
  }
  if (!o.resume) {
    for (const f of OUR_FILES) {
      try {
        Deno.removeSync(`${o.dir}/${f}`);
      } catch { /* absent */ }
    }
  }
  const lines = o.resume ? readDone(o.dir, plan.hash) : new Map<number, string>();
  // Runs found in DIR (--resume) are not this invocation's work: timing counts them apart.
  const resumed = lines.size;
  let ran = 0;
  const mine = o.shard ? shardOf(plan.runs, o.shard.k, o.shard.n) : plan.runs;
  const todo = mine.filter((r) => !lines.has(r.index));
  writeFileAtomic(
    `${o.dir}/study.json`,
    JSON.stringify({ hash: plan.hash, shard: o.shard && { k: o.shard.k, n: o.shard.n }, plan }) +
      "\n",
  );
  const progress = new ProgressLine(todo.length, io, o.quiet);
  if (!o.quiet) {
    io.err(
      `study '${plan.name}' (${plan.hash}): ${plan.runs.length} runs${
        o.shard ? `, shard ${o.shard.k}/${o.shard.n} (from ${o.shard.from}): ${mine.length}` : ""
      }${lines.size ? `, ${lines.size} already in ${o.dir}` : ""}; ${todo.length} to run on ${
        Math.min(o.jobs, Math.max(1, todo.length))
      } worker(s)\n`,
    );
  }
  const journal = Deno.openSync(`${o.dir}/${JOURNAL}`, { append: true, create: true });
  const enc = new TextEncoder();
  const failures = new Failures();
  const stop: StopSignal = { stopped: false };
  const onSigint = () => {
    stop.stopped = true;
    stop.onStop?.();
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
  } catch { /* not supported here */ }
  const events = {
    done(index: number, line: string) {
      ran++;
      lines.set(index, line);
      journal.writeSync(enc.encode(line + "\n"));
      progress.tick();
    },
    fail(run: RunSpec, message: string, user: boolean) {
      ran++;
      progress.clear();
      failures.add(plan, run, message, user, io.err);
      progress.tick();
    },
  };
  try {
    if (o.jobs <= 1) await runInProcess(plan, todo, events, stop);
    else await runInPool(plan, todo, o.jobs, events, stop);
  } finally {
    progress.stop();
    journal.close();
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
  const seconds = (performance.now() - t0) / 1000;
  writeFileAtomic(
    `${o.dir}/timing.json`,
    JSON.stringify({
      wallSeconds: Number(seconds.toFixed(3)),
      jobs: o.jobs,
      ran,
      resumed,
      cores: navigator.hardwareConcurrency,
    }) + "\n",
  );
  if (stop.stopped) {
    await writeOutputs(plan, lines, failures.list, o.dir, false);
    io.err(
      `interrupted: ${lines.size} of ${mine.length} runs kept in ${o.dir}/runs.jsonl; continue with --resume\n`,
    );
    return 130;
  }
  const complete = o.shard === null;
  const out = await writeOutputs(plan, lines, failures.list, o.dir, complete);
  if (out) {
    io.out(o.json ? Deno.readTextFileSync(`${o.dir}/summary.json`) : out.screen);
    if (o.tables && !o.json) io.out("\n" + out.tables);
    if (o.after && !o.json) io.out(await o.after(out.screen));
  }
  for (const l of failures.lines(plan)) io.err(`failed: ${l}\n`);
  for (const l of plan.loadFailures) io.err(`failed: ${l}\n`);
  if (out?.violations.length) reportViolations(out.violations, io);
  if (!o.quiet) {
    io.err(
      `${ran} run${ran === 1 ? "" : "s"} in ${formatDuration(seconds * 1e9)} on ${o.jobs} job(s)${
        resumed ? ` (${resumed} kept from before)` : ""
      }; ${
        complete
          ? `${o.dir}/{runs.jsonl,runs.csv,summary.json,report.html,tables.txt}`
          : `${o.dir}/runs.jsonl (shard ${o.shard!.k}/${
            o.shard!.n
          }; join with: deno task study merge --out DIR SHARD_DIR...)`
      }\n`,
    );
  }
  if (out?.violations.length) return 1;
  return failures.list.length || plan.loadFailures.length ? 2 : 0;
}

/** A run that beats a bound is a bug: said on stderr too, and the exit status is 1. */
function reportViolations(list: string[], io: CliIo): void {
  io.err(
    `error: ${list.length} run(s) beat a bound (a bug in the engine, a policy or a proof); first: ${
      list[0]
    }; all in summary.json "bounds.violations"\n`,
  );
}

interface StudyFile {
  hash: string;
  shard: { k: number; n: number } | null;
  plan: StudyPlan;
}

async function runMerge(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseFlags({
    args,
    options: {
      out: { type: "string" },
      quiet: { type: "boolean" },
      tables: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (v.help) {
    io.out(STUDY_HELP);
    return 0;
  }
  if (!v.out) throw new PrecopyError("config", "merge: --out DIR is required");
  if (positionals.length === 0) throw new PrecopyError("config", "merge: give the shard folders");
  let plan: StudyPlan | null = null;
  const lines = new Map<number, string>();
  const failed = new Map<number, { index: number; message: string }>();
  for (const dir of positionals) {
    let sf: StudyFile;
    try {
      sf = JSON.parse(Deno.readTextFileSync(`${dir}/study.json`));
    } catch (e) {
      throw new PrecopyError("config", `merge: ${dir}/study.json: ${(e as Error).message}`);
    }
    if (plan && sf.hash !== plan.hash) {
      throw new PrecopyError(
        "config",
        `merge: ${dir} holds study ${sf.hash}, the others ${plan.hash}`,
      );
    }
    plan ??= sf.plan;
    for (const [i, line] of readDone(dir, sf.hash)) {
      const had = lines.get(i);
      if (had !== undefined && had !== line) {
        throw new PrecopyError("config", `merge: run ${i} differs between shards (${dir})`);
      }
      lines.set(i, line);
    }
    try {
      for (const l of Deno.readTextFileSync(`${dir}/failures.jsonl`).split("\n")) {
        if (l.trim()) {
          const f = JSON.parse(l);
          failed.set(f.index, f);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const missing = plan!.runs.filter((r) => !lines.has(r.index) && !failed.has(r.index));
  if (missing.length) {
    throw new PrecopyError(
      "config",
      `merge: the folders hold ${plan!.runs.length - missing.length} of ${
        plan!.runs.length
      } runs; missing e.g. run ${missing[0].index} (${
        describeRun(plan!, missing[0])
      }) — is a shard missing or unfinished?`,
    );
  }
  Deno.mkdirSync(v.out, { recursive: true });
  writeFileAtomic(
    `${v.out}/study.json`,
    JSON.stringify({ hash: plan!.hash, shard: null, plan }) + "\n",
  );
  const out = await writeOutputs(plan!, lines, [...failed.values()], v.out, true);
  io.out(out!.screen);
  if (v.tables) io.out("\n" + out!.tables);
  if (!v.quiet) {
    io.err(`merged ${positionals.length} folder(s), ${lines.size} runs, into ${v.out}\n`);
  }
  if (out!.violations.length) {
    reportViolations(out!.violations, io);
    return 1;
  }
  return failed.size ? 2 : 0;
}

if (import.meta.main) await runMain((args, io) => runStudy(args, io));
