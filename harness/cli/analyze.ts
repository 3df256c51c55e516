/**
 * `deno task analyze`: describe a trace or generator the way a migration engineer thinks
 * about it. A table by default, the analysis object with `--json`.
 *
 * @module
 */

import { type Analysis, analyzeWorkload } from "../workloads/analyze.ts";
import { type CliIo, parseFlags, reportError, runMain, stdio } from "./kit.ts";
import { configFromFlags } from "../config.ts";
import { PrecopyError } from "../errors.ts";
import { parseFit, type RateClass } from "../workloads/fit.ts";
import { formatTable } from "../report/report.ts";
import { formatBytes, formatDuration, parseDuration } from "../units.ts";
import { budgetedWorkload, DEFAULT_MAX_EVENTS, parseMaxEvents } from "../engine/budget.ts";
import { parseWorkload } from "../workloads/spec.ts";

/** The `--help` text of `deno task analyze`. */
export const ANALYZE_HELP: string =
  `precopy-lab analyze — what a workload means for pre-copy migration

usage: deno task analyze TRACE|SPEC [options]

  --memory SIZE | --pages N   guest size (a trace: its own frames; a generator: 1GiB)
  --duration T                span to analyse (a trace: all of it; a generator: 10s, or
                              longer if the first round would take longer)
  --bandwidth RATE            link rate for the prediction                     [128MiB/s]
  --downtime-limit T          downtime limit for the prediction                   [300ms]
  --seed N                    seed for generators                                     [1]
  --fit                       (a trace) also fit a generator to it and compare the curves;
                              the fit drives any guest as --workload fit:TRACE[,memory=SIZE]
  --json                      the analysis object instead of tables
  --max-events N              the analysis's budget of accesses; past it, an error     [1G]

Reports write rate over time, frames touched, the writable-working-set curve N(t) (mean
distinct frames written in a window of length t), hot/cold skew, and the convergence
that N(t) predicts (QEMU's predictor: each round sends N(previous round's length)).
`;

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const num = (x: number) => Math.round(x).toLocaleString("en-US");

/**
 * Formats an analysis as tables.
 *
 * @param a the analysis
 * @returns text for a terminal
 */
export function formatAnalysis(a: Analysis): string {
  const p = a.prediction;
  const out = [
    `workload   ${a.workload}`,
    `guest      ${num(a.frames)} frames (${num(a.zeroFrames)} zero at the start), span ${
      formatDuration(a.durationNs)
    }`,
    `writes     ${num(a.writes)} (${num(a.writeRate)}/s) of ${num(a.accesses)} accesses`,
    `touched    ${num(a.framesWritten)} frames written, ${num(a.framesAccessed)} accessed`,
    `skew       hottest 1% of frames take ${pct(a.skew.hottest1)} of writes, 5% take ${
      pct(a.skew.hottest5)
    }, 20% take ${pct(a.skew.hottest20)}`,
    "",
    "writable working set N(t):",
    formatTable(
      ["window t", "frames N(t)", "share of guest", "dirty rate"],
      a.workingSet.map((w) => [
        formatDuration(w.windowNs),
        num(w.frames),
        pct(w.frames / a.frames),
        `${formatBytes(w.frames * 4096 / (w.windowNs / 1e9))}/s`,
      ]),
    ),
    "",
    "write rate over time:",
    formatTable(
      ["from", "writes/s"],
      a.writeRateOverTime.map((b) => [formatDuration(b.startNs), num(b.writesPerSecond)]),
    ),
    "",
    `prediction at ${formatBytes(p.bandwidth)}/s, limit ${formatDuration(p.downtimeLimitNs)}: ${
      p.converges ? "converges" : "does not converge (forced after 30 rounds)"
    } after ${p.rounds} round(s); downtime ${formatDuration(p.downtimeNs)}, total ${
      formatDuration(p.totalTimeNs)
    }`,
    `frames per round: ${p.roundFrames.map(num).join(" → ")} (last: stop-and-copy)`,
  ];
  return out.join("\n") + "\n";
}

/** How a fitted generator's working set compares with the trace's. */
export interface FitComparison {
  /** The trace's stamping tick, ns (0: continuous). */
  quantumNs: number;
  /** The fitted classes. */
  classes: RateClass[];
  /** Per measured window: the trace's N(t), the fitted generator's, and the error. */
  comparison: { windowNs: number; measured: number; fitted: number; errorPct: number }[];
}

/**
 * Formats a fit comparison as a table.
 *
 * @param f the comparison
 * @returns text for a terminal
 */
export function formatFit(f: FitComparison): string {
  const worst = Math.max(...f.comparison.map((c) => Math.abs(c.errorPct)));
  return "\n" +
    `fitted generator: ${f.classes.length} sweep classes${
      f.quantumNs ? `, writes stamped every ${formatDuration(f.quantumNs)} like the trace` : ""
    }; largest error ${worst.toFixed(1)}%\n` +
    formatTable(
      ["window t", "trace N(t)", "fitted N(t)", "error"],
      f.comparison.map((c) => [
        formatDuration(c.windowNs),
        num(c.measured),
        num(c.fitted),
        `${c.errorPct >= 0 ? "+" : ""}${c.errorPct.toFixed(1)}%`,
      ]),
    ) + "\n";
}

/**
 * Runs `analyze` with the given arguments.
 *
 * @param args command-line arguments
 * @param io output sinks
 * @returns the exit status (0 ok, 2 bad input, 1 internal error)
 *
 * @example Usage
 * ```ts
 * import { runAnalyze } from "./analyze.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const io = { out: (t: string) => { out += t; }, err: () => {}, interactive: false };
 * assert.equal(await runAnalyze(["uniform:rate=1k", "--pages", "64", "--duration", "1s", "--json"], io), 0);
 * assert.equal(JSON.parse(out).writes, 1000);
 * ```
 */
export function runAnalyze(args: string[], io: CliIo = stdio): Promise<number> {
  try {
    const { values: v, positionals } = parseFlags({
      args,
      allowPositionals: true,
      options: {
        memory: { type: "string" },
        pages: { type: "string" },
        duration: { type: "string" },
        bandwidth: { type: "string" },
        "downtime-limit": { type: "string" },
        seed: { type: "string" },
        fit: { type: "boolean" },
        json: { type: "boolean" },
        "max-events": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      io.out(ANALYZE_HELP);
      return Promise.resolve(0);
    }
    if (positionals.length !== 1) {
      throw new PrecopyError(
        "config",
        "analyze: give one trace file or generator spec (see --help)",
      );
    }
    const c = configFromFlags(v);
    const maxEvents = v["max-events"] === undefined
      ? DEFAULT_MAX_EVENTS
      : parseMaxEvents(v["max-events"], "--max-events");
    const workload = budgetedWorkload(parseWorkload(positionals[0]), maxEvents, "the analysis");
    const pages = c.pages ?? (workload.kind === "trace" ? workload.minPages : 262144);
    const bandwidth = c.bandwidth ?? 128 * 1024 * 1024;
    // A generator is analysed long enough to cover the first round (every frame sent).
    const firstRound = pages * 4104 / bandwidth * 1e9;
    const durationNs = v.duration !== undefined
      ? parseDuration(v.duration, "--duration")
      : workload.kind === "trace"
      ? undefined
      : Math.max(10e9, Math.ceil(1.25 * firstRound / 1e9) * 1e9);
    const a = analyzeWorkload(workload, {
      pages,
      durationNs,
      seed: c.seed,
      bandwidth,
      downtimeLimitNs: c.downtimeLimitNs,
    });
    let fit: FitComparison | undefined;
    if (v.fit) {
      if (workload.kind !== "trace") throw new PrecopyError("config", "--fit needs a trace file");
      const f = parseFit(positionals[0]);
      const fa = analyzeWorkload(budgetedWorkload(f, maxEvents, "the fit's analysis"), {
        pages: f.minPages,
        durationNs: a.durationNs,
        seed: c.seed,
      });
      fit = {
        quantumNs: f.model.quantumNs,
        classes: f.model.classes,
        comparison: a.workingSet.map((p, i) => ({
          windowNs: p.windowNs,
          measured: p.frames,
          fitted: fa.workingSet[i].frames,
          errorPct: p.frames ? 100 * (fa.workingSet[i].frames / p.frames - 1) : 0,
        })),
      };
    }
    if (v.json) io.out(JSON.stringify(fit ? { ...a, fit } : a) + "\n");
    else io.out(formatAnalysis(a) + (fit ? formatFit(fit) : ""));
    return Promise.resolve(0);
  } catch (e) {
    return Promise.resolve(reportError(e, io));
  }
}

if (import.meta.main) await runMain(runAnalyze);
