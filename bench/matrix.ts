/**
 * `deno task bench`: the default study, `fixtures/studies/bench.json` — every policy in
 * `policies/` × every workload in `fixtures/workloads.json` × `clear=send` and
 * `clear=round` × QEMU's and Xen's stop rules × 6 replicates, and the profiling-overhead
 * comparison of every tracker — run by the study runner. Its flags are shortcuts that
 * narrow or change that spec; anything else is a study spec of your own
 * (`deno task study`, docs/studies.md).
 *
 * @module
 */

import { resolve } from "node:path";

import { PrecopyError } from "../harness/errors.ts";
import { type CliIo, parseFlags, reportError, stdio } from "../harness/cli/kit.ts";
import { runStudy } from "../harness/cli/study.ts";
import { formatProfiling, type Summary } from "../harness/study/summary.ts";
import { formatDuration, parseInteger } from "../harness/units.ts";
import { type Crossover, findCrossover, type ScalableCost } from "../harness/report/crossover.ts";
import { configFromFlags } from "../harness/config.ts";
import { loadPolicy } from "../harness/policy/loader.ts";
import { parseWorkload } from "../harness/workloads/spec.ts";
import { isTraceSpec } from "../harness/trace/trace.ts";

/** The default study. */
export const BENCH_SPEC: URL = new URL("../fixtures/studies/bench.json", import.meta.url);

const HELP = `precopy-lab bench — the default study: every policy on every fixture workload

usage: deno task bench [options]

  --policy NAME|PATH  only this policy (repeatable; a path adds a policy file)
  --workload NAME     only this fixture workload (repeatable)
  --memory SIZE       guest memory for every workload            [fixtures: 256MiB]
  --bandwidth RATE    link rate for every workload               [fixtures: 128MiB/s]
  --clear MODE        only this clear mode                       [send and round]
  --tracker KIND      dirty tracking of the compared runs        [ept-ad]
  --seed N            first seed of the replicates               [1]
  --replicates N      replicates per cell                        [6]
  --jobs N            runs in parallel                           [the machine's cores]
  --out DIR           where the study's files go                 [bench/results]
  --resume            skip runs already in --out
  --tables            print the per-cell tables too
  --json              print summary.json on stdout instead of the screen
  --quiet             no progress on stderr
  -h, --help          this text

Runs fixtures/studies/bench.json (see docs/studies.md): per regime, each policy against
sequential (absolute and %) with 95 % intervals and paired tests, Pareto marks among
contenders, each cell's stop-copy floor (a proven lower bound) checked against every run,
the paper's claims as measured, then the profiling-overhead comparison of every tracker
and where the paper's claim would fail: the factor on ept-ad's scan-entry cost and on
wp's fault cost at which ept-ad's profiling costs as much as wp's. Both regimes add
device state and pause/resume (DOWNTIME_FLOORS: 512 KiB, 10 ms). The files in --out:
runs.jsonl, runs.csv, summary.json, report.html, tables.txt.
`;

/** Costs whose crossover the bench shows: ept-ad's scan entry against wp's fault. */
const CROSSOVER_COSTS: readonly ScalableCost[] = ["scanEntryNs", "wpFaultNs"];

/** Where the paper's second claim would fail on one profiled workload. */
export interface CrossoverRow {
  /** Fixture name. */
  workload: string;
  /** The factor on one cost at which ept-ad's profiling stops being cheaper than wp's. */
  crossover: Crossover;
}

/**
 * For each workload the bench profiles and each cost of CROSSOVER_COSTS, the factor at
 * which ept-ad's profiling (guest + host) costs as much as wp's, at the fixture's memory
 * and bandwidth over the profiled span.
 *
 * @param names fixture workloads to use (from the bench spec's `profiling.workloads`)
 * @param span the profiled span, as text (`5s`)
 * @returns one row per workload and cost
 *
 * @example Usage
 * ```ts ignore
 * const rows = await crossoverRows(["uniform-light"], "1s");
 * ```
 */
export async function crossoverRows(names: string[], span: string): Promise<CrossoverRow[]> {
  const fixturesUrl = new URL("../fixtures/workloads.json", import.meta.url);
  const fixtures = JSON.parse(Deno.readTextFileSync(fixturesUrl)) as {
    memory: string;
    bandwidth: string;
    workloads: { name: string; spec: string; memory?: string; bandwidth?: string }[];
  };
  const policy = await loadPolicy("sequential");
  const rows: CrossoverRow[] = [];
  for (const f of fixtures.workloads.filter((w) => names.includes(w.name))) {
    const config = configFromFlags({
      memory: f.memory ?? fixtures.memory,
      bandwidth: f.bandwidth ?? fixtures.bandwidth,
      start: span,
    });
    const spec = isTraceSpec(f.spec) ? new URL(f.spec, fixturesUrl).pathname : f.spec;
    for (const cost of CROSSOVER_COSTS) {
      const crossover = findCrossover({ workload: parseWorkload(spec), policy, config, cost });
      rows.push({ workload: f.name, crossover });
    }
  }
  return rows;
}

/**
 * Formats the crossover rows.
 *
 * @param rows the rows
 * @returns text for a terminal
 *
 * @example Usage
 * ```ts
 * import { formatCrossover } from "./matrix.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatCrossover([]), "");
 * ```
 */
export function formatCrossover(rows: CrossoverRow[]): string {
  if (rows.length === 0) return "";
  const ns = (v: number) => v < 1e3 ? `${Number(v.toPrecision(3))} ns` : formatDuration(v);
  const flip = (x: Crossover) =>
    x.factor === null
      ? `${x.cost} never flips (2^-20 … 2^20)`
      : `${x.cost} ×${Number(x.factor.toPrecision(3))} (${ns(x.atNs!)})`;
  // One line per workload: the bench's screen stays short.
  const byWorkload = new Map<string, Crossover[]>();
  for (const r of rows) {
    byWorkload.set(r.workload, [...byWorkload.get(r.workload) ?? [], r.crossover]);
  }
  const lines = [...byWorkload].map(([w, xs]) =>
    `  ${w}: ${xs[0].holds ? "ept-ad" : "wp"} is cheaper now; it flips at ${
      xs.map(flip).join(" or ")
    }`
  );
  return "== where the claim would fail (ept-ad's profiling costs as much as wp's, guest + host)\n" +
    lines.join("\n") + "\n";
}

/**
 * Command-line entry.
 *
 * @param args arguments
 * @param io output sinks
 * @returns exit status
 *
 * @example Usage
 * ```ts
 * import { main } from "./matrix.ts";
 * import assert from "node:assert/strict";
 * const io = { out: () => {}, err: () => {}, interactive: false };
 * assert.equal(await main(["--help"], io), 0);
 * ```
 */
export async function main(args: string[], io: CliIo = stdio): Promise<number> {
  try {
    const { values: v, positionals } = parseFlags({
      args,
      allowPositionals: true,
      options: {
        policy: { type: "string", multiple: true },
        workload: { type: "string", multiple: true },
        memory: { type: "string" },
        bandwidth: { type: "string" },
        clear: { type: "string" },
        tracker: { type: "string" },
        seed: { type: "string" },
        replicates: { type: "string" },
        jobs: { type: "string" },
        out: { type: "string" },
        resume: { type: "boolean" },
        tables: { type: "boolean" },
        json: { type: "boolean" },
        quiet: { type: "boolean" },
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
    const spec = JSON.parse(Deno.readTextFileSync(BENCH_SPEC));
    const overrides: Record<string, unknown> = {};
    const settings: Record<string, unknown> = {};
    if (v.memory !== undefined) settings.memory = v.memory;
    if (v.bandwidth !== undefined) settings.bandwidth = v.bandwidth;
    if (v.clear !== undefined) settings.clear = v.clear;
    if (v.tracker !== undefined) settings.tracker = v.tracker;
    if (Object.keys(settings).length) overrides.settings = settings;
    if (v.seed !== undefined || v.replicates !== undefined) {
      const first = v.seed === undefined ? 1 : parseInteger(v.seed, "--seed", 0, 0xffffffff);
      const count = v.replicates === undefined
        ? spec.replicates.seeds
        : parseInteger(v.replicates, "--replicates", 1, 10000);
      overrides.replicates = {
        ...spec.replicates,
        seeds: Array.from({ length: count }, (_, i) => first + i),
      };
    }
    const isPath = (p: string) => /[/]|\.ts$|\.js$/.test(p);
    // Files given on the command line are relative to the working folder.
    const paths = (v.policy ?? []).filter(isPath).map((p) => resolve(Deno.cwd(), p));
    if (paths.length) overrides.policies = ["all", ...paths];
    const out = v.out ?? new URL("./results", import.meta.url).pathname;
    const flags = ["--out", out];
    if (v.jobs !== undefined) flags.push("--jobs", v.jobs);
    if (v.resume) flags.push("--resume");
    if (v.tables) flags.push("--tables");
    if (v.quiet) flags.push("--quiet");
    return await runStudy([BENCH_SPEC.pathname, ...flags], io, {
      overrides,
      onlyPolicies: v.policy?.map((p) => (isPath(p) ? resolve(Deno.cwd(), p) : p)),
      onlyWorkloads: v.workload,
      json: v.json === true,
      after: async () => {
        const s: Summary = JSON.parse(Deno.readTextFileSync(`${out}/summary.json`));
        if (!s.profiling.length) return "";
        const names = [...new Set(s.profiling.map((r) => r.workload))];
        const crossover = await crossoverRows(names, spec.profiling?.span ?? "5s");
        return `\n== profiling overhead: each workload profiled for the same span at the same interval by every tracker\n${
          formatProfiling(s.profiling)
        }\n\n${formatCrossover(crossover)}`;
      },
    });
  } catch (e) {
    return reportError(e, io);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
