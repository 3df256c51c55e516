/**
 * `deno task bench`: every policy in `policies/` × every workload in
 * `fixtures/workloads.json` × `clear=send` and `clear=round` × two stop regimes:
 *
 * - `qemu` — QEMU's rule (`iteration=qemu`, 300 ms limit, 30 rounds): a converging run
 *   pauses as soon as the pending bytes fit, so downtime sits just under the limit and
 *   policies differ in rounds, pages sent and total time;
 * - `xen` — Xen's forced switchover (5 rounds, or fewer than 50 frames pending, no
 *   bandwidth rule): downtime is what is left after round 5, so downtime differs.
 *
 * Prints a table per workload, writes `results.json` and `results.csv` to `--out`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type BrokenPolicy,
  type ConfigInput,
  formatDuration,
  formatTable,
  type LoadedPolicy,
  type MigrationConfig,
  parseWorkload,
  PrecopyError,
  REPORT_COLUMNS,
  reportRow,
  type RunReport,
  scanPolicies,
  simulate,
  toCsv,
} from "../mod.ts";
import { reportError, stdio } from "../harness/cli/kit.ts";
import { configFromFlags } from "../harness/cli/sim.ts";
import { isTraceSpec } from "../harness/trace/trace.ts";
import { TRACKER_KINDS } from "../harness/trackers/tracker.ts";

/** A stop regime of the matrix. */
export interface Regime {
  /** Short name used in tables and files. */
  name: string;
  /** What it models. */
  description: string;
  /** Configuration it sets. */
  config: ConfigInput;
}

/** The two regimes DESIGN.md asks the bench to show. */
export const REGIMES: readonly Regime[] = [
  {
    name: "qemu",
    description: "QEMU: re-sync at threshold, pause when pending < bandwidth × 300 ms",
    config: { iteration: "qemu", downtimeLimitNs: 300e6, maxRounds: 30 },
  },
  {
    name: "xen",
    description: "Xen: forced after 5 rounds or < 50 frames pending",
    config: { iteration: "drain", downtimeLimitNs: 0, maxRounds: 5, minPending: 50 },
  },
];

/** The clear modes the matrix runs. */
export const CLEARS: readonly MigrationConfig["clear"][] = ["send", "round"];

/** One named workload of `fixtures/workloads.json`. */
export interface FixtureWorkload {
  /** Short name. */
  name: string;
  /** Generator spec or trace path (relative to the fixtures folder). */
  spec: string;
  /** What it is. */
  description: string;
  /** Guest memory override. */
  memory?: string;
  /** Link rate override. */
  bandwidth?: string;
  /** When migration starts (trace time); the profiler runs before it. */
  start?: string;
}

/** The fixture file's shape. */
export interface Fixtures {
  /** Default guest memory. */
  memory: string;
  /** Default link rate. */
  bandwidth: string;
  /** The workloads. */
  workloads: FixtureWorkload[];
}

const FIXTURES = new URL("../fixtures/workloads.json", import.meta.url);

/**
 * Reads and checks `fixtures/workloads.json`.
 *
 * @param url the file (default: this project's)
 * @returns the fixtures
 * @throws {PrecopyError} naming the file and the problem
 */
export function readFixtures(url: URL = FIXTURES): Fixtures {
  let f: Fixtures;
  try {
    f = JSON.parse(Deno.readTextFileSync(url));
  } catch (e) {
    throw new PrecopyError("config", `${url.pathname}: ${(e as Error).message}`);
  }
  if (
    !Array.isArray(f.workloads) || typeof f.memory !== "string" || typeof f.bandwidth !== "string"
  ) {
    throw new PrecopyError("config", `${url.pathname}: needs memory, bandwidth and workloads[]`);
  }
  for (const w of f.workloads) {
    if (typeof w.name !== "string" || typeof w.spec !== "string") {
      throw new PrecopyError("config", `${url.pathname}: every workload needs a name and a spec`);
    }
  }
  return f;
}

/** One cell of the matrix. */
export interface Job {
  /** Workload fixture. */
  workload: FixtureWorkload;
  /** Policy. */
  policy: LoadedPolicy;
  /** Clear mode. */
  clear: MigrationConfig["clear"];
  /** Stop regime. */
  regime: Regime;
}

/** A finished cell. */
export interface Result {
  /** Workload fixture name. */
  workload: string;
  /** Regime name. */
  regime: string;
  /** The run's report. */
  report: RunReport;
}

const HELP = `precopy-lab bench — every policy on every fixture workload

usage: deno task bench [options]

  --policy NAME      only this policy (repeatable)
  --workload NAME    only this fixture workload (repeatable)
  --memory SIZE      guest memory for every workload            [fixtures: 256MiB]
  --bandwidth RATE   link rate for every workload               [fixtures: 128MiB/s]
  --seed N           seed                                          [1]
  --out DIR          where results.json and results.csv go         [bench/results]
  --json             print the results as JSON on stdout instead of tables
  -h, --help         this text

Runs policies/*.ts x fixtures/workloads.json x clear=send,round x regimes:
${REGIMES.map((r) => `  ${r.name.padEnd(6)} ${r.description}`).join("\n")}
In each table, * marks the lowest downtime and + the fewest pages sent among the
non-bound policies of that clear mode and regime; bounds (oracles) are listed last.
Then the profiling-overhead comparison: uniform-light, hotcold and gcc profiled for 5s
by every tracker (${"ept-ad, wp, pml, dirty-ring"}), written to profiling.json too.
`;

function cellTable(results: Result[]): string {
  const rows: string[][] = [];
  const contenders = results.filter((r) => !r.report.policy.oracle);
  const best = (f: (r: RunReport) => number) => Math.min(...contenders.map((r) => f(r.report)));
  const bestDown = best((r) => r.downtimeNs);
  const bestPages = best((r) => r.pagesSent);
  const sorted = [...results].sort((a, b) =>
    Number(a.report.policy.oracle) - Number(b.report.policy.oracle)
  );
  for (const { report: r } of sorted) {
    const mark = r.policy.oracle
      ? " (bound)"
      : `${r.downtimeNs === bestDown ? " *" : ""}${r.pagesSent === bestPages ? " +" : ""}`;
    rows.push([
      r.policy.name + mark,
      formatDuration(r.downtimeNs),
      formatDuration(r.totalTimeNs),
      r.pagesSent.toLocaleString("en-US"),
      r.necessaryResends.toLocaleString("en-US"),
      r.redundantResends.toLocaleString("en-US"),
      String(r.rounds),
      r.switchover,
    ]);
  }
  return formatTable(
    [
      "policy",
      "downtime",
      "total time",
      "pages sent",
      "nec. resends",
      "red. resends",
      "rounds",
      "switchover",
    ],
    rows,
  );
}

/**
 * Formats the matrix: a section per workload, a table per clear mode and regime.
 *
 * @param results the finished cells
 * @param fixtures the workloads, for descriptions
 * @returns text for a terminal
 */
export function formatMatrix(results: Result[], fixtures: FixtureWorkload[]): string {
  const out: string[] = [];
  for (const w of fixtures) {
    const mine = results.filter((r) => r.workload === w.name);
    if (mine.length === 0) continue;
    const c = mine[0].report.config;
    out.push(
      `== ${w.name}: ${w.spec}  (${w.description}; ${c.pages.toLocaleString("en-US")} frames)`,
    );
    for (const regime of REGIMES) {
      for (const clear of CLEARS) {
        const cell = mine.filter((r) =>
          r.regime === regime.name && r.report.config.clear === clear
        );
        if (cell.length === 0) continue;
        out.push(`-- regime ${regime.name}, clear=${clear}`, cellTable(cell), "");
      }
    }
  }
  return out.join("\n");
}

/**
 * Runs the matrix.
 *
 * @param jobs the cells to run
 * @param base configuration shared by every cell
 * @param onDone called after each cell (for progress)
 * @param failures when given, a run a policy fails is recorded here (one line: file and
 * reason), that policy's other cells are skipped, and the rest go on; else it throws
 * @returns the results in job order
 */
export function runMatrix(
  jobs: Job[],
  base: ConfigInput,
  onDone?: (i: number, job: Job) => void,
  failures?: BrokenPolicy[],
): Result[] {
  const failed = new Set<LoadedPolicy>();
  const out: Result[] = [];
  jobs.forEach((job, i) => {
    const f = job.workload;
    if (failed.has(job.policy)) return void onDone?.(i, job);
    const flags = configFromFlags({ memory: f.memory, bandwidth: f.bandwidth, start: f.start });
    const spec = isTraceSpec(f.spec) ? new URL(f.spec, FIXTURES).pathname : f.spec;
    let report: RunReport;
    try {
      report = simulate({
        workload: parseWorkload(spec),
        policy: job.policy,
        config: { ...flags, ...base, clear: job.clear, ...job.regime.config },
      });
    } catch (e) {
      if (!failures || !(e instanceof PrecopyError && e.kind === "policy")) throw e;
      failed.add(job.policy);
      failures.push({
        file: job.policy.file,
        reason: `${e.message} (${f.name}, clear=${job.clear}, ${job.regime.name})`,
      });
      return void onDone?.(i, job);
    }
    onDone?.(i, job);
    out.push({ workload: f.name, regime: job.regime.name, report });
  });
  return out;
}

/** Workloads of the profiling-overhead comparison (those present in the fixtures). */
const PROFILED = ["uniform-light", "hotcold", "gcc"];
/** How long each is profiled before migration starts. */
const PROFILE_SPAN = "5s";

/** One tracker profiling one workload. */
export interface OverheadRow {
  /** Fixture name. */
  workload: string;
  /** Tracker kind. */
  tracker: string;
  /** Profiled span, ns. */
  spanNs: number;
  /** The tracking costs over that span. */
  profiling: RunReport["profiling"];
}

/**
 * The paper's second claim, measured: the same workloads profiled for the same span at
 * the same interval by every tracker; guest slowdown, exits and host CPU side by side.
 *
 * @param fixtures the fixture workloads (those named in PROFILED are used)
 * @param base shared configuration
 * @param policy any policy (the migration after the profiled span is not reported)
 * @returns one row per workload and tracker
 */
export function profilingOverhead(
  fixtures: FixtureWorkload[],
  base: ConfigInput,
  policy: LoadedPolicy,
): OverheadRow[] {
  const rows: OverheadRow[] = [];
  for (const f of fixtures.filter((w) => PROFILED.includes(w.name))) {
    for (const tracker of TRACKER_KINDS) {
      const [r] = runMatrix(
        [{ workload: { ...f, start: PROFILE_SPAN }, policy, clear: "round", regime: REGIMES[1] }],
        { ...base, tracker },
      );
      rows.push({
        workload: f.name,
        tracker,
        spanNs: r.report.config.startNs,
        profiling: r.report.profiling,
      });
    }
  }
  return rows;
}

/**
 * Formats the profiling-overhead comparison.
 *
 * @param rows the rows
 * @returns text for a terminal
 */
export function formatOverhead(rows: OverheadRow[]): string {
  if (rows.length === 0) return "";
  return `== profiling overhead: each workload profiled for ${PROFILE_SPAN} at the same interval by every tracker\n` +
    formatTable(
      ["workload", "tracker", "exits", "guest overhead", "guest slowdown", "host CPU", "flushes"],
      rows.map((r) => [
        r.workload,
        r.tracker,
        r.profiling.exits.toLocaleString("en-US"),
        formatDuration(r.profiling.guestOverheadNs),
        `${r.profiling.slowdownPct.toFixed(3)}%`,
        formatDuration(r.profiling.hostCpuNs),
        r.profiling.flushes.toLocaleString("en-US"),
      ]),
    ) + "\n";
}

/**
 * Command-line entry.
 *
 * @param args arguments
 * @returns exit status
 */
export async function main(args: string[]): Promise<number> {
  const io = stdio, err = stdio.err;
  try {
    const { values: v, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        policy: { type: "string", multiple: true },
        workload: { type: "string", multiple: true },
        memory: { type: "string" },
        bandwidth: { type: "string" },
        seed: { type: "string" },
        out: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (positionals.length) {
      throw new PrecopyError("config", `unexpected argument '${positionals[0]}' (see --help)`);
    }
    if (v.help) {
      io.out(HELP);
      return 0;
    }
    const fixtures = readFixtures();
    const base = configFromFlags({ memory: v.memory, bandwidth: v.bandwidth, seed: v.seed });
    const scan = await scanPolicies();
    const failures: BrokenPolicy[] = [...scan.broken];
    let policies = scan.policies;
    if (v.policy) {
      const unknown = v.policy.filter((n) => !policies.some((p) => p.definition.meta.name === n));
      if (unknown.length) {
        throw new PrecopyError("config", `--policy: no policy named ${unknown.join(", ")}`);
      }
      policies = policies.filter((p) => v.policy!.includes(p.definition.meta.name));
    }
    let workloads = fixtures.workloads;
    if (v.workload) {
      const unknown = v.workload.filter((n) => !workloads.some((w) => w.name === n));
      if (unknown.length) {
        throw new PrecopyError(
          "config",
          `--workload: no fixture named ${unknown.join(", ")}; fixtures: ${
            workloads.map((w) => w.name).join(", ")
          }`,
        );
      }
      workloads = workloads.filter((w) => v.workload!.includes(w.name));
    }
    const withDefaults = workloads.map((w) => ({
      memory: fixtures.memory,
      bandwidth: fixtures.bandwidth,
      ...w,
    }));
    const jobs: Job[] = [];
    for (const workload of withDefaults) {
      for (const regime of REGIMES) {
        for (const clear of CLEARS) {
          for (const policy of policies) jobs.push({ workload, policy, clear, regime });
        }
      }
    }
    const t0 = performance.now();
    const results = runMatrix(jobs, base, (i, j) => {
      const line = `[${
        String(i + 1).padStart(3)
      }/${jobs.length}] ${j.workload.name} · ${j.policy.definition.meta.name} · clear=${j.clear} · ${j.regime.name}`;
      if (io.interactive) err(`\r\x1b[K${line}`);
      else if ((i + 1) % Math.max(1, Math.round(jobs.length / 10)) === 0 || i + 1 === jobs.length) {
        err(`${line}\n`);
      }
    }, failures);
    if (io.interactive) err("\r\x1b[K");
    const outDir = v.out ?? new URL("./results", import.meta.url).pathname;
    const records = results.map((r) => ({ fixture: r.workload, regime: r.regime, ...r.report }));
    Deno.mkdirSync(outDir, { recursive: true });
    Deno.writeTextFileSync(`${outDir}/results.json`, JSON.stringify(records, null, 1) + "\n");
    Deno.writeTextFileSync(
      `${outDir}/results.csv`,
      toCsv(
        ["fixture", "regime", ...REPORT_COLUMNS],
        results.map((r) => ({ fixture: r.workload, regime: r.regime, ...reportRow(r.report) })),
      ),
    );
    const overhead = profilingOverhead(withDefaults, base, policies[0]);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    Deno.writeTextFileSync(`${outDir}/profiling.json`, JSON.stringify(overhead, null, 1) + "\n");
    if (v.json) io.out(JSON.stringify({ runs: records, profiling: overhead }) + "\n");
    else io.out(formatMatrix(results, withDefaults) + "\n" + formatOverhead(overhead) + "\n");
    err(
      `${jobs.length} runs (${policies.length} policies × ${withDefaults.length} workloads × ${CLEARS.length} clear modes × ${REGIMES.length} regimes) and ${overhead.length} profiling runs in ${secs} s; results in ${outDir}/results.{json,csv}, profiling.json\n`,
    );
    // Failures stay with the failing file: one line each, and a non-zero status at the end.
    for (const b of failures) err(`failed: ${b.reason}\n`);
    return failures.length > 0 ? 2 : 0;
  } catch (e) {
    return reportError(e, io);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
