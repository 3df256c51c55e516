/**
 * `deno task sim`: one migration from the command line. A table by default, the report
 * object with `--json` (on stdout; progress and errors go to stderr).
 *
 * @module
 */

import {
  configFlagRows,
  configFromFlags,
  configOptions,
  flagHelp,
  type FlagRow,
} from "../config.ts";
import { DEFAULT_MAX_EVENTS, simulate } from "../engine/engine.ts";
import { parseMaxEvents } from "../engine/budget.ts";
import { PrecopyError } from "../errors.ts";
import { type CliIo, parseFlags, reportError, runMain, stdio } from "./kit.ts";
import { loadPolicy, scanPolicies } from "../policy/loader.ts";
import type { LoadedPolicy } from "../policy/contract.ts";
import { formatReport } from "../report/report.ts";
import { formatDuration, parseDuration } from "../units.ts";
import { DEFAULT_POLICY_TIMEOUT_MS } from "../policy/sandbox.ts";
import { describeGenerators } from "../workloads/workload.ts";
import { parseWorkload } from "../workloads/spec.ts";

/** The flags of `sim` beside the configuration's: what runs, and how the result shows. */
interface RunFlag {
  /** Flag name without dashes. */
  name: string;
  /** parseArgs type. */
  type: "string" | "boolean";
  /** Its argument in `--help`. */
  arg?: string;
  /** What it does. */
  help: string;
  /** Its default as shown. */
  default?: string;
  /** Repeatable. */
  multiple?: boolean;
  /** One-letter spelling. */
  short?: string;
  /** Listed after the configuration's flags. */
  last?: boolean;
}

const DEFAULT_POLICY = "sequential";
const DEFAULT_WORKLOAD = "uniform";

const RUN_FLAGS: readonly RunFlag[] = [
  {
    name: "policy",
    type: "string",
    arg: "NAME|PATH",
    help: "a policy from policies/ by name, or any policy file",
    default: DEFAULT_POLICY,
  },
  {
    name: "param",
    type: "string",
    arg: "k=v",
    help: "a policy parameter (repeatable)",
    default: "the policy's defaults",
    multiple: true,
  },
  {
    name: "policy-timeout",
    type: "string",
    arg: "T",
    help: "time budget of each call into the (sandboxed) policy; past it the run ends",
    default: `${DEFAULT_POLICY_TIMEOUT_MS / 1000}s`,
  },
  {
    name: "workload",
    type: "string",
    arg: "SPEC|PATH",
    help: "generator spec name[:k=v,...], or a trace file (.pctrace, .csv, .jsonl)",
    default: DEFAULT_WORKLOAD,
  },
  {
    name: "max-events",
    type: "string",
    arg: "N",
    help: "the run's budget: accesses, sends and offered frames (256 per profiling scan and " +
      "per round); past it the run ends with an error",
    default: "1G",
  },
  {
    name: "json",
    type: "boolean",
    help: "print the report object instead of the table",
    last: true,
  },
  { name: "quiet", type: "boolean", help: "no progress on stderr", last: true },
  { name: "list", type: "boolean", help: "list policies and workload generators", last: true },
  { name: "help", type: "boolean", help: "this text", short: "h", last: true },
];

const OPTIONS = {
  ...configOptions(),
  ...Object.fromEntries(RUN_FLAGS.map((f) => [f.name, {
    type: f.type,
    ...(f.multiple ? { multiple: true } : {}),
    ...(f.short ? { short: f.short } : {}),
  }])),
};

function runRows(last: boolean): FlagRow[] {
  return RUN_FLAGS.filter((f) => (f.last === true) === last).map((f) => ({
    flags: `${f.short ? `-${f.short}, ` : ""}--${f.name}${f.arg ? ` ${f.arg}` : ""}`,
    help: f.help,
    default: f.default,
  }));
}

/**
 * Every flag of `sim`, in the order of `--help`: the run's, the configuration's (from the
 * table of configuration items), then the output's.
 *
 * @returns the rows
 *
 * @example Usage
 * ```ts
 * import { simFlagRows } from "./sim.ts";
 * import assert from "node:assert/strict";
 * const rows = simFlagRows();
 * assert.equal(rows[0].flags, "--policy NAME|PATH");
 * assert.ok(rows.some((r) => r.flags === "--ring-entries N" && r.default === "4096"));
 * ```
 */
export function simFlagRows(): FlagRow[] {
  return [...runRows(false), ...configFlagRows(), ...runRows(true)];
}

/** What `mix` is, for `--help` and `--list` (it has no defaults of its own). */
const MIX_HELP = "several at once: mix:uniform(rate=2k)+hotcold(rate=20k)";

/** The `--help` text of `deno task sim`, generated from the flag tables. */
export const SIM_HELP: string =
  `precopy-lab sim — run one pre-copy live migration and report its cost

usage: deno task sim [options]

${flagHelp(simFlagRows())}
Sizes take KiB MiB GiB (and KB MB GB), times ns us ms s, rates MB/s MiB/s Gbit/s ...,
counts k M G suffixes (docs/cli.md).
Generators (every one also takes footprint=SIZE|P%, zero=P%, reads=RATE):
${
    describeGenerators().map(([n, d, p]) =>
      `  ${n.padEnd(11)} ${d}${p ? `\n              defaults: ${p}` : ""}`
    )
      .join("\n")
  }
  ${"mix".padEnd(11)} ${MIX_HELP}

Examples:
  deno task sim --workload hotcold:rate=20k,hot=5% --policy staged-history
  deno task sim --memory 4GiB --bandwidth 1Gbit/s --clear round --json > run.json
`;

/** Parsed `--param k=v` flags. */
function parseParamFlags(list: string[] | undefined): Record<string, string> {
  // No prototype: a key such as __proto__ or constructor is just an unknown parameter.
  const out: Record<string, string> = Object.create(null);
  for (const kv of list ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new PrecopyError("config", `--param: '${kv}' is not k=v`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/**
/**
 * Refuses a flag that would change nothing, so that a run is not read as showing its
 * effect (docs/cli.md): `--count-missed` without `--no-flush` (a flushed run misses no
 * write, so there is nothing to count).
 */
function checkEffective(v: Record<string, unknown>): void {
  if (v["count-missed"] && !v["no-flush"]) {
    throw new PrecopyError(
      "config",
      "--count-missed has an effect only with --no-flush (a flushed run misses no write)",
    );
  }
}

/** `--list`'s label: what a policy claims (docs/bounds.md). */
function policyLabel(
  m: { oracle?: boolean; bound?: { quantity: string; regimes: readonly unknown[] } },
): string {
  if (m.bound) {
    const n = m.bound.regimes.length;
    return `[future-informed; bound on ${m.bound.quantity} in ${n} regime${n === 1 ? "" : "s"}] `;
  }
  return m.oracle ? "[future-informed heuristic] " : "";
}

/**
 * Runs `sim` with the given arguments.
 *
 * @param args command-line arguments (without the program name)
 * @param io output sinks (default: the process's stdout and stderr)
 * @returns the exit status (0 ok, 2 bad input, 1 internal error)
 *
 * @example Usage
 * ```ts
 * import { runSim } from "./sim.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const io = { out: (t: string) => { out += t; }, err: () => {}, interactive: false };
 * assert.equal(await runSim(["--pages", "64", "--workload", "idle", "--json"], io), 0);
 * assert.equal(JSON.parse(out).pagesSent, 64);
 * ```
 */
export async function runSim(args: string[], io: CliIo = stdio): Promise<number> {
  let policy: LoadedPolicy | undefined;
  try {
    const { values: v, positionals } = parseFlags({
      args,
      options: OPTIONS,
      allowPositionals: true,
    });
    if (positionals.length > 0) {
      throw new PrecopyError("config", `unexpected argument '${positionals[0]}' (see --help)`);
    }
    if (v.help) {
      io.out(SIM_HELP);
      return 0;
    }
    if (v.list) {
      const { policies: all, broken } = await scanPolicies();
      // A policy file given with --policy is listed too (it may live outside policies/).
      const given = v.policy as string | undefined;
      if (given !== undefined && /\/|\.[jt]s$/.test(given)) {
        try {
          const p = await loadPolicy(given);
          if (all.some((q) => q.file === p.file)) p.sandbox?.close();
          else all.push(p);
        } catch (e) {
          if (!(e instanceof PrecopyError)) throw e;
          broken.push({ file: given, reason: e.message });
        }
      }
      const generators: [string, string, string][] = [
        ...describeGenerators(),
        ["mix", MIX_HELP, ""],
      ];
      // One column for every name, however long.
      const w = Math.max(
        15,
        ...all.map((p) => p.definition.meta.name.length),
        ...generators.map(([n]) => n.length),
      );
      io.out("policies:\n");
      for (const p of all) {
        const m = p.definition.meta;
        const d = Object.entries(m.defaults).map(([k, x]) => `${k}=${x}`).join(",");
        io.out(
          `  ${m.name.padEnd(w)} ${policyLabel(m)}${m.description}${d ? ` (${d})` : ""}\n`,
        );
      }
      for (const b of broken) io.out(`  ${"[broken]".padEnd(w)} ${b.reason}\n`);
      for (const p of all) p.sandbox?.close();
      io.out("generators:\n");
      for (const [n, d, p] of generators) {
        io.out(`  ${n.padEnd(w)} ${d}${p ? ` (${p})` : ""}\n`);
      }
      return 0;
    }
    const config = configFromFlags(v);
    checkEffective(v);
    const timeout = v["policy-timeout"] as string | undefined;
    policy = await loadPolicy((v.policy as string | undefined) ?? DEFAULT_POLICY, {
      timeoutMs: timeout === undefined
        ? undefined
        : parseDuration(timeout, "--policy-timeout") / 1e6,
    });
    const workload = parseWorkload((v.workload as string | undefined) ?? DEFAULT_WORKLOAD);
    const maxEvents = v["max-events"] === undefined
      ? DEFAULT_MAX_EVENTS
      : parseMaxEvents(v["max-events"] as string, "--max-events");
    const progress = io.interactive && !v.quiet;
    let shownMs = -Infinity;
    const report = simulate({
      workload,
      policy,
      params: parseParamFlags(v.param as string[] | undefined),
      config,
      maxEvents,
      onProgress: progress
        ? (p) => {
          // every timed report, and round ends at most ten times a second
          const nowMs = performance.now();
          if (p.phase === "round-end" && nowMs - shownMs < 100) return;
          shownMs = nowMs;
          io.err(
            p.phase === "warm-up"
              ? `\r\x1b[K  warm-up: ${formatDuration(-p.elapsedNs)} before the migration starts`
              : `\r\x1b[K  round ${p.round}: ${p.pending.toLocaleString("en-US")} pending, ${
                p.pagesSent.toLocaleString("en-US")
              } sent, ${formatDuration(p.elapsedNs)} simulated`,
          );
        }
        : undefined,
    });
    if (progress) io.err("\r\x1b[K");
    for (const w of report.warnings) io.err(`warning: ${w}\n`);
    io.out(v.json ? JSON.stringify(report) + "\n" : formatReport(report) + "\n");
    return 0;
  } catch (e) {
    return reportError(e, io);
  } finally {
    policy?.sandbox?.close(); // its worker would outlive a library caller's run
  }
}

if (import.meta.main) await runMain(runSim);
